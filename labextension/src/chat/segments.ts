/**
 * An answer of the model, complete or still streaming, split into Markdown prose and
 * fenced code blocks. Pure: no DOM, no JupyterLab.
 */

/** One piece of an answer: Markdown prose, or one fenced code block. */
export interface ISegment {
  kind: 'markdown' | 'code';
  text: string;
  /** The fence's language ('' when none), for code. */
  language: string;
  /** Whether a code block's closing fence has arrived. */
  closed: boolean;
}

const FENCE = /^[ \t]*(`{3,}|~{3,})[ \t]*([^\n`]*)$/;
/** An unfinished last line that may still become a fence ("`", "``", "```pyt"). */
const PARTIAL_FENCE = /^[ \t]*(`+|~+)[\w+-]*$/;
/** AutoCoder's own run tags: not shown (the code inside them is). */
const RUN_TAGS = /<API_RUN_(START|STOP)>/g;

/**
 * Split an answer (complete or still streaming) into Markdown and code blocks.
 *
 * While streaming (`complete` false), an unfinished last line that may be a fence is
 * held back, so that a block does not flash as text before it becomes code.
 */
export function splitAnswer(answer: string, complete = false): ISegment[] {
  let text = answer.replace(/\r\n/g, '\n').replace(RUN_TAGS, '');
  if (!complete) {
    const lastBreak = text.lastIndexOf('\n');
    const lastLine = text.slice(lastBreak + 1);
    if (PARTIAL_FENCE.test(lastLine)) {
      text = text.slice(0, lastBreak + 1);
    }
  }
  const segments: ISegment[] = [];
  const lines = text.split('\n');
  let prose: string[] = [];
  let code: string[] | null = null;
  let fence = '';
  let language = '';
  const flushProse = () => {
    const joined = prose.join('\n');
    if (joined.trim()) {
      segments.push({
        kind: 'markdown',
        text: joined,
        language: '',
        closed: true
      });
    }
    prose = [];
  };
  for (const line of lines) {
    const match = FENCE.exec(line);
    if (code === null) {
      if (match) {
        flushProse();
        code = [];
        fence = match[1];
        language = match[2].trim().split(/\s+/)[0] ?? '';
      } else {
        prose.push(line);
      }
    } else if (
      match &&
      !match[2].trim() &&
      match[1][0] === fence[0] &&
      match[1].length >= fence.length
    ) {
      segments.push({
        kind: 'code',
        text: code.join('\n'),
        language,
        closed: true
      });
      code = null;
    } else {
      code.push(line);
    }
  }
  if (code !== null) {
    // An open block: while streaming its last (possibly empty) line is still coming.
    segments.push({
      kind: 'code',
      text: code.join('\n').replace(/\n$/, ''),
      language,
      closed: complete
    });
  } else {
    flushProse();
  }
  return segments;
}
