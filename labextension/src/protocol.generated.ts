// Generated from docs/protocol.schema.json, itself generated from the dataclasses of
// jupyter_autocoder/server/protocol.py and jupyter_autocoder/agent/events.py,
// by `python -m jupyter_autocoder.server.protocol_schema`. Do not edit: edit
// them and run it.

import type * as nbformat from '@jupyterlab/nbformat';

/** A message of the browser (the panel) to the server. */
export type ClientMessage =
  | IStartMessage
  | IContinueMessage
  | IRunResultMessage
  | IApprovalMessage
  | IStopMessage
  | IRunPlanMessage
  | IHistoryRequestMessage
  | IResetMessage;

/**
 * Begin a new conversation for this notebook and work on `request`. "agent":
 * write code, run it through `run_cell`, correct it from the real errors until
 * it runs. "chat": one streamed answer, nothing is run. "explore": `request`
 * names a data file or a variable ("sales.csv", "explore df"); a `plan` event
 * with `review` waits for `run_plan`, then each step's Markdown and code cells
 * are made and run, and a summary closes it (a turn of its own; the
 * conversation of the agent turns is left as it was). Refused while a turn of
 * this notebook is running.
 */
export interface IStartMessage {
  type: 'start';
  /** the notebook's path, relative to the server root */
  notebook: string;
  request: string;
  mode?: Mode;
  /** what the model is told about the notebook */
  context?: INotebookContext | null;
  /**
   * this turn's round limit; without it the server's `c.AutoCoder.max_rounds`
   */
  max_rounds?: number | null;
}

/**
 * A further turn in the same conversation (the user's follow-up). Works after a
 * server restart: the conversation is restored from the history on disk.
 */
export interface IContinueMessage {
  type: 'continue';
  /** the notebook's path, relative to the server root */
  notebook: string;
  remark: string;
  /** what the model is told about the notebook */
  context?: INotebookContext | null;
  /**
   * this turn's round limit; without it the server's `c.AutoCoder.max_rounds`
   */
  max_rounds?: number | null;
}

/** The cell the server asked for has finished. */
export interface IRunResultMessage {
  type: 'run_result';
  /** the `id` of the `run_cell` */
  id: string;
  /** the cell's nbformat outputs */
  outputs?: nbformat.IOutput[];
  /** by default "error" when an error output is present, else "ok" */
  status?: RunStatus;
  execution_count?: number | null;
  /** seconds */
  duration?: number;
}

/** The user's answer to an `approval` event with status "pending". */
export interface IApprovalMessage {
  type: 'approval';
  /** the `id` of the approval's request */
  id: string;
  approved: boolean;
}

/**
 * Stop the running turn of this notebook: the model's stream is cancelled (its
 * request leaves the queue at once), a running cell is interrupted
 * (`interrupt`), pending approvals count as declined. The turn ends with `done`
 * (reason "stopped"). A stop when nothing runs is answered by nothing.
 */
export interface IStopMessage {
  type: 'stop';
  /** the notebook's path, relative to the server root */
  notebook: string;
  /**
   * an exploration: finish the step in progress, begin no other, and write the
   * summary of the steps done
   */
  after_step?: boolean;
}

/**
 * The user's answer to an exploration's `plan` event with `review`: the steps
 * to run (edited, dropped, added), in order; none: cancel the exploration. A
 * `stop` cancels it too.
 */
export interface IRunPlanMessage {
  type: 'run_plan';
  /** the notebook's path, relative to the server root */
  notebook: string;
  /** the steps' titles; blank ones are left out */
  steps?: string[];
}

/** Ask for the notebook's past turns (answered by `history`). */
export interface IHistoryRequestMessage {
  type: 'history';
  /** the notebook's path, relative to the server root */
  notebook: string;
}

/**
 * Forget this notebook's conversation and history (refused while a turn runs);
 * answered by an empty `history`.
 */
export interface IResetMessage {
  type: 'reset';
  /** the notebook's path, relative to the server root */
  notebook: string;
}

/** A message of the server to the browser. */
export type ServerMessage =
  | IHelloMessage
  | IStartedMessage
  | AgentEventMessage
  | IRunCellMessage
  | IInterruptMessage
  | IHistoryMessage
  | IRefusalMessage;

