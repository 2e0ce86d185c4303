import { CodeCell } from '@jupyterlab/cells';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';

import { Conversation, TurnModel } from '../chat/conversation';
import {
  AGENT_EVENT_TYPES,
  AgentEventMessage,
  IApprovalEventMessage,
  IErrorEventMessage,
  INotebookContext,
  IRefusalMessage,
  IRunCellMessage,
  Mode,
  PROTOCOL_VERSION,
  ServerMessage,
  isTurnError
} from '../protocol';
import { mentionedNames } from '../chat/mentions';
import {
  ConnectionState,
  IAgentConnection,
  IPanelSettings,
  ISendOptions
} from '../tokens';
import { notebookContext } from './context';
import { IRestoreAnswer, NotebookExecutor } from './executor';
import { KernelVariables } from './variables';

/**
 * The panel's side of the agent protocol, apart from any view: one conversation per
 * notebook, the messages of the socket routed to them, the browser executor, and the
 * answers the settings give on the user's behalf.
 */
export class AgentController implements IDisposable {
  constructor(options: AgentController.IOptions) {
    this.connection = options.connection;
    this._settings = options.settings;
    this.executor = new NotebookExecutor(options.tracker, {
      reply: message => this.connection.send(message),
      confirmRun: (message, cell) => this._confirmRun(message, cell)
    });
    this.executor.runOutput.connect((_, output) => {
      this._turnOf(output.notebook)?.add({
        type: 'run_output',
        id: output.id,
        purpose: output.purpose,
        text: output.text
      });
    });
    this.executor.runProblem.connect((_, problem) => {
      this._turnOf(problem.notebook)?.add({
        type: 'notice',
        level: 'error',
        message: problem.message
      });
    });
    this.executor.cellReplaced.connect((_, replaced) => {
      this._conversations.get(replaced.notebook)?.turn(replaced.turn)?.add({
        type: 'cell_replaced',
        session: replaced.session,
        versions: replaced.versions.length
      });
    });
    this.variables = options.variables ?? new KernelVariables();
    this.connection.messageReceived.connect(this._onMessage, this);
    this.connection.stateChanged.connect(this._onConnectionState, this);
  }

  readonly connection: IAgentConnection;
  readonly executor: NotebookExecutor;
  /** The notebooks' kernels' variables, asked silently before each request. */
  readonly variables: KernelVariables;

