/**
 * The protocol's guards (protocol.ts): which messages are events of a turn, and which
 * `error` belongs to a turn rather than refusing a message. Written against the wire
 * format of docs/protocol.md, not the TypeScript names.
 */
import { AGENT_EVENT_TYPES, isTurnError } from '../protocol';

describe('an error message', () => {
  it('belongs to a turn when it names its session', () => {
    const message = {
      type: 'error',
      notebook: 'a.ipynb',
      session: 's1',
      turn: 1,
      round: 2,
      message: 'The engine went away.',
      error_type: 'EngineUnavailableError'
    };
    expect(isTurnError(message as any)).toBe(true);
  });

  it('refuses a message when it has no session', () => {
    const refusal = {
      type: 'error',
      message: 'A turn is already running in this notebook.',
      in_reply_to: 'start',
      notebook: 'a.ipynb'
    };
    expect(isTurnError(refusal as any)).toBe(false);
    expect(
      isTurnError({
        type: 'error',
        message: 'Not JSON.',
        in_reply_to: null
      } as any)
    ).toBe(false);
  });
});

describe('the events of a turn', () => {
  it.each([
    'round',
    'token',
    'code',
    'install',
    'approval',
    'execution',
    'error',
    'done'
  ])('include the loop event %s (kept in the history)', type => {
    expect(AGENT_EVENT_TYPES.has(type)).toBe(true);
  });

  it.each([
    'hello',
    'started',
    'run_cell',
    'interrupt',
    'history',
    'start',
    'stop'
  ])('leave out %s, which is not an event of the loop', type => {
    expect(AGENT_EVENT_TYPES.has(type)).toBe(false);
  });
});
