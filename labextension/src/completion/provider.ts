import {
  CompletionHandler,
  IInlineCompletionContext,
  IInlineCompletionItem,
  IInlineCompletionList,
  IInlineCompletionProvider,
  InlineCompletionTriggerKind
} from '@jupyterlab/completer';
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';
import { UUID } from '@lumino/coreutils';
import type { Widget } from '@lumino/widgets';

import { autocoderIcon } from '../icons';
import {
  ICellText,
  ICompletionContext,
  cutPrefix,
  cutSuffix,
  languageOfMimeType,
  notebookContext
} from './context';
import { IShownCompletion } from './ghost';
import { CompletionReader } from './stream';

/** The settings of schema/completion.json. */
export interface ICompletionSettings {
  enabled: boolean;
  trigger: 'automatic' | 'manual';
  debounceMs: number;
  maxPrefixChars: number;
  maxSuffixChars: number;
  maxLines: number;
  skipLanguages: string[];
}

export const DEFAULT_COMPLETION_SETTINGS: ICompletionSettings = {
  enabled: true,
  trigger: 'automatic',
  debounceMs: 250,
  maxPrefixChars: 4000,
  maxSuffixChars: 600,
  maxLines: 8,
  skipLanguages: ['markdown', 'plaintext']
};

/** Tokens a completion may have: enough for `maxLines` lines, no more. */
const TOKENS_PER_LINE = 16;

/**
 * Ghost text from the server's model (POST /autocoder/api/complete), streamed. A newer
 * request (the next keystroke) closes the older one's connection, and the server stops
 * the model; in automatic mode a request waits for a pause in typing first.
 */
export class AutoCoderInlineProvider implements IInlineCompletionProvider {
  readonly identifier = 'jupyter-autocoder';
  readonly name = 'AutoCoder';
  readonly icon = autocoderIcon;
  /**
   * JupyterLab's own settings of this provider (Settings > Inline Completer): this
   * provider waits for the pause itself (the debounce of its own settings), fills in the
   * middle of lines, and its first piece may take a while on a slow machine.
   */
  readonly schema = {
    default: { debouncerDelay: 0, timeout: 20000, autoFillInMiddle: true }
  };

  settings: ICompletionSettings = { ...DEFAULT_COMPLETION_SETTINGS };

  /** Milliseconds from the request to its first ghost text, last time (for tests, status). */
  lastFirstTextMs: number | null = null;

  /** The completion last shown (null: none). */
  shown: IShownCompletion | null = null;

  async fetch(
    request: CompletionHandler.IRequest,
    context: IInlineCompletionContext
  ): Promise<IInlineCompletionList<IInlineCompletionItem>> {
    const none = { items: [] };
    const settings = this.settings;
    const automatic =
      context.triggerKind === InlineCompletionTriggerKind.Automatic;
    if (!settings.enabled || (automatic && settings.trigger === 'manual')) {
      return none;
    }
    const language = languageOfMimeType(request.mimeType ?? '');
    if (settings.skipLanguages.map(l => l.toLowerCase()).includes(language)) {
      return none;
    }
    // A newer keystroke supersedes the older request at once: its connection closes.
    const generation = ++this._generation;
    this._cancelCurrent();
    if (automatic && settings.debounceMs > 0) {
      await new Promise(resolve => setTimeout(resolve, settings.debounceMs));
      if (generation !== this._generation) {
        return none; // typed on during the pause
      }
    }
    const { prefix, suffix } = requestContext(
      context.widget,
      request,
      language,
      settings
    );
    if (!prefix.trim() && !suffix.trim()) {
      return none;
    }
    const controller = new AbortController();
    this._controller = controller;
    const started = performance.now();
    let reader: CompletionReader;
    try {
      const response = await ServerConnection.makeRequest(
        URLExt.join(this._server.baseUrl, 'autocoder', 'api', 'complete'),
        {
          method: 'POST',
          body: JSON.stringify({
            prefix,
            suffix,
            language,
            max_lines: settings.maxLines,
            max_tokens: Math.max(16, settings.maxLines * TOKENS_PER_LINE),
            client: this._clientOf(context.widget),
            path: pathOf(context.widget)
          }),
          signal: controller.signal
        },
        this._server
      );
      if (!response.ok || !response.body) {
        // 503: the model is busy or loading (dropped, not queued); 409: no completion.
        return none;
      }
      reader = new CompletionReader(response.body);
    } catch {
      return none; // aborted by a newer request, or the server is gone
    }
    const first = await reader.next();
    if (!first || generation !== this._generation) {
      void reader.cancel();
      return none;
    }
    this.lastFirstTextMs = Math.round(performance.now() - started);
    const token = `autocoder-${generation}`;
    this._readers.set(token, reader);
    this.shown = {
      text: request.text,
      offset: request.offset,
      insertText: first
    };
    return {
      items: [
        {
          insertText: first,
          isIncomplete: !reader.finished,
          token: reader.finished ? undefined : token
        }
      ]
    };
  }

