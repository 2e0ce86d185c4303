/**
 * How long the agent WebSocket waits before it reconnects. Pure: no DOM, no JupyterLab.
 */

/** Reconnection delays grow from the first to the last, then stay there. */
export const RECONNECT_DELAYS_MS: readonly number[] = [
  250, 500, 1000, 2000, 5000, 10000
];

/** The delay before reconnection attempt `attempt` (0 for the first after a failure). */
export function reconnectDelay(attempt: number): number {
  return RECONNECT_DELAYS_MS[
    Math.min(Math.max(attempt, 0), RECONNECT_DELAYS_MS.length - 1)
  ];
}
