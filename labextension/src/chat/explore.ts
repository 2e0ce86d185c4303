import { Mode } from '../protocol';

/**
 * Whether a request of the panel asks for an exploration, and of what: `/explore TARGET`
 * in any mode, or `explore TARGET` in Agent mode where TARGET is one word (a data file
 * such as `sales.csv`, or a variable such as `df`). The server reads the target again
 * (agent/explore.py's `explore_target`, which the magic shares); null: not an exploration.
 */
export function exploreTarget(text: string, mode: Mode): string | null {
  const trimmed = text.trim();
  const command = /^\/explore(?:\s+([\s\S]*))?$/i.exec(trimmed);
  if (command) {
    return (command[1] ?? '').trim();
  }
  if (mode !== 'agent') {
    return null;
  }
  const plain = /^explore\s+(\S+)$/i.exec(trimmed);
  return plain ? plain[1].replace(/^[`'"]+|[`'"]+$/g, '') : null;
}