  async *stream(
    token: string
  ): AsyncGenerator<{ response: IInlineCompletionItem }, undefined, unknown> {
    const reader = this._readers.get(token);
    if (!reader) {
      return;
    }
    try {
      for (;;) {
        const piece = await reader.next();
        if (piece === null) {
          break;
        }
        if (this.shown) {
          this.shown.insertText = reader.text;
        }
        yield { response: { insertText: reader.text } };
      }
    } finally {
      this._readers.delete(token);
    }
  }

  configure(): void {
    // JupyterLab's provider settings (timeout, ...) are applied by JupyterLab itself.
  }

  private _cancelCurrent(): void {
    this._controller?.abort();
    this._controller = null;
    for (const reader of this._readers.values()) {
      void reader.cancel();
    }
    this._readers.clear();
  }

  private _clientOf(widget: Widget): string {
    let id = this._clients.get(widget);
    if (!id) {
      id = UUID.uuid4();
      this._clients.set(widget, id);
    }
    return id;
  }

  private _server = ServerConnection.makeSettings();
  private _generation = 0;
  private _controller: AbortController | null = null;
  private _readers = new Map<string, CompletionReader>();
  private _clients = new WeakMap<Widget, string>();
}

/** The notebook's cells, a console's earlier inputs, or the editor's text alone. */
function requestContext(
  widget: Widget,
  request: CompletionHandler.IRequest,
  language: string,
  settings: ICompletionSettings
): ICompletionContext {
  const notebook = (widget as any).content;
  if (
    notebook &&
    Array.isArray(notebook.widgets) &&
    'activeCellIndex' in notebook
  ) {
    const cells: ICellText[] = notebook.widgets.map((cell: any) => ({
      kind: cell.model?.type ?? 'code',
      source: cell.model?.sharedModel?.getSource() ?? ''
    }));
    const active = notebook.activeCellIndex as number;
    if (cells[active]) {
      cells[active] = { kind: 'code', source: request.text };
      return notebookContext(
        cells,
        active,
        request.offset,
        language,
        settings.maxPrefixChars,
        settings.maxSuffixChars
      );
    }
  }
  const console = (widget as any).console;
  if (console && console.cells) {
    // A console: its earlier inputs are the prefix's context; nothing comes after.
    const inputs: ICellText[] = [];
    for (const cell of console.cells) {
      if (cell.model?.type === 'code') {
        inputs.push({
          kind: 'code',
          source: cell.model.sharedModel.getSource()
        });
      }
    }
    inputs.push({ kind: 'code', source: request.text });
    return notebookContext(
      inputs,
      inputs.length - 1,
      request.offset,
      language,
      settings.maxPrefixChars,
      settings.maxSuffixChars
    );
  }
  return {
    prefix: cutPrefix(
      request.text.slice(0, request.offset),
      settings.maxPrefixChars
    ),
    suffix: cutSuffix(
      request.text.slice(request.offset),
      settings.maxSuffixChars
    )
  };
}

function pathOf(widget: Widget): string {
  const path =
    (widget as any).context?.path ?? (widget as any).sessionContext?.path;
  return typeof path === 'string' ? path.slice(0, 1000) : '';
}
