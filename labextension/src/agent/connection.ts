import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';
import { ISignal, Signal } from '@lumino/signaling';

import { ClientMessage, ServerMessage } from '../protocol';
import { ConnectionState, IAgentConnection } from '../tokens';
import { reconnectDelay } from './reconnect';

/**
 * Messages that only make sense on the socket they answer: the server forgot the
 * requests when that socket closed, so they are dropped rather than queued.
 */
const SOCKET_BOUND = new Set(['run_result', 'approval', 'stop']);

/**
 * The agent WebSocket (`<base_url>autocoder/api/agent`, docs/protocol.md).
 *
 * One socket for the whole page; it reconnects with a growing delay when it closes,
 * and queues what is sent while it is (re)connecting.
 */
export class AgentConnection implements IAgentConnection {
  constructor(
    readonly serverSettings: ServerConnection.ISettings = ServerConnection.makeSettings()
  ) {}

  get state(): ConnectionState {
    return this._state;
  }

  get stateChanged(): ISignal<this, ConnectionState> {
    return this._stateChanged;
  }

  get messageReceived(): ISignal<this, ServerMessage> {
    return this._messageReceived;
  }

  get lastError(): string {
    return this._lastError;
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  /** Open the socket (again); a no-op while it is open or opening. */
  connect(): void {
    if (this._isDisposed || this._socket) {
      return;
    }
    if (this._retryTimer !== null) {
      clearTimeout(this._retryTimer);
      this._retryTimer = null;
    }
    const settings = this.serverSettings;
    let url = URLExt.join(settings.wsUrl, 'autocoder', 'api', 'agent');
    if (settings.appendToken && settings.token) {
      url += `?token=${encodeURIComponent(settings.token)}`;
    }
    this._setState('connecting');
    let socket: WebSocket;
    try {
      socket = new settings.WebSocket(url);
    } catch (error) {
      this._lastError = String(error);
      this._scheduleReconnect();
      return;
    }
    this._socket = socket;
    socket.onopen = () => {
      this._attempt = 0;
      this._lastError = '';
      this._setState('open');
      const queued = this._queue;
      this._queue = [];
      for (const message of queued) {
        socket.send(JSON.stringify(message));
      }
    };
    socket.onmessage = event => {
      let message: ServerMessage;
      try {
        message = JSON.parse(String(event.data));
      } catch {
        console.warn(
          'jupyter-autocoder: a message that is not JSON',
          event.data
        );
        return;
      }
      this._messageReceived.emit(message);
    };
    socket.onerror = () => {
      this._lastError = 'The connection to the server failed.';
    };
    socket.onclose = event => {
      if (this._socket !== socket) {
        return;
      }
      this._socket = null;
      if (event.code === 1008 || event.code === 4403) {
        this._lastError = 'The server refused the connection (not authorized).';
      } else if (!this._lastError) {
        this._lastError =
          event.reason || 'The connection to the server closed.';
      }
      this._scheduleReconnect();
    };
  }

  /** Send a message now, or when the socket opens; false when it was dropped. */
  send(message: ClientMessage): boolean {
    if (this._isDisposed) {
      return false;
    }
    const socket = this._socket;
    if (socket && socket.readyState === WebSocket.OPEN) {
      socket.send(JSON.stringify(message));
      return true;
    }
    if (SOCKET_BOUND.has(message.type)) {
      return false;
    }
    this._queue.push(message);
    this.connect();
    return true;
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    if (this._retryTimer !== null) {
      clearTimeout(this._retryTimer);
    }
    const socket = this._socket;
    this._socket = null;
    if (socket) {
      socket.onclose = null;
      socket.close();
    }
    this._setState('closed');
    Signal.clearData(this);
  }

  private _scheduleReconnect(): void {
    this._setState('closed');
    if (this._isDisposed) {
      return;
    }
    const delay = reconnectDelay(this._attempt);
    this._attempt += 1;
    this._retryTimer = setTimeout(() => {
      this._retryTimer = null;
      this.connect();
    }, delay);
  }

  private _setState(state: ConnectionState): void {
    if (this._state !== state) {
      this._state = state;
      this._stateChanged.emit(state);
    }
  }

  private _socket: WebSocket | null = null;
  private _state: ConnectionState = 'closed';
  private _queue: ClientMessage[] = [];
  private _attempt = 0;
  private _retryTimer: ReturnType<typeof setTimeout> | null = null;
  private _lastError = '';
  private _isDisposed = false;
  private _stateChanged = new Signal<this, ConnectionState>(this);
  private _messageReceived = new Signal<this, ServerMessage>(this);
}
