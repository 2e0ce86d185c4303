import { ISignal, Signal } from '@lumino/signaling';

import {
  AgentEvent,
  IApprovalRequest,
  IDoneEvent,
  IHistoryTurn,
  IUnreadableHistory,
  Mode
} from '../protocol';

/**
 * What the panel shows that is not one of the loop's events: a run that waits for the
 * user's go-ahead, what an install prints, an answer given by the settings, a problem
 * that kept code from running.
 */
export type LocalEvent =
  | {
      type: 'confirm_run';
      id: string;
      code: string;
      status: 'pending' | 'approved' | 'declined';
    }
  | { type: 'run_output'; id: string; purpose: string; text: string }
  | { type: 'auto_answer'; request: IApprovalRequest; approved: boolean }
  | { type: 'notice'; level: 'error' | 'info'; message: string }
  | {
      /** What the model was told of the kernel's variables with the request. */
      type: 'context';
      variables: number;
      /** The `@name`s whose fuller summary went with it. */
      attached: string[];
      /** The `@name`s the kernel does not have (or could not tell). */
      unknown: string[];
      /** Why no variables went with it: the kernel was busy, ... (null: they did). */
      problem: string | null;
    }
  | {
      /** The turn's code replaced a cell; `versions` earlier versions are kept. */
      type: 'cell_replaced';
      session: string;
      versions: number;
    };

export type TurnEvent = AgentEvent | LocalEvent;

/** One turn (a request and everything that happened for it). */
export class TurnModel {
  constructor(options: {
    turn: number | null;
    session: string | null;
    mode: Mode;
    request: string;
    events?: TurnEvent[];
    done?: IDoneEvent | null;
  }) {
    this.turn = options.turn;
    this.session = options.session;
    this.mode = options.mode;
    this.request = options.request;
    this._events = [...(options.events ?? [])];
    this._done = options.done ?? null;
    if (!this._done) {
      this._done =
        (this._events.find(event => event.type === 'done') as IDoneEvent) ??
        null;
    }
  }

  /** Null while the server has not accepted the turn yet. */
  turn: number | null;
  session: string | null;
  readonly mode: Mode;
  readonly request: string;

  get events(): readonly TurnEvent[] {
    return this._events;
  }

  get done(): IDoneEvent | null {
    return this._done;
  }

  /** The turn waits for the server, streams, or runs code. */
  get running(): boolean {
    return this._done === null && !this._failed;
  }

  /** The user pressed Stop: what still streams in is not shown. */
  get stopRequested(): boolean {
    return this._stopRequested;
  }

  get eventAdded(): ISignal<this, TurnEvent> {
    return this._eventAdded;
  }

  get stateChanged(): ISignal<this, void> {
    return this._stateChanged;
  }

  add(event: TurnEvent): void {
    if (this._done && event.type !== 'notice') {
      return; // a late event of a finished turn
    }
    if (event.type === 'token' && this._stopRequested) {
      return;
    }
    this._events.push(event);
    if (event.type === 'done') {
      this._done = event;
    }
    this._eventAdded.emit(event);
    if (event.type === 'done') {
      this._stateChanged.emit();
    }
  }

  /** The server accepted the turn under this number and session. */
  accept(turn: number, session: string): void {
    this.turn = turn;
    this.session = session;
    this._stateChanged.emit();
  }

  requestStop(): void {
    if (this.running && !this._stopRequested) {
      this._stopRequested = true;
      this._stateChanged.emit();
    }
  }

  /** The server refused the turn, or the socket closed under it: it will not go on. */
  fail(message: string): void {
    if (!this.running) {
      return;
    }
    this.add({ type: 'notice', level: 'error', message });
    this._failed = true;
    this._stateChanged.emit();
  }

  private _events: TurnEvent[];
  private _done: IDoneEvent | null;
  private _failed = false;
  private _stopRequested = false;
  private _eventAdded = new Signal<this, TurnEvent>(this);
  private _stateChanged = new Signal<this, void>(this);
}

export type ConversationChange =
  | { kind: 'reset' }
  | { kind: 'state' }
  | { kind: 'turn'; turn: TurnModel }
  | { kind: 'notice'; message: string };

/** The conversation of one notebook: its turns, as restored from history and then live. */
export class Conversation {
  constructor(readonly notebook: string) {}

