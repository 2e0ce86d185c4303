import { ErrorOutput, stripAnsi } from '../agent/context';

/** The request of "Fix with AutoCoder" for a cell that raised `error`. */
export function fixRequest(source: string, error: ErrorOutput): string {
  const fence = source.includes('```') ? '~~~' : '```';
  return (
    `Fix this cell. It raised \`${error.ename}: ${firstLine(error.evalue)}\`.\n\n` +
    `${fence}python\n${source.trimEnd()}\n${fence}`
  );
}

function firstLine(text: string): string {
  const line = stripAnsi(String(text ?? '')).split('\n')[0];
  return line.length > 200 ? `${line.slice(0, 200)}…` : line;
}
