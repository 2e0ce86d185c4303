import { TranslationBundle } from '@jupyterlab/translation';

/** `@name` where a word may begin (not inside an e-mail address or a longer word). */
const MENTION = /(^|[^\w@.])@([A-Za-z_][A-Za-z0-9_]*)/g;
/** The `@name` being typed just before the caret. */
const TYPING = /(^|[^\w@.])@([A-Za-z_][A-Za-z0-9_]*)?$/;
/** Names shown in the list at most. */
const MAX_OPTIONS = 8;

/** The names a request mentions with `@name`, in order, each once. */
export function mentionedNames(text: string): string[] {
  const names: string[] = [];
  for (const match of text.matchAll(MENTION)) {
    if (!names.includes(match[2])) {
      names.push(match[2]);
    }
  }
  return names;
}

/** The `@name` prefix being typed at `caret` in `text`, or null. */
export function mentionAt(
  text: string,
  caret: number
): { start: number; prefix: string } | null {
  const match = TYPING.exec(text.slice(0, caret));
  if (!match) {
    return null;
  }
  const prefix = match[2] ?? '';
  return { start: caret - prefix.length - 1, prefix };
}

/**
 * Completion of `@name` in the request box: while an `@` and the start of a name are
 * typed, a list of the kernel's variables that begin so; Arrow keys choose, Tab or Enter
 * take one, Escape closes it. Its keydown listener must run before the box's own (it is
 * added first) and marks the keys it used with `preventDefault`.
 */
export class MentionCompleter {
  constructor(
    private readonly input: HTMLTextAreaElement,
    private readonly names: () => Promise<string[]>,
    trans: TranslationBundle
  ) {
    this.node = document.createElement('ul');
    this.node.className = 'jp-AutoCoder-mentions';
    this.node.setAttribute('role', 'listbox');
    this.node.setAttribute('aria-label', trans.__('Variables'));
    this.node.id = `jp-AutoCoder-mentions-${++MentionCompleter._count}`;
    this.node.hidden = true;
    input.setAttribute('aria-autocomplete', 'list');
    input.setAttribute('aria-controls', this.node.id);
    input.addEventListener('keydown', event => this._onKeyDown(event));
    input.addEventListener('input', () => void this.update());
    input.addEventListener('blur', () => {
      // After a click on an option (mousedown keeps the focus, see _show).
      setTimeout(() => this.close(), 150);
    });
  }

  /** The list; the composer places it above the request box. */
  readonly node: HTMLUListElement;

  get isOpen(): boolean {
    return !this.node.hidden;
  }

  /** Show the names that fit what is typed now, or close the list. */
  async update(): Promise<void> {
    const typed = mentionAt(this.input.value, this.input.selectionStart ?? 0);
    if (!typed) {
      this.close();
      return;
    }
    const asked = ++this._asked;
    const names = await this.names();
    if (asked !== this._asked) {
      return; // typed on meanwhile: a newer update decides
    }
    const again = mentionAt(this.input.value, this.input.selectionStart ?? 0);
    if (!again) {
      this.close();
      return;
    }
    const options = names
      .filter(name => name.startsWith(again.prefix) && name !== again.prefix)
      .slice(0, MAX_OPTIONS);
    if (!options.length) {
      this.close();
      return;
    }
    this._show(options);
  }

  close(): void {
    this.node.hidden = true;
    this.node.replaceChildren();
    this._options = [];
    this.input.removeAttribute('aria-activedescendant');
  }

  /** Put `name` in place of the `@prefix` being typed, followed by a space. */
  accept(name: string): void {
    const caret = this.input.selectionStart ?? 0;
    const typed = mentionAt(this.input.value, caret);
    if (!typed) {
      this.close();
      return;
    }
    const value = this.input.value;
    const inserted = `@${name} `;
    this.input.value =
      value.slice(0, typed.start) + inserted + value.slice(caret);
    const position = typed.start + inserted.length;
    this.input.setSelectionRange(position, position);
    this.close();
    this.input.dispatchEvent(new Event('input', { bubbles: true }));
  }

  private _show(options: string[]): void {
    this._options = options;
    this._active = 0;
    this.node.replaceChildren(
      ...options.map((name, index) => {
        const item = document.createElement('li');
        item.className = 'jp-AutoCoder-mention';
        item.id = `${this.node.id}-${index}`;
        item.setAttribute('role', 'option');
        item.textContent = name;
        // mousedown, not click: the request box keeps the focus.
        item.addEventListener('mousedown', event => {
          event.preventDefault();
          this.accept(name);
        });
        return item;
      })
    );
    this.node.hidden = false;
    this._markActive();
  }

  private _markActive(): void {
    const items = Array.from(this.node.children) as HTMLElement[];
    items.forEach((item, index) => {
      item.setAttribute('aria-selected', String(index === this._active));
      item.classList.toggle('jp-mod-active', index === this._active);
    });
    const active = items[this._active];
    if (active) {
      this.input.setAttribute('aria-activedescendant', active.id);
      active.scrollIntoView?.({ block: 'nearest' });
    }
  }

  private _onKeyDown(event: KeyboardEvent): void {
    if (!this.isOpen || event.isComposing) {
      return;
    }
    const count = this._options.length;
    switch (event.key) {
      case 'ArrowDown':
        this._active = (this._active + 1) % count;
        break;
      case 'ArrowUp':
        this._active = (this._active - 1 + count) % count;
        break;
      case 'Enter':
      case 'Tab':
        if (event.shiftKey) {
          return;
        }
        this.accept(this._options[this._active]);
        break;
      case 'Escape':
        this.close();
        break;
      default:
        return;
    }
    event.preventDefault();
    event.stopImmediatePropagation();
    this._markActive();
  }

  private _options: string[] = [];
  private _active = 0;
  private _asked = 0;
  private static _count = 0;
}