/** Sent once when the socket opens. */
export interface IHelloMessage {
  type: 'hello';
  protocol: 1;
  /** the package's version */
  version: string;
}

/** A `start` or `continue` was accepted; the turn's events follow. */
export interface IStartedMessage {
  type: 'started';
  notebook: string;
  session: string;
  turn: number;
  mode: Mode;
  /** the request, or the remark of a `continue` */
  request: string;
}

/**
 * The loop's events, as sent during a turn: each with the turn's `notebook`,
 * `session` and `turn`.
 */
export type AgentEventMessage =
  | IRoundEventMessage
  | ITokenEventMessage
  | ICodeEventMessage
  | IInstallEventMessage
  | IApprovalEventMessage
  | IExecutionEventMessage
  | IVariablesChangedEventMessage
  | IErrorEventMessage
  | IDoneEventMessage
  | IPlanEventMessage
  | IStepEventMessage
  | ISummaryEventMessage
  | IExplorationDoneEventMessage;

/**
 * Run this code in the notebook's kernel and answer `run_result` with the same
 * `id`. `purpose`: "code": insert a new code cell below the active one with
 * `code` and run it (the user sees it), or, with `replaces`, put `code` into
 * the cell of that earlier run and run it there; "install" or "shell": an
 * approved `pip install` / shell command, run in the kernel without adding a
 * cell (show its output in the panel); "probe": a silent check of the kernel's
 * state (which variables or files exist), run without a cell, not shown;
 * "markdown": an exploration's Markdown cell, `code` its source, put below the
 * turn's last cell (or in place of the cell of `replaces`, or above the cell of
 * `above`) and rendered, nothing run: answer at once with no outputs.
 */
export interface IRunCellMessage {
  type: 'run_cell';
  id: string;
  notebook: string;
  session: string;
  turn: number;
  code: string;
  /** seconds, or null */
  timeout: number | null;
  purpose: RunPurpose;
  /**
   * the `id` of an earlier `run_cell` of this turn whose cell this code
   * replaces (a correction of code that ran there); null: a new cell
   */
  replaces: string | null;
  /**
   * "markdown" only: the `id` of an earlier `run_cell` of this turn above whose
   * cell this one goes; null: below the turn's last cell
   */
  above: string | null;
}

/**
 * Interrupt the kernel running cell `id` (never restart it). Answer the
 * `run_cell` with status "interrupted" when it ends. Without an answer within
 * 10 s the server records the run as interrupted and goes on.
 */
export interface IInterruptMessage {
  type: 'interrupt';
  id: string;
  notebook: string;
  reason: 'timeout' | 'stopped';
}

/** Answer to `history` / `reset`: the notebook's past turns, oldest first. */
export interface IHistoryMessage {
  type: 'history';
  notebook: string;
  turns: IHistoryTurn[];
  /** whether a turn of this notebook runs now */
  running: boolean;
  /**
   * present when the history on disk could not be read (the turns start afresh)
   */
  unreadable?: IUnreadableHistory;
}

/**
 * A message was refused: not JSON, no or unknown `type`, a missing or wrong
 * field, too large, a path outside the root, a turn already running, as many
 * turns running as the socket or the user may run at once, an unknown
 * `run_cell` or approval id. Nothing else happened; the socket stays open. It
 * has no `session` (the error of a turn has one).
 */
export interface IRefusalMessage {
  type: 'error';
  message: string;
  /** the refused message's `type`, or null */
  in_reply_to: string | null;
  /** when known */
  notebook?: string;
}

/**
 * The `round` event (RoundEvent) with the turn's `notebook`, `session` and
 * `turn`.
 */
export interface IRoundEventMessage {
  type: 'round';
  round: number;
  max_rounds: number;
  notebook: string;
  /** the conversation's id */
  session: string;
  /** the turn's number in this notebook */
  turn: number;
}

/**
 * The `token` event (TokenEvent) with the turn's `notebook`, `session` and
 * `turn`.
 */
export interface ITokenEventMessage {
  type: 'token';
  round: number;
  text: string;
  notebook: string;
  /** the conversation's id */
  session: string;
  /** the turn's number in this notebook */
  turn: number;
}