  /** Messages for the user that belong to no notebook. */
  get notice(): ISignal<this, string> {
    return this._notice;
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  /** The conversation of a notebook; its history is asked for the first time. */
  conversation(notebook: string): Conversation {
    let conversation = this._conversations.get(notebook);
    if (!conversation) {
      conversation = new Conversation(notebook);
      this._conversations.set(notebook, conversation);
      this.connection.send({ type: 'history', notebook });
    }
    return conversation;
  }

  /**
   * Send the user's request about the notebook in `panel`, with what the model is told
   * of it: its cells, the last error, and (unless the setting is off) the kernel's
   * variables and the `@name` details the request asks for, collected first while the
   * kernel is idle. `options.fixCell`: the turn's first code replaces that cell.
   */
  async send(
    panel: NotebookPanel,
    text: string,
    mode: Mode,
    options: ISendOptions = {}
  ): Promise<void> {
    const notebook = panel.context.path;
    const conversation = this.conversation(notebook);
    if (conversation.current) {
      conversation.notify(
        'A turn is still running for this notebook; stop it first.'
      );
      return;
    }
    const settings = this._settings();
    const context = notebookContext(panel, settings.contextCells);
    // An exploration is a turn of its own; agent and chat turns continue their conversation.
    const continuing =
      mode !== 'explore' &&
      !conversation.startsFresh &&
      conversation.lastMode === mode;
    const pending = conversation.addPending(text, mode);
    if (options.fixCell) {
      this._fixCells.set(notebook, options.fixCell);
    } else {
      this._fixCells.delete(notebook);
    }
    if (settings.kernelContext) {
      await this._addVariables(panel, text, context, pending);
      if (pending.stopRequested) {
        pending.fail('Stopped before it was sent.');
        return;
      }
      if (!pending.running) {
        return; // failed while the kernel was asked
      }
    }
    // 0 (the default) leaves the limit to the server's c.AutoCoder.max_rounds.
    const max_rounds = settings.rounds > 0 ? settings.rounds : undefined;
    const sent = this.connection.send(
      continuing
        ? { type: 'continue', notebook, remark: text, context, max_rounds }
        : { type: 'start', notebook, request: text, mode, context, max_rounds }
    );
    if (!sent) {
      conversation.pending()?.fail('The request could not be sent.');
    }
  }

  /**
   * The user's answer to an exploration's plan: the steps to run, edited; none (or an
   * empty list) cancels the exploration.
   */
  runPlan(notebook: string, steps: string[] | null): void {
    const turn = this._conversations.get(notebook)?.current;
    const sent = this.connection.send({
      type: 'run_plan',
      notebook,
      steps: (steps ?? []).map(step => step.trim()).filter(Boolean)
    });
    if (!sent) {
      turn?.fail('The connection to the server was lost.');
    }
  }

  /** An exploration finishes the step in progress, begins no other, and summarises. */
  stopAfterStep(notebook: string): void {
    const turn = this._conversations.get(notebook)?.current;
    if (!turn) {
      return;
    }
    turn.add({
      type: 'notice',
      level: 'info',
      message: 'Stopping after this step…'
    });
    if (!this.connection.send({ type: 'stop', notebook, after_step: true })) {
      turn.fail('The connection to the server was lost.');
    }
  }

  /** Put the versions the turn's code replaced back into the notebook, above its cell. */
  restoreReplaced(notebook: string, session: string, turn: number): boolean {
    return this.executor.restoreReplaced(notebook, session, turn);
  }

  /** The kernel's variables and the request's `@name` details into `context`. */
  private async _addVariables(
    panel: NotebookPanel,
    text: string,
    context: INotebookContext,
    turn: TurnModel
  ): Promise<void> {
    const mentioned = mentionedNames(text);
    const collected = await this.variables.collect(panel, mentioned);
    if (typeof collected === 'string') {
      turn.add({
        type: 'context',
        variables: 0,
        attached: [],
        unknown: mentioned,
        problem: collected
      });
      return;
    }
    context.variables = collected.variables;
    if (collected.attached.length) {
      context.attached = collected.attached;
    }
    const attached = collected.attached.map(item => item.name);
    turn.add({
      type: 'context',
      variables: collected.variables.length,
      attached,
      unknown: mentioned.filter(name => !attached.includes(name)),
      problem: null
    });
  }

  /** Stop the running turn of a notebook: the stream at once, a running cell by interrupt. */
  stop(notebook: string): void {
    const turn = this._conversations.get(notebook)?.current;
    if (!turn) {
      return;
    }
    turn.requestStop();
    if (!this.connection.send({ type: 'stop', notebook })) {
      turn.fail('The connection to the server was lost.');
    }
    for (const [id, pending] of this._runConfirmations) {
      if (pending.notebook === notebook) {
        this.answerRun(id, false);
      }
    }
  }

  /** Forget the notebook's conversation and its history on the server. */
  reset(notebook: string): void {
    this.connection.send({ type: 'reset', notebook });
  }

  /** The next request of the notebook begins a new conversation. */
  startNew(notebook: string): void {
    this.conversation(notebook).startNew();
  }

  /** The user's answer to an install or shell command the agent asked for. */
  answerApproval(id: string, approved: boolean): void {
    this.connection.send({ type: 'approval', id, approved });
  }

  /**
   * Put back a variable of the notebook that the agent's last turn replaced or deleted
   * (the guard of the user's variables keeps it in the kernel until the next turn).
   */
  restoreVariable(notebook: string, name: string): Promise<IRestoreAnswer> {
    return this.executor.restoreVariable(notebook, name);
  }

  /** The user's answer to "run this cell?" (ask before running). */
  answerRun(id: string, approved: boolean): void {
    const pending = this._runConfirmations.get(id);
    if (!pending) {
      return;
    }
    this._runConfirmations.delete(id);
    pending.turn?.add({
      type: 'confirm_run',
      id,
      code: pending.code,
      status: approved ? 'approved' : 'declined'
    });
    pending.resolve(approved);
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    for (const id of [...this._runConfirmations.keys()]) {
      this.answerRun(id, false);
    }
    Signal.clearData(this);
  }

  private _onMessage(_: IAgentConnection, message: ServerMessage): void {
    switch (message.type) {
      case 'hello':
        if (message.protocol !== PROTOCOL_VERSION) {
          this._notice.emit(
            `The server speaks protocol ${message.protocol}; this panel speaks ${PROTOCOL_VERSION}. ` +
              'Reload the page after updating jupyter-autocoder.'
          );
        }
        if (this._wasConnected) {
          // After a reconnect: the server's record is the truth (it stopped what ran).
          for (const notebook of this._conversations.keys()) {
            this.connection.send({ type: 'history', notebook });
          }
        }
        this._wasConnected = true;
        break;
      case 'started': {
        this.conversation(message.notebook).started(
          message.turn,
          message.session,
          message.mode,
          message.request
        );
        const fixCell = this._fixCells.get(message.notebook);
        if (fixCell) {
          this._fixCells.delete(message.notebook);
          this.executor.fixCellOfTurn(
            message.notebook,
            message.session,
            message.turn,
            fixCell
          );
        }
        break;
      }
      case 'run_cell':
        void this.executor.runCell(message);
        break;
      case 'interrupt':
        void this.executor.interrupt(message);
        break;
      case 'history':
        this.conversation(message.notebook).loadHistory(
          message.turns,
          message.running,
          message.unreadable
        );
        break;
      case 'error':
        if (isTurnError(message as IErrorEventMessage | IRefusalMessage)) {
          this._onEvent(message as IErrorEventMessage);
        } else {
          this._onRefusal(message as IRefusalMessage);
        }
        break;
      default:
        if (AGENT_EVENT_TYPES.has(message.type)) {
          this._onEvent(message as AgentEventMessage);
        }
    }
  }

  private _onEvent(event: AgentEventMessage): void {
    const turn = this._conversations.get(event.notebook)?.turn(event.turn);
    if (!turn) {
      return; // a turn this page does not show (its history has not come yet)
    }
    turn.add(event);
    if (event.type === 'approval' && event.status === 'pending') {
      this._answerBySettings(event);
    }
  }

  /** Installs the settings allow or forbid are answered without asking; an install with a
   * warning (a near miss of a popular name, a name the index does not know) is always asked. */
  private _answerBySettings(event: IApprovalEventMessage): void {
    const policy = this._settings().installPolicy;
    if (event.request.kind !== 'install' || policy === 'ask') {
      return;
    }
    if (policy === 'auto' && event.request.warning) {
      return;
    }
    const approved = policy === 'auto';
    this._conversations
      .get(event.notebook)
      ?.turn(event.turn)
      ?.add({ type: 'auto_answer', request: event.request, approved });
    this.answerApproval(event.request.id, approved);
  }

  private _onRefusal(message: IRefusalMessage): void {
    const text = `The server refused the request: ${message.message}`;
    const conversation = message.notebook
      ? this._conversations.get(message.notebook)
      : undefined;
    if (!conversation) {
      this._notice.emit(text);
      return;
    }
    const pending = conversation.pending();
    if (
      pending &&
      (message.in_reply_to === 'start' || message.in_reply_to === 'continue')
    ) {
      pending.fail(text);
    } else {
      conversation.notify(text);
    }
  }

  private _onConnectionState(
    _: IAgentConnection,
    state: ConnectionState
  ): void {
    if (state !== 'closed') {
      return;
    }
    for (const conversation of this._conversations.values()) {
      if (conversation.current && conversation.current.turn !== null) {
        conversation.disconnected();
      }
    }
    for (const id of [...this._runConfirmations.keys()]) {
      this.answerRun(id, false);
    }
  }

  private _confirmRun(
    message: IRunCellMessage,
    cell: CodeCell
  ): Promise<boolean> {
    if (!this._settings().askBeforeRunning) {
      return Promise.resolve(true);
    }
    const turn =
      this._conversations.get(message.notebook)?.turn(message.turn) ?? null;
    return new Promise<boolean>(resolve => {
      this._runConfirmations.set(message.id, {
        notebook: message.notebook,
        code: message.code,
        turn,
        resolve
      });
      turn?.add({
        type: 'confirm_run',
        id: message.id,
        code: message.code,
        status: 'pending'
      });
      if (!turn) {
        // Nowhere to ask: do not run what the user cannot see.
        this.answerRun(message.id, false);
      }
    });
  }

  private _turnOf(notebook: string) {
    return this._conversations.get(notebook)?.current ?? null;
  }

  private _settings: () => IPanelSettings;
  private _conversations = new Map<string, Conversation>();
  /** Notebook -> the cell its next turn fixes (Fix with AutoCoder). */
  private _fixCells = new Map<string, string>();
  private _runConfirmations = new Map<
    string,
    {
      notebook: string;
      code: string;
      turn: ReturnType<Conversation['turn']>;
      resolve: (approved: boolean) => void;
    }
  >();
  private _wasConnected = false;
  private _isDisposed = false;
  private _notice = new Signal<this, string>(this);
}

export namespace AgentController {
  export interface IOptions {
    connection: IAgentConnection;
    tracker: INotebookTracker;
    /** The panel's settings now (they may change while the page is open). */
    settings: () => IPanelSettings;
    /** Where the kernels' variables come from (a new KernelVariables by default). */
    variables?: KernelVariables;
  }
}
