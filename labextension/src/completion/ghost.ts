/**
 * What the provider last showed as ghost text, and its next word (the "accept the next
 * word" command types it, as the user would, and the inline completer keeps the rest).
 */

/** A completion as shown: the editor's text and cursor when asked, and the ghost text. */
export interface IShownCompletion {
  text: string;
  offset: number;
  insertText: string;
}

/** The next word of the ghost text, for `text` and `offset` as the editor has them now. */
export function nextWord(
  shown: IShownCompletion | null,
  text: string,
  offset: number
): string {
  if (!shown || offset < shown.offset) {
    return '';
  }
  const typed = text.slice(shown.offset, offset);
  if (
    text.slice(0, shown.offset) !== shown.text.slice(0, shown.offset) ||
    !shown.insertText.startsWith(typed)
  ) {
    return '';
  }
  const rest = shown.insertText.slice(typed.length);
  const match = /^(\s*[\w]+|\s*[^\w\s]+|\s+)/.exec(rest);
  return match ? match[0] : '';
}
