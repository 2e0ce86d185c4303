import {
  ILabShell,
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette, Notification } from '@jupyterlab/apputils';
import { CodeCell } from '@jupyterlab/cells';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { IStatusBar } from '@jupyterlab/statusbar';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';

import { AgentController } from './agent/controller';
import { AgentConnection } from './agent/connection';
import { errorOf, fixRequest } from './agent/context';
import { EngineModel } from './model/engine';
import { ErrorOutputButtons } from './fix/buttons';
import { autocoderIcon } from './icons';
import { AutoCoderPanel } from './chat/panel';
import { EngineStatusItem } from './model/status';
import {
  CommandIDs,
  DEFAULT_PANEL_SETTINGS,
  IAgentConnection,
  IEngineModel,
  IPanelSettings,
  PLUGIN_ID
} from './tokens';

const TRANSLATION_DOMAIN = 'jupyter_autocoder';

/** The model engine's status, polled once for every view. */
const enginePlugin: JupyterFrontEndPlugin<IEngineModel> = {
  id: 'jupyter-autocoder:engine',
  description: 'Polls the status of the AutoCoder model engine.',
  autoStart: true,
  provides: IEngineModel,
  optional: [ISettingRegistry],
  activate: (
    app: JupyterFrontEnd,
    settingRegistry: ISettingRegistry | null
  ): IEngineModel => {
    const engine = new EngineModel();
    const settingsLoaded = settingRegistry
      ? settingRegistry
          .load(PLUGIN_ID)
          .then(settings => {
            const apply = () => {
              engine.refreshSeconds = settings.get('statusRefreshSeconds')
                .composite as number;
            };
            apply();
            settings.changed.connect(apply);
          })
          .catch(reason => {
            console.warn('jupyter-autocoder: cannot load settings', reason);
          })
      : Promise.resolve();
    void Promise.all([app.restored, settingsLoaded]).then(() => engine.start());
    return engine;
  }
};

/** The WebSocket to the agent on the server. */
const connectionPlugin: JupyterFrontEndPlugin<IAgentConnection> = {
  id: 'jupyter-autocoder:connection',
  description: 'The WebSocket to the AutoCoder agent on the server.',
  autoStart: true,
  provides: IAgentConnection,
  activate: (app: JupyterFrontEnd): IAgentConnection => {
    const connection = new AgentConnection(app.serviceManager.serverSettings);
    // Opened early: the first Send should not wait for a handshake.
    void app.restored.then(() => connection.connect());
    return connection;
  }
};

/** The model's status in the status bar. */
const statusPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-autocoder:status',
  description: 'Shows the status of the AutoCoder model in the status bar.',
  autoStart: true,
  requires: [IEngineModel],
  optional: [IStatusBar, ITranslator],
  activate: (
    app: JupyterFrontEnd,
    engine: IEngineModel,
    statusBar: IStatusBar | null,
    translator: ITranslator | null
  ): void => {
    if (!statusBar) {
      return; // nowhere to show it (a front end without a status bar)
    }
    const trans = (translator ?? nullTranslator).load(TRANSLATION_DOMAIN);
    const item = new EngineStatusItem(trans);
    item.follow(engine);
    item.node.addEventListener('click', () => {
      void app.commands.execute(CommandIDs.openPanel);
    });
    statusBar.registerStatusItem('jupyter-autocoder:status', {
      item,
      align: 'left',
      rank: 900
    });
  }
};

/**
 * The side panel: a conversation per notebook, Agent and Chat modes, the browser
 * executor of the agent, and the commands (open, stop, new conversation, fix a cell).
 * Its settings are the schema's (plugin.json), shared with the status poll.
 */
const panelPlugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description: 'The AutoCoder side panel: chat and agent in the notebook.',
  autoStart: true,
  requires: [INotebookTracker, IRenderMimeRegistry, IEngineModel, IAgentConnection],
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
  ): void => {
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

    // The engine's catalogue, for the model picker.
    void app.restored.then(() =>
      engine.refreshModels().catch(() => undefined)
    );

    if (settingRegistry) {
      void settingRegistry
        .load(PLUGIN_ID)
        .then(loaded => {
          const apply = () => {
            settings = readSettings(loaded);
            panel.settingsChanged();
          };
          apply();
          loaded.changed.connect(apply);
        })
        .catch(reason => {
          console.warn('jupyter-autocoder: cannot load settings', reason);
        });
    }

    const open = () => {
      app.shell.activateById(panel.id);
      panel.focusInput();
    };

    app.commands.addCommand(CommandIDs.openPanel, {
      label: trans.__('Open the AutoCoder Panel'),
      caption: trans.__('Chat with AutoCoder and let it write and run cells'),
      icon: autocoderIcon,
      execute: () => {
        if (labShell && panel.isVisible && panel.node.contains(document.activeElement)) {
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
      execute: () => panel.stop()
    });

    app.commands.addCommand(CommandIDs.newConversation, {
      label: trans.__('New AutoCoder Conversation'),
      isEnabled: () => !!panel.notebook,
      execute: () => {
        const notebook = panel.notebook;
        if (notebook) {
          controller.startNew(notebook.context.path);
        }
        open();
      }
    });

    /** The cell a fix is for: named by the arguments, or under the context menu, or active. */
    const fixTarget = (
      args: Record<string, unknown>
    ): { notebook: NotebookPanel; cell: CodeCell } | null => {
      const notebook =
        (typeof args.path === 'string' &&
          tracker.find(item => item.context.path === args.path)) ||
        tracker.currentWidget;
      if (!notebook) {
        return null;
      }
      let cell = notebook.content.activeCell;
      if (typeof args.cellId === 'string') {
        cell =
          notebook.content.widgets.find(item => item.model.id === args.cellId) ??
          null;
      } else {
        const node = app.contextMenuHitTest(element =>
          element.classList.contains('jp-CodeCell')
        );
        if (node) {
          cell =
            notebook.content.widgets.find(item => item.node === node) ?? cell;
        }
      }
      return cell instanceof CodeCell ? { notebook, cell } : null;
    };

    app.commands.addCommand(CommandIDs.fixCell, {
      label: trans.__('Fix with AutoCoder'),
      caption: trans.__('Ask AutoCoder to fix the cell from its error'),
      icon: autocoderIcon,
      isEnabled: args => {
        const target = fixTarget(args);
        return !!target && !!errorOf(target.cell.model.outputs.toJSON());
      },
      execute: args => {
        const target = fixTarget(args);
        const error = target && errorOf(target.cell.model.outputs.toJSON());
        if (!target || !error) {
          Notification.warning(trans.__('This cell has no error to fix.'), {
            autoClose: 4000
          });
          return;
        }
        const { notebook, cell } = target;
        // The fix goes below the failing cell, and the context names its error.
        notebook.content.activeCellIndex = notebook.content.widgets.indexOf(cell);
        notebook.content.deselectAll();
        if (tracker.currentWidget !== notebook) {
          app.shell.activateById(notebook.id);
        }
        panel.setNotebook(notebook);
        app.shell.activateById(panel.id);
        if (panel.running) {
          Notification.warning(
            trans.__('AutoCoder is still working in this notebook; stop it first.'),
            { autoClose: 4000 }
          );
          return;
        }
        panel.send(fixRequest(cell.model.sharedModel.getSource(), error), 'agent');
      }
    });

    if (palette) {
      const category = trans.__('AutoCoder');
      for (const command of [
        CommandIDs.openPanel,
        CommandIDs.stop,
        CommandIDs.newConversation,
        CommandIDs.fixCell
      ]) {
        palette.addItem({ command, category });
      }
    }
  }
};

/** "Fix with AutoCoder" on every error output. */
const fixButtonsPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-autocoder:fix-buttons',
  description: 'Adds a "Fix with AutoCoder" button to error outputs.',
  autoStart: true,
  requires: [INotebookTracker],
  optional: [ITranslator],
  activate: (
    app: JupyterFrontEnd,
    tracker: INotebookTracker,
    translator: ITranslator | null
  ): void => {
    const trans = (translator ?? nullTranslator).load(TRANSLATION_DOMAIN);
    new ErrorOutputButtons(tracker, app.commands, trans);
  }
};

function readSettings(settings: ISettingRegistry.ISettings): IPanelSettings {
  const value = <T>(name: keyof IPanelSettings): T =>
    (settings.get(name).composite ?? DEFAULT_PANEL_SETTINGS[name]) as T;
  return {
    defaultMode: value<'agent' | 'chat'>('defaultMode'),
    rounds: value<number>('rounds'),
    installPolicy: value<IPanelSettings['installPolicy']>('installPolicy'),
    askBeforeRunning: value<boolean>('askBeforeRunning'),
    contextCells: value<number>('contextCells')
  };
}

export default [
  enginePlugin,
  connectionPlugin,
  statusPlugin,
  panelPlugin,
  fixButtonsPlugin
];