/**
 * The `code` event (CodeEvent) with the turn's `notebook`, `session` and
 * `turn`.
 */
export interface ICodeEventMessage {
  type: 'code';
  round: number;
  code: string;
  language: 'python' | 'sh';
  rerun: boolean;
  notebook: string;
  /** the conversation's id */
  session: string;
  /** the turn's number in this notebook */
  turn: number;
}

/**
 * The `install` event (InstallEvent) with the turn's `notebook`, `session` and
 * `turn`.
 */
export interface IInstallEventMessage {
  type: 'install';
  round: number;
  packages: string[];
  command: string;
  status: InstallStatus;
  message: string;
  rejected: string[];
  notebook: string;
  /** the conversation's id */
  session: string;
  /** the turn's number in this notebook */
  turn: number;
}

/**
 * The `approval` event (ApprovalEvent) with the turn's `notebook`, `session`
 * and `turn`.
 */
export interface IApprovalEventMessage {
  type: 'approval';
  round: number;
  request: IApprovalRequest;
  status: 'pending' | 'approved' | 'declined';
  notebook: string;
  /** the conversation's id */
  session: string;
  /** the turn's number in this notebook */
  turn: number;
}

/**
 * The `execution` event (ExecutionEvent) with the turn's `notebook`, `session`
 * and `turn`.
 */
export interface IExecutionEventMessage {
  type: 'execution';
  round: number;
  result: IExecutionResult;
  ok: boolean;
  feedback: string;
  language: 'python' | 'sh';
  notebook: string;
  /** the conversation's id */
  session: string;
  /** the turn's number in this notebook */
  turn: number;
}

/**
 * The `variables_changed` event (VariablesChangedEvent) with the turn's
 * `notebook`, `session` and `turn`.
 */
export interface IVariablesChangedEventMessage {
  type: 'variables_changed';
  round: number;
  changes: IVariableChange[];
  mode: 'warn' | 'strict';
  notebook: string;
  /** the conversation's id */
  session: string;
  /** the turn's number in this notebook */
  turn: number;
}

/**
 * The `error` event (ErrorEvent) with the turn's `notebook`, `session` and
 * `turn`.
 */
export interface IErrorEventMessage {
  type: 'error';
  round: number;
  message: string;
  error_type: string;
  notebook: string;
  /** the conversation's id */
  session: string;
  /** the turn's number in this notebook */
  turn: number;
}

/**
 * The `done` event (DoneEvent) with the turn's `notebook`, `session` and
 * `turn`.
 */
export interface IDoneEventMessage {
  type: 'done';
  round: number;
  reason: DoneReason;
  success: boolean;
  code?: string | null;
  answer?: string;
  message: string;
  rounds?: number;
  completion_tokens?: number;
  seconds?: number;
  trace_path?: string | null;
  notebook: string;
  /** the conversation's id */
  session: string;
  /** the turn's number in this notebook */
  turn: number;
}

/**
 * The `plan` event (PlanEvent) with the turn's `notebook`, `session` and
 * `turn`.
 */
export interface IPlanEventMessage {
  type: 'plan';
  round: number;
  target: string;
  steps: IPlanStep[];
  review: boolean;
  notebook: string;
  /** the conversation's id */
  session: string;
  /** the turn's number in this notebook */
  turn: number;
}

/**
 * The `step` event (StepEvent) with the turn's `notebook`, `session` and
 * `turn`.
 */
export interface IStepEventMessage {
  type: 'step';
  round: number;
  step: number;
  steps: number;
  title: string;
  status: 'planned' | 'running' | 'done' | 'failed' | 'stopped' | 'dropped';
  message: string;
  notebook: string;
  /** the conversation's id */
  session: string;
  /** the turn's number in this notebook */
  turn: number;
}

/**
 * The `summary` event (SummaryEvent) with the turn's `notebook`, `session` and
 * `turn`.
 */
export interface ISummaryEventMessage {
  type: 'summary';
  round: number;
  text: string;
  unverified: string[];
  asked_again: boolean;
  notebook: string;
  /** the conversation's id */
  session: string;
  /** the turn's number in this notebook */
  turn: number;
}

