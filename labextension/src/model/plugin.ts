import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { IStatusBar } from '@jupyterlab/statusbar';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';

import { followSettings } from '../settings';
import { CommandIDs, IEngineModel, TRANSLATION_DOMAIN } from '../tokens';
import { EngineModel } from './engine';
import { EngineStatusItem } from './status';

/** The model engine's status, polled once for every view. */
export const enginePlugin: JupyterFrontEndPlugin<IEngineModel> = {
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
      ? followSettings(settingRegistry, settings => {
          engine.refreshSeconds = settings.get('statusRefreshSeconds')
            .composite as number;
        })
      : Promise.resolve();
    // The first poll waits for the refresh setting.
    void Promise.all([app.restored, settingsLoaded]).then(() => engine.start());
    return engine;
  }
};

/** The model's status in the status bar; a click opens the panel. */
export const statusBarPlugin: JupyterFrontEndPlugin<void> = {
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
