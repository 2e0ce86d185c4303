/**
 * What an inline completion is asked with: the text before the cursor (earlier cells,
 * Markdown as comments, then the cell up to the cursor) and after it (the rest of the
 * cell, then later cells), each cut to its budget from the far end. Pure functions, so
 * that they are unit-tested without a notebook.
 */

/** A cell as the context sees it. */
export interface ICellText {
  kind: 'code' | 'markdown' | 'raw';
  source: string;
}

export interface ICompletionContext {
  prefix: string;
  suffix: string;
}

/** The line-comment marker of a language ('' when it has none we know of). */
export function commentMarker(language: string): string {
  const name = language.toLowerCase();
  if (
    [
      'python',
      'ipython',
      'python3',
      'r',
      'julia',
      'ruby',
      'perl',
      'bash',
      'sh',
      'shell',
      'powershell',
      'yaml',
      'toml',
      'coffeescript',
      'nim',
      'sage'
    ].includes(name)
  ) {
    return '#';
  }
  if (['sql', 'lua', 'haskell'].includes(name)) {
    return '--';
  }
  if (['matlab', 'octave', 'tex', 'latex'].includes(name)) {
    return '%';
  }
  if (
    [
      'javascript',
      'typescript',
      'java',
      'c',
      'c++',
      'cpp',
      'c#',
      'csharp',
      'go',
      'rust',
      'scala',
      'kotlin',
      'swift',
      'dart'
    ].includes(name)
  ) {
    return '//';
  }
  return '';
}

/** A Markdown cell as a comment of `language`, so that the model reads it as one. */
export function markdownAsComment(source: string, language: string): string {
  const marker = commentMarker(language);
  if (!marker) {
    return '';
  }
  return source
    .trimEnd()
    .split('\n')
    .map(line => (line.trim() ? `${marker} ${line}` : marker))
    .join('\n');
}

/** The text of one neighbouring cell in the prompt ('' to leave it out). */
function cellText(cell: ICellText, language: string): string {
  if (cell.kind === 'code') {
    return cell.source.trimEnd();
  }
  if (cell.kind === 'markdown') {
    return markdownAsComment(cell.source, language);
  }
  return '';
}

/** The last `limit` characters of `text`, from the start of a line where one begins inside. */
export function cutPrefix(text: string, limit: number): string {
  if (limit <= 0) {
    return '';
  }
  if (text.length <= limit) {
    return text;
  }
  const kept = text.slice(text.length - limit);
  const newline = kept.indexOf('\n');
  return newline >= 0 && newline < kept.length - 1
    ? kept.slice(newline + 1)
    : kept;
}

/** The first `limit` characters of `text`, up to the end of a line where one ends inside. */
export function cutSuffix(text: string, limit: number): string {
  if (limit <= 0) {
    return '';
  }
  if (text.length <= limit) {
    return text;
  }
  const kept = text.slice(0, limit);
  const newline = kept.lastIndexOf('\n');
  return newline > 0 ? kept.slice(0, newline + 1) : kept;
}

/**
 * The prefix and suffix for a cursor at `offset` in cell `active` of `cells`. Cells are
 * joined by a blank line, as a script of the notebook would read.
 */
export function notebookContext(
  cells: ICellText[],
  active: number,
  offset: number,
  language: string,
  maxPrefix: number,
  maxSuffix: number
): ICompletionContext {
  const current = cells[active]?.source ?? '';
  const before = cells
    .slice(0, Math.max(0, active))
    .map(cell => cellText(cell, language))
    .filter(text => text.length > 0);
  const after = cells
    .slice(active + 1)
    .map(cell => cellText(cell, language))
    .filter(text => text.length > 0);
  const prefix =
    (before.length ? before.join('\n\n') + '\n\n' : '') +
    current.slice(0, offset);
  const suffix =
    current.slice(offset) + (after.length ? '\n\n' + after.join('\n\n') : '');
  return {
    prefix: cutPrefix(prefix, maxPrefix),
    suffix: cutSuffix(suffix, maxSuffix)
  };
}

/** The language of an editor from its MIME type (`text/x-ipython` -> `python`). */
export function languageOfMimeType(mimeType: string): string {
  const type = mimeType.toLowerCase();
  const known: { [mime: string]: string } = {
    'text/x-ipython': 'python',
    'text/x-python': 'python',
    'text/x-rsrc': 'r',
    'text/x-julia': 'julia',
    'text/javascript': 'javascript',
    'application/javascript': 'javascript',
    'text/typescript': 'typescript',
    'text/x-sql': 'sql',
    'text/x-sh': 'bash',
    'text/x-ipythongfm': 'markdown',
    'text/x-markdown': 'markdown',
    'text/markdown': 'markdown',
    'text/plain': 'plaintext'
  };
  if (known[type]) {
    return known[type];
  }
  const match = /^(?:text|application)\/(?:x-)?([\w.+#-]+)$/.exec(type);
  return match ? match[1] : 'plaintext';
}
