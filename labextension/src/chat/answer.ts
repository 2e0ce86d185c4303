import { IRenderMimeRegistry, MimeModel } from '@jupyterlab/rendermime';
import { IRenderMime } from '@jupyterlab/rendermime-interfaces';
import { TranslationBundle } from '@jupyterlab/translation';
import {
  addBelowIcon,
  copyIcon,
  LabIcon,
  runIcon,
  editIcon
} from '@jupyterlab/ui-components';
import { Panel, Widget } from '@lumino/widgets';

import { ISegment, splitAnswer } from './segments';

/** What a code block's buttons do, in the notebook the panel follows. */
export interface ICodeActions {
  copy(code: string): Promise<void>;
  insertBelow(code: string, language: string): void;
  replaceActive(code: string, language: string): void;
  run(code: string, language: string): void;
  /** Whether there is a notebook to act in. */
  readonly hasNotebook: boolean;
}

/**
 * A streamed answer, rendered as Markdown with highlighted code blocks.
 *
 * Text is appended as it arrives; rendering happens at most once per animation
 * frame, and only the segment that changed is rendered again, so finished prose and
 * code keep their nodes (no flicker, no jumps above the point of change).
 */
export class AnswerView extends Panel {
  constructor(private readonly options: AnswerView.IOptions) {
    super();
    this.addClass('jp-AutoCoder-answer');
  }

  get text(): string {
    return this._text;
  }

  append(text: string): void {
    this._text += text;
    this._schedule();
  }

  /** The answer is complete: render open blocks as final. */
  finish(): void {
    this._complete = true;
    this._schedule();
  }

  dispose(): void {
    if (this._frame !== 0) {
      cancelAnimationFrame(this._frame);
    }
    super.dispose();
  }

  private _schedule(): void {
    if (this._frame === 0) {
      this._frame = requestAnimationFrame(() => {
        this._frame = 0;
        void this._render();
      });
    }
  }

  private async _render(): Promise<void> {
    if (this._rendering) {
      this._again = true;
      return;
    }
    this._rendering = true;
    try {
      do {
        this._again = false;
        await this._renderSegments(splitAnswer(this._text, this._complete));
      } while (this._again && !this.isDisposed);
    } finally {
      this._rendering = false;
    }
  }

  private async _renderSegments(segments: ISegment[]): Promise<void> {
    const views = this.widgets as unknown as readonly SegmentView[];
    const work: Promise<void>[] = [];
    segments.forEach((segment, index) => {
      let view = views[index];
      if (view && view.kind !== segment.kind) {
        view.dispose();
        view = undefined as any;
      }
      if (!view) {
        view = this._newSegmentView(segment.kind);
        this.insertWidget(index, view);
      }
      work.push(view.present(segment));
    });
    while (this.widgets.length > segments.length) {
      this.widgets[this.widgets.length - 1].dispose();
    }
    await Promise.all(work);
  }

  private _newSegmentView(kind: ISegment['kind']): SegmentView {
    return kind === 'code'
      ? new CodeBlockView(this.options)
      : new MarkdownView(this.options.rendermime);
  }

  private _text = '';
  private _complete = false;
  private _frame = 0;
  private _rendering = false;
  private _again = false;
}

export namespace AnswerView {
  export interface IOptions {
    rendermime: IRenderMimeRegistry;
    actions: ICodeActions;
    trans: TranslationBundle;
  }
}

/** A segment's view: `present` renders the segment's current text. */
type SegmentView = Widget & {
  readonly kind: ISegment['kind'];
  present(segment: ISegment): Promise<void>;
};

/** Markdown prose of an answer (the model's text is untrusted: it is sanitized). */
class MarkdownView extends Widget {
  readonly kind = 'markdown' as const;

  constructor(rendermime: IRenderMimeRegistry) {
    super();
    this.addClass('jp-AutoCoder-prose');
    this._renderer = rendermime.createRenderer('text/markdown');
    this.node.appendChild(this._renderer.node);
  }

  async present(segment: ISegment): Promise<void> {
    if (segment.text === this._source) {
      return;
    }
    this._source = segment.text;
    await this._renderer.renderModel(
      new MimeModel({ data: { 'text/markdown': segment.text }, trusted: false })
    );
  }

  dispose(): void {
    this._renderer.dispose();
    super.dispose();
  }

  private _renderer: IRenderMime.IRenderer;
  private _source = '';
}

const RUNNABLE = new Set([
  '',
  'python',
  'py',
  'python3',
  'ipython',
  'ipython3'
]);
const SHELL = new Set(['sh', 'bash', 'shell', 'console', 'zsh']);

