/**
 * The messages of the agent WebSocket, mirrored from docs/protocol.md and
 * jupyter_autocoder/server/protocol.py (browser -> server) and
 * jupyter_autocoder/agent/events.py (the loop's events, server -> browser).
 *
 * Every message is one JSON object told apart by its `type`.
 */

import type * as nbformat from '@jupyterlab/nbformat';

/** The protocol version this front end speaks (sent by the server in `hello`). */
export const PROTOCOL_VERSION = 1;

export type Mode = 'agent' | 'chat';

/** What the model is told about the notebook (all optional). */
export interface INotebookContext {
  cells?: { source: string; output: string; execution_count: number | null }[];
  variables?: { name: string; type_name: string; summary: string }[];
  last_error?: string | null;
  notebook_path?: string;
}

// --- browser -> server -----------------------------------------------------------

export interface IStartMessage {
  type: 'start';
  notebook: string;
  request: string;
  mode: Mode;
  context?: INotebookContext;
  /** This turn's round limit (1 to 10); without it, the server's max_rounds. */
  max_rounds?: number;
}

export interface IContinueMessage {
  type: 'continue';
  notebook: string;
  remark: string;
  context?: INotebookContext;
  max_rounds?: number;
}

export type RunStatus = 'ok' | 'error' | 'interrupted';

export interface IRunResultMessage {
  type: 'run_result';
  id: string;
  outputs: nbformat.IOutput[];
  status: RunStatus;
  execution_count: number | null;
  duration: number;
}

export interface IApprovalMessage {
  type: 'approval';
  id: string;
  approved: boolean;
}

export interface IStopMessage {
  type: 'stop';
  notebook: string;
}

export interface IHistoryRequestMessage {
  type: 'history';
  notebook: string;
}

export interface IResetMessage {
  type: 'reset';
  notebook: string;
}

export type ClientMessage =
  | IStartMessage
  | IContinueMessage
  | IRunResultMessage
  | IApprovalMessage
  | IStopMessage
  | IHistoryRequestMessage
  | IResetMessage;

// --- server -> browser -----------------------------------------------------------

export interface IHelloMessage {
  type: 'hello';
  protocol: number;
  version: string;
}

/** `notebook`, `session` and `turn`: what every event of a turn carries. */
export interface ITurnMeta {
  notebook: string;
  session: string;
  turn: number;
}

export interface IStartedMessage extends ITurnMeta {
  type: 'started';
  mode: Mode;
  request: string;
}

interface IEventBase extends ITurnMeta {
  round: number;
}

export interface IRoundEvent extends IEventBase {
  type: 'round';
  max_rounds: number;
}

export interface ITokenEvent extends IEventBase {
  type: 'token';
  text: string;
}

export interface ICodeEvent extends IEventBase {
  type: 'code';
  code: string;
  language: 'python' | 'sh';
  rerun: boolean;
}

export type InstallStatus =
  | 'requested'
  | 'installed'
  | 'failed'
  | 'declined'
  | 'refused'
  | 'disabled';

export interface IInstallEvent extends IEventBase {
  type: 'install';
  packages: string[];
  command: string;
  status: InstallStatus;
  message: string;
  rejected: string[];
}

export interface IApprovalRequest {
  id: string;
  kind: 'install' | 'shell';
  command: string;
  packages: string[];
  reason: string;
}

export interface IApprovalEvent extends IEventBase {
  type: 'approval';
  request: IApprovalRequest;
  status: 'pending' | 'approved' | 'declined';
}

export interface IExecutionResult {
  outputs: nbformat.IOutput[];
  duration: number;
  timed_out: boolean;
  status: 'ok' | 'error' | 'timeout' | 'interrupted';
  execution_count: number | null;
}

export interface IExecutionEvent extends IEventBase {
  type: 'execution';
  result: IExecutionResult;
  ok: boolean;
  feedback: string;
  language: 'python' | 'sh';
}

/** An error of a turn (it has a `session`): the engine or the executor failed. */
export interface ITurnErrorEvent extends IEventBase {
  type: 'error';
  message: string;
  error_type: string;
}

export type DoneReason =
  | 'success'
  | 'no_code'
  | 'max_rounds'
  | 'stopped'
  | 'error'
  | 'answered';

export interface IDoneEvent extends IEventBase {
  type: 'done';
  reason: DoneReason;
  success: boolean;
  code: string | null;
  answer: string;
  message: string;
  rounds: number;
  completion_tokens: number;
  seconds: number;
  trace_path: string | null;
}

/** The loop's events, as sent during a turn and kept in the history. */
export type AgentEvent =
  | IRoundEvent
  | ITokenEvent
  | ICodeEvent
  | IInstallEvent
  | IApprovalEvent
  | IExecutionEvent
  | ITurnErrorEvent
  | IDoneEvent;

export type RunPurpose = 'code' | 'install' | 'shell' | 'probe';

export interface IRunCellMessage extends ITurnMeta {
  type: 'run_cell';
  id: string;
  code: string;
  timeout: number | null;
  purpose: RunPurpose;
}

export interface IInterruptMessage {
  type: 'interrupt';
  id: string;
  notebook: string;
  reason: 'timeout' | 'stopped';
}

export interface IHistoryTurn {
  turn: number;
  session: string;
  mode: Mode;
  request: string;
  started_at: number;
  finished_at: number | null;
  events: AgentEvent[];
  done: IDoneEvent | null;
}

export interface IHistoryMessage {
  type: 'history';
  notebook: string;
  turns: IHistoryTurn[];
  running: boolean;
}

/** A message the server refused (no `session`): nothing else happened. */
export interface IRefusalMessage {
  type: 'error';
  message: string;
  in_reply_to: string | null;
  notebook?: string;
}

export type ServerMessage =
  | IHelloMessage
  | IStartedMessage
  | AgentEvent
  | IRunCellMessage
  | IInterruptMessage
  | IHistoryMessage
  | IRefusalMessage;

/** Whether an `error` message belongs to a turn (it has a session) or refuses a message. */
export function isTurnError(
  message: ITurnErrorEvent | IRefusalMessage
): message is ITurnErrorEvent {
  return typeof (message as ITurnErrorEvent).session === 'string';
}

/** The agent events of a turn (those the history keeps). */
export const AGENT_EVENT_TYPES: ReadonlySet<string> = new Set([
  'round',
  'token',
  'code',
  'install',
  'approval',
  'execution',
  'error',
  'done'
]);
