import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { IStatusBar } from '@jupyterlab/statusbar';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';
import { Poll } from '@lumino/polling';

import { requestAPI } from './handler';
import { EngineStatusItem } from './status';
import { IStatusReply, PLUGIN_ID } from './tokens';

const DEFAULT_REFRESH_SECONDS = 5;

/**
 * Polls GET /autocoder/api/status and shows the model's status in the status bar.
 */
const statusPlugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description: 'Shows the status of the jupyter-autocoder model in the status bar.',
  autoStart: true,
  optional: [IStatusBar, ISettingRegistry, ITranslator],
  activate: (
    app: JupyterFrontEnd,
    statusBar: IStatusBar | null,
    settingRegistry: ISettingRegistry | null,
    translator: ITranslator | null
  ): void => {
    if (!statusBar) {
      // Nowhere to show it (a front end without a status bar).
      return;
    }
    const trans = (translator ?? nullTranslator).load('jupyter_autocoder');
    const item = new EngineStatusItem(trans);
    statusBar.registerStatusItem(PLUGIN_ID, {
      item,
      align: 'left',
      rank: 900
    });

    const poll = new Poll({
      auto: false,
      factory: async () => {
        try {
          item.showStatus(await requestAPI<IStatusReply>('status'));
        } catch (error) {
          item.showUnavailable((error as Error).message);
          throw error; // lets the poll back off while the server does not answer
        }
      },
      frequency: {
        interval: DEFAULT_REFRESH_SECONDS * 1000,
        backoff: true,
        max: 60 * 1000
      },
      name: `${PLUGIN_ID}:status`,
      standby: 'when-hidden'
    });

    const applySettings = (settings: ISettingRegistry.ISettings): void => {
      const seconds =
        (settings.get('statusRefreshSeconds').composite as number) ||
        DEFAULT_REFRESH_SECONDS;
      poll.frequency = { ...poll.frequency, interval: seconds * 1000 };
    };

    const settingsLoaded = settingRegistry
      ? settingRegistry
          .load(PLUGIN_ID)
          .then(settings => {
            applySettings(settings);
            settings.changed.connect(applySettings);
          })
          .catch(reason => {
            console.warn('jupyter-autocoder: cannot load settings', reason);
          })
      : Promise.resolve();

    void Promise.all([app.restored, settingsLoaded]).then(() => poll.start());
  }
};

export default [statusPlugin];