/**
 * The `exploration_done` event (ExplorationDoneEvent) with the turn's
 * `notebook`, `session` and `turn`.
 */
export interface IExplorationDoneEventMessage {
  type: 'exploration_done';
  round: number;
  reason: string;
  steps_done: number;
  steps_failed: number;
  rounds: number;
  seconds: number;
  message: string;
  notebook: string;
  /** the conversation's id */
  session: string;
  /** the turn's number in this notebook */
  turn: number;
}

/** The loop's events, as the history keeps them. */
export type AgentEvent =
  | IRoundEvent
  | ITokenEvent
  | ICodeEvent
  | IInstallEvent
  | IApprovalEvent
  | IExecutionEvent
  | IVariablesChangedEvent
  | IErrorEvent
  | IDoneEvent
  | IPlanEvent
  | IStepEvent
  | ISummaryEvent
  | IExplorationDoneEvent;

/** A round begins: the model is asked (again). */
export interface IRoundEvent {
  type: 'round';
  round: number;
  max_rounds: number;
}

/** A piece of the model's answer as it streams. */
export interface ITokenEvent {
  type: 'token';
  round: number;
  text: string;
}

/**
 * Code about to run: `language` "python", or "sh" for an approved shell
 * command.
 */
export interface ICodeEvent {
  type: 'code';
  round: number;
  code: string;
  language: 'python' | 'sh';
  rerun: boolean;
}

/**
 * An install of missing packages, at each step: requested, then installed /
 * failed / declined / refused / disabled; or present, for packages installed
 * already.
 */
export interface IInstallEvent {
  type: 'install';
  round: number;
  packages: string[];
  command: string;
  status: InstallStatus;
  message: string;
  rejected: string[];
}

/**
 * The user is asked (status "pending"; the answer is an `approval` message with
 * `request.id`), then the same event comes back with the decision ("approved" /
 * "declined").
 */
export interface IApprovalEvent {
  type: 'approval';
  round: number;
  request: IApprovalRequest;
  status: 'pending' | 'approved' | 'declined';
}

/**
 * A run finished; `feedback` is what the model is told next ("" when the round
 * ends well).
 */
export interface IExecutionEvent {
  type: 'execution';
  round: number;
  result: IExecutionResult;
  ok: boolean;
  feedback: string;
  language: 'python' | 'sh';
}

/**
 * The code just run changed the user's variables that the request did not ask
 * to change (`agent/guard.py`); it follows that run's `execution` event. A
 * change whose `restorable` is true can be undone until the next turn begins
 * (`%autocoder restore NAME`, or the panel's restore, which runs the guard's
 * "restore" in the kernel); a change in place cannot. `mode` "strict": the
 * setting made the change fail the round (and put back at once what was
 * replaced).
 */
export interface IVariablesChangedEvent {
  type: 'variables_changed';
  round: number;
  changes: IVariableChange[];
  mode: 'warn' | 'strict';
}

/**
 * The engine or the executor failed (not the code: that is an execution event).
 * A `done` with reason "error" follows.
 */
export interface IErrorEvent {
  type: 'error';
  round: number;
  message: string;
  error_type: string;
}

/**
 * The session's turn is over; `code` is the final code that ran cleanly, if
 * any, `answer` the model's last answer. "answered" is the reason of a
 * chat-mode turn.
 */
export interface IDoneEvent {
  type: 'done';
  round: number;
  reason: DoneReason;
  success: boolean;
  code?: string | null;
  answer?: string;
  message: string;
  rounds?: number;
  completion_tokens?: number;
  seconds?: number;
  trace_path?: string | null;
}

/**
 * An exploration's plan, every step with its status: after planning, and again
 * after each step (the last one is the plan as it ended).
 */
export interface IPlanEvent {
  type: 'plan';
  round: number;
  target: string;
  steps: IPlanStep[];
  review: boolean;
}

/**
 * A step of an exploration begins ("running") or ends ("done", "failed",
 * "stopped"). The events between its beginning and its end are its agent turn.
 */
export interface IStepEvent {
  type: 'step';
  round: number;
  step: number;
  steps: number;
  title: string;
  status: 'planned' | 'running' | 'done' | 'failed' | 'stopped' | 'dropped';
  message: string;
}

