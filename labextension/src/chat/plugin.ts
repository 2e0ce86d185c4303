import {
  ILabShell,
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { INotebookTracker } from '@jupyterlab/notebook';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import {
  ITranslator,
  nullTranslator,
  TranslationBundle
} from '@jupyterlab/translation';

import { AgentController } from '../agent/controller';
import { autocoderIcon } from '../icons';
import { followSettings, readPanelSettings } from '../settings';
import {
  CommandIDs,
  DEFAULT_PANEL_SETTINGS,
  IAgentConnection,
  IAutoCoderPanel,
  IEngineModel,
  IPanelSettings,
  PLUGIN_ID,
  TRANSLATION_DOMAIN
} from '../tokens';
import { AutoCoderPanel } from './panel';

/**
 * The side panel: a conversation per notebook, Agent and Chat modes, the browser
 * executor of the agent, and its commands (open, stop, new conversation).
 * Its settings are the schema's (plugin.json), shared with the status poll.
 */
export const panelPlugin: JupyterFrontEndPlugin<IAutoCoderPanel> = {
  id: PLUGIN_ID,
  description: 'The AutoCoder side panel: chat and agent in the notebook.',
  autoStart: true,
  provides: IAutoCoderPanel,
  requires: [
    INotebookTracker,
    IRenderMimeRegistry,
    IEngineModel,
    IAgentConnection
  ],
  optional: [
    ISettingRegistry,
    ITranslator,
    ILayoutRestorer,
    ICommandPalette,
    ILabShell
  ],
  activate: (
    app: JupyterFrontEnd,
    tracker: INotebookTracker,
    rendermime: IRenderMimeRegistry,
    engine: IEngineModel,
    connection: IAgentConnection,
    settingRegistry: ISettingRegistry | null,
    translator: ITranslator | null,
    restorer: ILayoutRestorer | null,
    palette: ICommandPalette | null,
    labShell: ILabShell | null
  ): IAutoCoderPanel => {
    const trans = (translator ?? nullTranslator).load(TRANSLATION_DOMAIN);
    let settings: IPanelSettings = { ...DEFAULT_PANEL_SETTINGS };
    const controller = new AgentController({
      connection,
      tracker,
      settings: () => settings
    });
    const panel = new AutoCoderPanel({
      controller,
      engine,
      rendermime,
      trans,
      settings: () => settings
    });
    app.shell.add(panel, 'right', { rank: 600 });
    restorer?.add(panel, 'jupyter-autocoder-panel');
    followCurrentNotebook(panel, tracker);

    // The engine's catalogue, for the model picker.
    void app.restored.then(() => engine.refreshModels().catch(() => undefined));

    if (settingRegistry) {
      void followSettings(settingRegistry, loaded => {
        settings = readPanelSettings(loaded);
        panel.settingsChanged();
      });
    }

    addPanelCommands(app, { panel, controller, tracker, labShell, trans });
    if (palette) {
      const category = trans.__('AutoCoder');
      for (const command of [
        CommandIDs.openPanel,
        CommandIDs.stop,
        CommandIDs.newConversation
      ]) {
        palette.addItem({ command, category });
      }
    }
    return panel;
  }
};

/** The panel shows the conversation of the notebook in focus, and of the next one when it closes. */
function followCurrentNotebook(
  panel: AutoCoderPanel,
  tracker: INotebookTracker
): void {
  panel.setNotebook(tracker.currentWidget);
  tracker.currentChanged.connect((_, current) => {
    if (current) {
      panel.setNotebook(current);
    }
  });
  tracker.widgetAdded.connect((_, added) => {
    added.disposed.connect(() => {
      if (panel.notebook === added) {
        panel.setNotebook(tracker.currentWidget);
      }
    });
  });
}

/** The panel's commands take no arguments. */
const NO_ARGS = { args: { type: 'object' as const, properties: {} } };

/** What the panel's commands act on. */
interface IPanelParts {
  panel: AutoCoderPanel;
  controller: AgentController;
  tracker: INotebookTracker;
  labShell: ILabShell | null;
  trans: TranslationBundle;
}

/** Open the panel (Alt+Shift+A toggles it), stop its turn, start a new conversation. */
function addPanelCommands(app: JupyterFrontEnd, parts: IPanelParts): void {
  const { panel, controller, tracker, labShell, trans } = parts;
  const open = () => {
    app.shell.activateById(panel.id);
    panel.focusInput();
  };

  app.commands.addCommand(CommandIDs.openPanel, {
    label: trans.__('Open the AutoCoder Panel'),
    caption: trans.__('Chat with AutoCoder and let it write and run cells'),
    icon: autocoderIcon,
    describedBy: NO_ARGS,
    execute: () => {
      if (
        labShell &&
        panel.isVisible &&
        panel.node.contains(document.activeElement)
      ) {
        labShell.collapseRight();
        tracker.currentWidget?.content.activate();
        return;
      }
      open();
    }
  });

  app.commands.addCommand(CommandIDs.stop, {
    label: trans.__('Stop AutoCoder'),
    isEnabled: () => panel.running,
    describedBy: NO_ARGS,
    execute: () => panel.stop()
  });

  app.commands.addCommand(CommandIDs.newConversation, {
    label: trans.__('New AutoCoder Conversation'),
    isEnabled: () => !!panel.notebook,
    describedBy: NO_ARGS,
    execute: () => {
      const notebook = panel.notebook;
      if (notebook) {
        controller.startNew(notebook.context.path);
      }
      open();
    }
  });
}