  get turns(): readonly TurnModel[] {
    return this._turns;
  }

  /** The turn that runs now, if any. */
  get current(): TurnModel | null {
    const last = this._turns[this._turns.length - 1];
    return last && last.running ? last : null;
  }

  /** Whether the next request starts a new conversation (else it continues this one). */
  get startsFresh(): boolean {
    return this._startFresh || this._turns.every(turn => turn.turn === null);
  }

  /** The mode of the conversation the next `continue` would extend (explorations are
   * turns of their own, outside it). */
  get lastMode(): Mode | null {
    for (let i = this._turns.length - 1; i >= 0; i--) {
      if (this._turns[i].session && this._turns[i].mode !== 'explore') {
        return this._turns[i].mode;
      }
    }
    return null;
  }

  get changed(): ISignal<this, ConversationChange> {
    return this._changed;
  }

  /** A request the user sent, shown at once, before the server accepts it. */
  addPending(request: string, mode: Mode): TurnModel {
    const turn = this._track(
      new TurnModel({ turn: null, session: null, mode, request })
    );
    this._turns.push(turn);
    this._startFresh = false;
    this._changed.emit({ kind: 'turn', turn });
    return turn;
  }

  /** The server accepted a turn (`started`). */
  started(
    turn: number,
    session: string,
    mode: Mode,
    request: string
  ): TurnModel {
    const pending = this._turns.find(
      item => item.turn === null && item.running
    );
    if (pending) {
      pending.accept(turn, session);
      return pending;
    }
    const model = this._track(new TurnModel({ turn, session, mode, request }));
    this._turns.push(model);
    this._changed.emit({ kind: 'turn', turn: model });
    return model;
  }

  turn(number: number): TurnModel | null {
    for (let i = this._turns.length - 1; i >= 0; i--) {
      if (this._turns[i].turn === number) {
        return this._turns[i];
      }
    }
    return null;
  }

  /** The refused request waiting for `started`, if any. */
  pending(): TurnModel | null {
    return this._turns.find(item => item.turn === null && item.running) ?? null;
  }

  /**
   * What the panel says above the turns when the server could not read the notebook's
   * history (it set the file aside, and says where); null when it read it.
   */
  get historyNotice(): string | null {
    return this._historyNotice;
  }

  /** Replace everything with the server's history (on first view, after a reconnect). */
  loadHistory(
    turns: IHistoryTurn[],
    running: boolean,
    unreadable?: IUnreadableHistory
  ): void {
    this._historyNotice = unreadable ? unreadable.message : null;
    const pending = this._turns.filter(
      item => item.turn === null && item.running
    );
    this._turns = turns.map(item =>
      this._track(
        new TurnModel({
          turn: item.turn,
          session: item.session,
          mode: item.mode,
          request: item.request,
          events: item.events,
          done: item.done
        })
      )
    );
    if (!running) {
      // A turn without its `done` was cut off (the socket closed while it ran).
      for (const turn of this._turns) {
        if (turn.running) {
          turn.fail('This turn was cut off.');
        }
      }
    }
    this._turns.push(...pending);
    this._changed.emit({ kind: 'reset' });
  }

  /** Forget the turns (after `reset`). */
  clear(): void {
    this._turns = [];
    this._historyNotice = null;
    this._startFresh = true;
    this._changed.emit({ kind: 'reset' });
  }

  /** The next request begins a new conversation; the turns so far stay visible. */
  startNew(): void {
    this._startFresh = true;
  }

  /** A message for the user that belongs to no turn. */
  notify(message: string): void {
    this._changed.emit({ kind: 'notice', message });
  }

  /** The socket closed: the running turn will not finish (the server stopped it). */
  disconnected(): void {
    this.current?.fail(
      'The connection to the server was lost; the server stopped this turn.'
    );
  }

  /** A turn's start and end are changes of the conversation too (Send becomes Stop). */
  private _track(turn: TurnModel): TurnModel {
    turn.stateChanged.connect(() => this._changed.emit({ kind: 'state' }));
    return turn;
  }

  private _turns: TurnModel[] = [];
  private _historyNotice: string | null = null;
  private _startFresh = false;
  private _changed = new Signal<this, ConversationChange>(this);
}
