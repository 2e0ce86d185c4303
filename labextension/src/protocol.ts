/**
 * The messages of the agent WebSocket (docs/protocol.md).
 *
 * Their types are generated (protocol.generated.ts) from the Python dataclasses of
 * jupyter_autocoder/server/protocol.py (both ways) and jupyter_autocoder/agent/events.py
 * (the loop's events): edit those and run
 * `python -m jupyter_autocoder.server.protocol_schema`. What is written by hand lives
 * here: constants and guards, typed by the generated types.
 *
 * Every message is one JSON object told apart by its `type`.
 */

import type {
  AgentEvent,
  IErrorEventMessage,
  IHelloMessage,
  IRefusalMessage
} from './protocol.generated';

export * from './protocol.generated';

/** The protocol version this front end speaks (sent by the server in `hello`). */
export const PROTOCOL_VERSION: IHelloMessage['protocol'] = 1;

/** Whether an `error` message belongs to a turn (it has a session) or refuses a message. */
export function isTurnError(
  message: IErrorEventMessage | IRefusalMessage
): message is IErrorEventMessage {
  return typeof (message as IErrorEventMessage).session === 'string';
}

/** Every type of the loop's events: the compiler checks that none is missing. */
const EVENT_TYPES: Record<AgentEvent['type'], true> = {
  round: true,
  token: true,
  code: true,
  install: true,
  approval: true,
  execution: true,
  variables_changed: true,
  error: true,
  done: true,
  plan: true,
  step: true,
  summary: true,
  exploration_done: true
};

/** The agent events of a turn (those the history keeps). */
export const AGENT_EVENT_TYPES: ReadonlySet<string> = new Set(
  Object.keys(EVENT_TYPES)
);
