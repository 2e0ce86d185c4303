/**
 * The agent WebSocket's reconnection: the delays (agent/reconnect.ts), and the
 * connection that follows them (agent/connection.ts) against a stand-in socket.
 */
import { ServerConnection } from '@jupyterlab/services';

import { AgentConnection } from '../agent/connection';
import { reconnectDelay } from '../agent/reconnect';

describe('reconnectDelay', () => {
  it('grows from a quarter second to ten seconds, then stays there', () => {
    const delays = Array.from({ length: 9 }, (_, attempt) =>
      reconnectDelay(attempt)
    );
    expect(delays).toEqual([
      250, 500, 1000, 2000, 5000, 10000, 10000, 10000, 10000
    ]);
  });

  it('never shrinks as attempts go on', () => {
    for (let attempt = 1; attempt < 50; attempt++) {
      expect(reconnectDelay(attempt)).toBeGreaterThanOrEqual(
        reconnectDelay(attempt - 1)
      );
    }
  });
});

/** A WebSocket that the test opens, feeds and closes by hand. */
class FakeSocket {
  static made: FakeSocket[] = [];

  constructor(readonly url: string) {
    FakeSocket.made.push(this);
  }

  readyState = 0;
  sent: unknown[] = [];
  onopen: ((event: unknown) => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onerror: ((event: unknown) => void) | null = null;
  onclose: ((event: { code: number; reason: string }) => void) | null = null;

  send(data: string): void {
    this.sent.push(JSON.parse(data));
  }

  close(): void {
    this.readyState = 3;
  }

  /** The server accepts the connection. */
  accept(): void {
    this.readyState = 1;
    this.onopen?.({});
  }

  /** The server sends a frame. */
  receive(data: string): void {
    this.onmessage?.({ data });
  }

  /** The connection ends (1006: lost without a close frame). */
  drop(code = 1006, reason = ''): void {
    this.readyState = 3;
    this.onerror?.({});
    this.onclose?.({ code, reason });
  }
}

function latest(): FakeSocket {
  return FakeSocket.made[FakeSocket.made.length - 1];
}

describe('AgentConnection', () => {
  let connection: AgentConnection;

  beforeEach(() => {
    jest.useFakeTimers();
    FakeSocket.made = [];
    connection = new AgentConnection(
      ServerConnection.makeSettings({
        baseUrl: 'http://localhost:8888/lab-base/',
        wsUrl: 'ws://localhost:8888/lab-base/',
        token: 'secret token',
        appendToken: true,
        WebSocket: FakeSocket as unknown as typeof WebSocket
      })
    );
  });

  afterEach(() => {
    connection.dispose();
    jest.useRealTimers();
  });

  it('opens the agent socket under the base URL, with the token', () => {
    connection.connect();
    expect(FakeSocket.made).toHaveLength(1);
    expect(latest().url).toBe(
      'ws://localhost:8888/lab-base/autocoder/api/agent?token=secret%20token'
    );
    expect(connection.state).toBe('connecting');
    latest().accept();
    expect(connection.state).toBe('open');
  });

  it('reconnects after growing delays while the server stays away', () => {
    connection.connect();
    const waited: number[] = [];
    for (let attempt = 0; attempt < 7; attempt++) {
      const sockets = FakeSocket.made.length;
      latest().drop();
      expect(connection.state).toBe('closed');
      let elapsed = 0;
      while (FakeSocket.made.length === sockets) {
        jest.advanceTimersByTime(50);
        elapsed += 50;
      }
      waited.push(elapsed);
    }
    expect(waited).toEqual([250, 500, 1000, 2000, 5000, 10000, 10000]);
  });

  it('starts again from the shortest delay once a connection opened', () => {
    connection.connect();
    latest().drop();
    jest.advanceTimersByTime(250);
    latest().drop();
    jest.advanceTimersByTime(500);
    latest().accept();
    latest().drop();
    const sockets = FakeSocket.made.length;
    jest.advanceTimersByTime(249);
    expect(FakeSocket.made).toHaveLength(sockets);
    jest.advanceTimersByTime(1);
    expect(FakeSocket.made).toHaveLength(sockets + 1);
  });

  it('says why it is closed', () => {
    connection.connect();
    latest().drop(1008);
    expect(connection.lastError).toBe(
      'The server refused the connection (not authorized).'
    );
    jest.advanceTimersByTime(250);
    latest().accept();
    expect(connection.lastError).toBe('');
  });

  it('stops reconnecting once disposed', () => {
    connection.connect();
    latest().drop();
    connection.dispose();
    jest.advanceTimersByTime(60_000);
    expect(FakeSocket.made).toHaveLength(1);
    expect(connection.state).toBe('closed');
  });

  it('queues requests until the socket opens, and drops answers meant for an old socket', () => {
    connection.connect();
    const start = {
      type: 'start' as const,
      notebook: 'a.ipynb',
      request: 'plot x',
      mode: 'agent' as const
    };
    expect(connection.send(start)).toBe(true);
    expect(connection.send({ type: 'history', notebook: 'a.ipynb' })).toBe(
      true
    );
    expect(connection.send({ type: 'stop', notebook: 'a.ipynb' })).toBe(false);
    expect(
      connection.send({ type: 'approval', id: 'q1', approved: true })
    ).toBe(false);
    latest().accept();
    expect(latest().sent).toEqual([
      start,
      { type: 'history', notebook: 'a.ipynb' }
    ]);
    expect(connection.send({ type: 'stop', notebook: 'a.ipynb' })).toBe(true);
    expect(latest().sent).toHaveLength(3);
  });

  it('passes on the server messages it can parse, and drops the others', () => {
    const received: unknown[] = [];
    connection.messageReceived.connect((_, message) => received.push(message));
    const warn = jest
      .spyOn(console, 'warn')
      .mockImplementation(() => undefined);
    connection.connect();
    latest().accept();
    latest().receive('{"type": "hello", "protocol": 1, "version": "0.1.0"}');
    latest().receive('not json');
    latest().receive(
      '{"type": "token", "notebook": "a.ipynb", "session": "s", "turn": 1, "round": 1, "text": "x"}'
    );
    expect(received).toEqual([
      { type: 'hello', protocol: 1, version: '0.1.0' },
      {
        type: 'token',
        notebook: 'a.ipynb',
        session: 's',
        turn: 1,
        round: 1,
        text: 'x'
      }
    ]);
    expect(warn).toHaveBeenCalledTimes(1);
    warn.mockRestore();
  });
});
