/**
 * The plugins of the extension, one folder per feature (each with its plugin.ts):
 * model/ (engine status, status bar), agent/ (the WebSocket to the agent), chat/ (the
 * side panel), fix/ (Fix with AutoCoder), completion/ (inline completion, ghost text).
 */
import { connectionPlugin } from './agent/plugin';
import { panelPlugin } from './chat/plugin';
import { completionPlugin } from './completion/plugin';
import { fixPlugin } from './fix/plugin';
import { enginePlugin, statusBarPlugin } from './model/plugin';

export default [
  enginePlugin,
  connectionPlugin,
  statusBarPlugin,
  panelPlugin,
  fixPlugin,
  completionPlugin
];
