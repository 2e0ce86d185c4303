import { ISettingRegistry } from '@jupyterlab/settingregistry';

import { DEFAULT_PANEL_SETTINGS, IPanelSettings, PLUGIN_ID } from './tokens';

/**
 * Load the extension's settings (schema/plugin.json) and call `apply` with them now and
 * after every change. A failure is logged, and the defaults stay.
 */
export function followSettings(
  registry: ISettingRegistry,
  apply: (settings: ISettingRegistry.ISettings) => void
): Promise<void> {
  return registry
    .load(PLUGIN_ID)
    .then(settings => {
      apply(settings);
      settings.changed.connect(() => apply(settings));
    })
    .catch(reason => {
      console.warn('jupyter-autocoder: cannot load settings', reason);
    });
}

/** The settings the panel uses; a missing one takes its default. */
export function readPanelSettings(
  settings: ISettingRegistry.ISettings
): IPanelSettings {
  const value = <T>(name: keyof IPanelSettings): T =>
    (settings.get(name).composite ?? DEFAULT_PANEL_SETTINGS[name]) as T;
  return {
    defaultMode: value<'agent' | 'chat'>('defaultMode'),
    rounds: value<number>('rounds'),
    installPolicy: value<IPanelSettings['installPolicy']>('installPolicy'),
    askBeforeRunning: value<boolean>('askBeforeRunning'),
    contextCells: value<number>('contextCells'),
    kernelContext: value<boolean>('kernelContext')
  };
}
