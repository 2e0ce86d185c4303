/**
 * Wire types of the server extension's REST API, mirrored from
 * jupyter_autocoder/server/handlers.py and EngineSupervisor.status().
 */

export type EngineState =
  | 'stopped'
  | 'downloading'
  | 'loading'
  | 'ready'
  | 'failed';

export interface IEngineStatus {
  state: EngineState;
  model: string | null;
  path: string | null;
  device: 'cpu' | 'cuda' | 'metal' | 'remote' | string | null;
  n_gpu_layers: number | null;
  n_layers: number | null;
  error: string | null;
  /** While downloading: bytes done of total, and the file. */
  progress: { done: number; total: number; file: string } | null;
  base_url: string | null;
  /** Further facts a local worker reports. */
  notice?: string | null;
  load_seconds?: number | null;
  restarts?: number;
}

/** GET /autocoder/api/status */
export interface IStatusReply {
  version: string;
  engine: IEngineStatus;
}

/** The id of the plugin, also the name of its settings schema. */
export const PLUGIN_ID = 'jupyter-autocoder:plugin';