/** A code block with its toolbar: Copy, Insert below, Replace active cell, Run. */
class CodeBlockView extends Widget {
  readonly kind = 'code' as const;

  constructor(private readonly options: AnswerView.IOptions) {
    super();
    this.addClass('jp-AutoCoder-codeBlock');
    const trans = options.trans;
    const bar = document.createElement('div');
    bar.className = 'jp-AutoCoder-codeBar';
    this._label = document.createElement('span');
    this._label.className = 'jp-AutoCoder-codeLanguage';
    bar.appendChild(this._label);
    const actions = options.actions;
    this._buttons = [
      this._button(bar, copyIcon, trans.__('Copy'), 'copy', () =>
        actions.copy(this._code).then(
          () => this._flash(trans.__('Copied')),
          () => this._flash(trans.__('Copy failed'))
        )
      ),
      this._button(bar, addBelowIcon, trans.__('Insert below'), 'insert', () =>
        actions.insertBelow(this._code, this._language)
      ),
      this._button(
        bar,
        editIcon,
        trans.__('Replace active cell'),
        'replace',
        () => actions.replaceActive(this._code, this._language)
      ),
      this._button(bar, runIcon, trans.__('Run'), 'run', () =>
        actions.run(this._code, this._language)
      )
    ];
    this._status = document.createElement('span');
    this._status.className = 'jp-AutoCoder-codeStatus';
    this._status.setAttribute('role', 'status');
    bar.appendChild(this._status);
    this.node.appendChild(bar);
    this._renderer = options.rendermime.createRenderer('text/markdown');
    this._renderer.addClass('jp-AutoCoder-codeBody');
    this.node.appendChild(this._renderer.node);
  }

  async present(segment: ISegment): Promise<void> {
    const language = segment.language.toLowerCase();
    const changed = segment.text !== this._code || language !== this._language;
    this._code = segment.text;
    this._language = language;
    this._label.textContent = segment.language || this.options.trans.__('code');
    this.node.dataset.language = language;
    this._setEnabled(segment.closed);
    if (!changed && this._rendered) {
      return;
    }
    this._rendered = true;
    const fence = segment.text.includes('```') ? '~~~~' : '```';
    await this._renderer.renderModel(
      new MimeModel({
        data: {
          'text/markdown': `${fence}${segment.language}\n${segment.text}\n${fence}`
        },
        trusted: false
      })
    );
  }

  dispose(): void {
    this._renderer.dispose();
    super.dispose();
  }

  private _button(
    bar: HTMLElement,
    icon: LabIcon,
    label: string,
    action: string,
    onClick: () => unknown
  ): HTMLButtonElement {
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'jp-AutoCoder-iconButton';
    button.dataset.action = action;
    button.title = label;
    button.setAttribute('aria-label', label);
    icon.element({ container: button, tag: 'span', elementSize: 'normal' });
    button.addEventListener('click', () => {
      if (!button.disabled) {
        void onClick();
      }
    });
    bar.appendChild(button);
    return button;
  }

  /** Buttons are there from the start (no jump when the block completes), enabled then. */
  private _setEnabled(closed: boolean): void {
    const actions = this.options.actions;
    const runnable = RUNNABLE.has(this._language) || SHELL.has(this._language);
    for (const button of this._buttons) {
      const action = button.dataset.action;
      let enabled = closed;
      if (action !== 'copy') {
        enabled = enabled && actions.hasNotebook;
      }
      if (action === 'run') {
        enabled = enabled && runnable;
      }
      button.disabled = !enabled;
    }
  }

  private _flash(text: string): void {
    this._status.textContent = text;
    window.setTimeout(() => {
      if (this._status.textContent === text) {
        this._status.textContent = '';
      }
    }, 1500);
  }

  private _label: HTMLSpanElement;
  private _status: HTMLSpanElement;
  private _buttons: HTMLButtonElement[];
  private _renderer: IRenderMime.IRenderer;
  private _code = '';
  private _language = '';
  private _rendered = false;
}

/**
 * Code of a block as a notebook cell runs it: shell blocks become `!command` lines
 * (`%pip install` for pip), other code is kept.
 */
export function cellSource(code: string, language: string): string {
  if (!SHELL.has(language.toLowerCase())) {
    return code;
  }
  return code
    .split('\n')
    .map(line => {
      const trimmed = line.trim();
      if (!trimmed || trimmed.startsWith('#')) {
        return line;
      }
      const command = trimmed.replace(/^\$\s*/, '');
      return /^(python -m )?pip3? install\b/.test(command)
        ? `%pip install${command.replace(/^(python -m )?pip3? install/, '')}`
        : `!${command}`;
    })
    .join('\n');
}