/**
 * The closing Markdown cell of an exploration. Every number in `text` was found
 * in the steps' real outputs, except those of `unverified`, which are flagged
 * in the text; `asked_again`: the first summary quoted a number no output
 * shows, and the model was asked once to correct it.
 */
export interface ISummaryEvent {
  type: 'summary';
  round: number;
  text: string;
  unverified: string[];
  asked_again: boolean;
}

/**
 * The exploration is over: `reason` "success" (every planned step was tried and
 * the summary written), "stopped" (the user stopped it) or "error".
 */
export interface IExplorationDoneEvent {
  type: 'exploration_done';
  round: number;
  reason: string;
  steps_done: number;
  steps_failed: number;
  rounds: number;
  seconds: number;
  message: string;
}

/**
 * What the model is told about the notebook. `cells` are in notebook order
 * (oldest first); `attached`: the variables the request names with `@name` in
 * the panel, each with a fuller summary (head, describe, value counts of a few
 * columns).
 */
export interface INotebookContext {
  cells?: ICellContext[];
  variables?: IVariableContext[];
  last_error?: string | null;
  notebook_path?: string | null;
  attached?: IVariableContext[];
}

/** One earlier cell: its source and a short text of its output. */
export interface ICellContext {
  source: string;
  output?: string;
  execution_count?: number | null;
}

/**
 * One variable of the user's namespace: name, type and a short summary (shape,
 * head...).
 */
export interface IVariableContext {
  name: string;
  type_name?: string;
  summary?: string;
}

/**
 * One past turn: its events as they were sent, without the `notebook`,
 * `session` and `turn` of each, and with the tokens of a round merged into one
 * `token` event.
 */
export interface IHistoryTurn {
  turn: number;
  session: string;
  mode: Mode;
  request: string;
  /** seconds since the epoch */
  started_at: number;
  finished_at: number | null;
  events: AgentEvent[];
  done: IDoneEvent | null;
}

/**
 * The notebook's history file could not be read: it was set aside, not
 * overwritten.
 */
export interface IUnreadableHistory {
  /** a sentence for the user: what happened, and where the file is */
  message: string;
  /** the path of the old file on the server */
  kept_as: string;
}

/**
 * What the user is asked to allow: `kind` is "install", "shell" or "code" (a
 * piece of code before it runs, when the user asked to be asked); `command` is
 * exact: what runs.
 */
export interface IApprovalRequest {
  kind: 'install' | 'shell' | 'code';
  command: string;
  packages: string[];
  reason: string;
  id: string;
  warning?: string;
  about?: string;
}

/** What running one piece of code produced. */
export interface IExecutionResult {
  outputs: nbformat.IOutput[];
  duration: number;
  timed_out: boolean;
  status: ExecutionStatus;
  execution_count: number | null;
}

/**
 * A user's variable that the code changed without being asked to. `change`:
 * "reassigned" (the name holds another object), "deleted", or "mutated" (the
 * same object, changed in place: `details` says how); `was` / `now` describe
 * the values; `restorable`: the old object is kept and can be put back;
 * `restored`: it was put back already (strict mode).
 */
export interface IVariableChange {
  name: string;
  change: VariableChangeKind;
  details: string[];
  was: string;
  now: string;
  restorable: boolean;
  restored: boolean;
}

/** One step of an exploration's plan and where it stands. */
export interface IPlanStep {
  title: string;
  status: 'planned' | 'running' | 'done' | 'failed' | 'stopped' | 'dropped';
}

export type Mode = 'agent' | 'chat' | 'explore';

export type RunStatus = 'ok' | 'error' | 'interrupted';

export type RunPurpose = 'code' | 'install' | 'shell' | 'probe' | 'markdown';

export type DoneReason =
  | 'success'
  | 'no_code'
  | 'max_rounds'
  | 'stopped'
  | 'error'
  | 'answered';

export type InstallStatus =
  | 'requested'
  | 'installed'
  | 'failed'
  | 'declined'
  | 'refused'
  | 'disabled'
  | 'present';

export type ExecutionStatus = 'ok' | 'error' | 'timeout' | 'interrupted';

export type VariableChangeKind = 'reassigned' | 'mutated' | 'deleted';
