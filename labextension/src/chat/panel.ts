import { Clipboard } from '@jupyterlab/apputils';
import { CodeCell } from '@jupyterlab/cells';
import { NotebookPanel } from '@jupyterlab/notebook';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { TranslationBundle } from '@jupyterlab/translation';
import { addIcon, deleteIcon } from '@jupyterlab/ui-components';
import { Panel, Widget } from '@lumino/widgets';

import { AgentController } from '../agent/controller';
import { autocoderIcon } from '../icons';
import { EngineHeader } from '../model/header';
import { Mode } from '../protocol';
import {
  ConnectionState,
  IAutoCoderPanel,
  IEngineModel,
  IPanelSettings,
  ISendOptions
} from '../tokens';
import { cellSource, ICodeActions } from './answer';
import { Conversation, ConversationChange } from './conversation';
import { exploreTarget } from './explore';
import { MentionCompleter } from './mentions';
import { ITurnHost, TurnView } from './turn';

/** How close to the end (px) counts as "at the end": new content then keeps it in view. */
const STICK_DISTANCE = 40;

/**
 * The AutoCoder side panel: the model header, the conversation of the notebook in
 * focus, and the composer (request, Agent / Chat, Send / Stop).
 */
export class AutoCoderPanel extends Panel implements IAutoCoderPanel {
  constructor(private readonly options: AutoCoderPanel.IOptions) {
    super();
    const { trans } = options;
    this.id = 'jp-autocoder-panel';
    this.addClass('jp-AutoCoder-panel');
    this.title.icon = autocoderIcon;
    this.title.caption = trans.__('AutoCoder');
    this.node.setAttribute('role', 'region');
    this.node.setAttribute('aria-label', trans.__('AutoCoder'));

    this._header = new EngineHeader(options.engine, trans, options.settings);
    this.addWidget(this._header);

    // Which notebook, and its conversation's actions.
    const bar = document.createElement('div');
    bar.className = 'jp-AutoCoder-notebookBar';
    this._notebookLabel = document.createElement('span');
    this._notebookLabel.className = 'jp-AutoCoder-notebookLabel';
    this._newButton = iconButton(addIcon, trans.__('New conversation'), () => {
      const notebook = this._notebook;
      if (notebook) {
        this.options.controller.startNew(notebook.context.path);
        this._views.get(notebook.context.path)?.markNewConversation();
      }
    });
    this._clearButton = iconButton(
      deleteIcon,
      trans.__('Clear this notebook’s conversation and its history'),
      () => {
        const notebook = this._notebook;
        if (notebook) {
          this.options.controller.reset(notebook.context.path);
        }
      }
    );
    bar.append(this._notebookLabel, this._newButton, this._clearButton);
    this.addWidget(new Widget({ node: bar }));

    this._banner = document.createElement('div');
    this._banner.className = 'jp-AutoCoder-banner';
    this._banner.setAttribute('role', 'alert');
    this._banner.hidden = true;
    this.addWidget(new Widget({ node: this._banner }));

    this._stack = new Panel();
    this._stack.addClass('jp-AutoCoder-conversations');
    this._empty = new Widget();
    this._empty.addClass('jp-AutoCoder-noNotebook');
    this._empty.node.textContent = trans.__(
      'Open a notebook: AutoCoder works in the notebook you are in.'
    );
    this._stack.addWidget(this._empty);
    this.addWidget(this._stack);

    this.addWidget(this._buildComposer());

    options.controller.connection.stateChanged.connect(
      this._onConnectionState,
      this
    );
    options.controller.notice.connect((_, message) => {
      this._currentView()?.showNotice(message);
      if (!this._notebook) {
        this._showBanner(message);
      }
    }, this);
    this._onConnectionState(
      options.controller.connection,
      options.controller.connection.state
    );
    this.setNotebook(null);
  }

  /** The notebook the panel follows (null: none is open). */
  get notebook(): NotebookPanel | null {
    return this._notebook;
  }

  /** Follow another notebook: its conversation is shown (and fetched the first time). */
  setNotebook(panel: NotebookPanel | null): void {
    if (this._notebook) {
      this._notebook.context.pathChanged.disconnect(this._onPathChanged, this);
    }
    this._notebook = panel;
    for (const view of this._views.values()) {
      view.hide();
    }
    if (!panel) {
      this._empty.show();
      this._notebookLabel.textContent = this.options.trans.__('No notebook');
      this._notebookLabel.title = '';
      this._updateComposer();
      return;
    }
    this._empty.hide();
    panel.context.pathChanged.connect(this._onPathChanged, this);
    const path = panel.context.path;
    this._notebookLabel.textContent = panel.title.label || path;
    this._notebookLabel.title = path;
    const view = this._views.get(path) ?? this._addConversationView(path);
    view.show();
    view.scrollToEnd();
    if (!this._modes.has(path)) {
      this._modes.set(path, this.options.settings().defaultMode);
    }
    this._updateComposer();
  }

  /** Put the focus in the request box. */
  focusInput(): void {
    this._input.focus();
  }

  /** Send `text` as the user's request (the composer's Send does this too). */
  send(text: string, mode?: Mode, options: ISendOptions = {}): void {
    const panel = this._notebook;
    if (!panel || !text.trim()) {
      return;
    }
    const path = panel.context.path;
    const chosen =
      mode ?? this._modes.get(path) ?? this.options.settings().defaultMode;
    if (chosen !== 'explore') {
      this._modes.set(path, chosen);
    }
    // `/explore sales.csv` (or `explore df` in Agent mode): an exploration, its own turn.
    const explore =
      chosen !== 'explore' && exploreTarget(text, chosen) !== null;
    this._views.get(path)?.scrollToEnd(true);
    void this.options.controller.send(
      panel,
      text.trim(),
      explore ? 'explore' : chosen,
      options
    );
    this._updateComposer();
  }

  /** Stop the running turn of the notebook in focus. */
  stop(): void {
    if (this._notebook) {
      this.options.controller.stop(this._notebook.context.path);
    }
  }

  /** Whether a turn of the notebook in focus is running. */
  get running(): boolean {
    const path = this._notebook?.context.path;
    return !!path && !!this.options.controller.conversation(path).current;
  }

  /** The settings changed: the mode of notebooks not yet used follows the default. */
  settingsChanged(): void {
    this._header.settingsChanged();
    this._updateComposer();
  }

  private _buildComposer(): Widget {
    const trans = this.options.trans;
    const composer = document.createElement('div');
    composer.className = 'jp-AutoCoder-composer';

    this._input = document.createElement('textarea');
    this._input.className = 'jp-AutoCoder-input';
    this._input.rows = 3;
    this._input.setAttribute('aria-label', trans.__('Request'));
    // First: while its list is open, it takes Enter, Tab, Escape and the arrows.
    this._mentions = new MentionCompleter(
      this._input,
      () => this._variableNames(),
      trans
    );
    this._input.addEventListener('keydown', event => {
      if (event.defaultPrevented) {
        return;
      }
      if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        this._sendInput();
      } else if (event.key === 'Escape' && this.running) {
        event.preventDefault();
        this.stop();
      }
    });
    this._input.addEventListener('input', () => this._updateComposer());

    const row = document.createElement('div');
    row.className = 'jp-AutoCoder-composerRow';

    const modes = document.createElement('div');
    modes.className = 'jp-AutoCoder-modes';
    modes.setAttribute('role', 'radiogroup');
    modes.setAttribute('aria-label', trans.__('Mode'));
    const describe: Record<'agent' | 'chat', [string, string]> = {
      agent: [
        trans.__('Agent'),
        trans.__(
          'Write code, run it in this notebook and correct it from the errors'
        )
      ],
      chat: [trans.__('Chat'), trans.__('Answer only; nothing is run')]
    };
    for (const mode of ['agent', 'chat'] as const) {
      const button = document.createElement('button');
      button.type = 'button';
      button.className = 'jp-AutoCoder-mode';
      button.dataset.mode = mode;
      button.setAttribute('role', 'radio');
      button.textContent = describe[mode][0];
      button.title = describe[mode][1];
      button.addEventListener('click', () => {
        const path = this._notebook?.context.path;
        if (path) {
          this._modes.set(path, mode);
          this._updateComposer();
        }
      });
      modes.appendChild(button);
      this._modeButtons.push(button);
    }

    this._hint = document.createElement('span');
    this._hint.className = 'jp-AutoCoder-hint';

    this._sendButton = document.createElement('button');
    this._sendButton.type = 'button';
    this._sendButton.className =
      'jp-AutoCoder-send jp-AutoCoder-button jp-mod-accept';
    this._sendButton.addEventListener('click', () => {
      if (this.running) {
        this.stop();
      } else {
        this._sendInput();
      }
    });

    row.append(modes, this._hint, this._sendButton);
    composer.append(this._mentions.node, this._input, row);
    return new Widget({ node: composer });
  }

  /** The names `@` completes: the variables of the notebook's kernel (none when the setting is off). */
  private _variableNames(): Promise<string[]> {
    const panel = this._notebook;
    if (!panel || !this.options.settings().kernelContext) {
      return Promise.resolve([]);
    }
    return this.options.controller.variables.names(panel);
  }

  private _sendInput(): void {
    const text = this._input.value;
    if (!text.trim() || this.running || !this._notebook) {
      return;
    }
    this._input.value = '';
    this._mentions.close();
    this.send(text);
  }

  private _updateComposer(): void {
    const trans = this.options.trans;
    const path = this._notebook?.context.path;
    const mode =
      (path && this._modes.get(path)) || this.options.settings().defaultMode;
    for (const button of this._modeButtons) {
      const checked = button.dataset.mode === mode;
      button.setAttribute('aria-checked', String(checked));
      button.classList.toggle('jp-mod-active', checked);
      button.disabled = !path;
    }
    const running = this.running;
    // One button, the same size either way: no jump when a turn starts or ends.
    this._sendButton.textContent = running
      ? trans.__('Stop')
      : trans.__('Send');
    this._sendButton.dataset.action = running ? 'stop' : 'send';
    this._sendButton.classList.toggle('jp-mod-accept', !running);
    this._sendButton.classList.toggle('jp-mod-reject', running);
    this._sendButton.title = running
      ? trans.__('Stop (Escape)')
      : trans.__('Send (Enter; Shift+Enter for a new line)');
    this._sendButton.disabled =
      !path || (!running && !this._input.value.trim());
    this._input.disabled = !path;
    this._input.placeholder = !path
      ? trans.__('Open a notebook first')
      : mode === 'agent'
        ? trans.__(
            'Ask for code: it is written into this notebook, run and corrected (@name: a variable; /explore sales.csv or df: a plan, then cells that run)'
          )
        : trans.__(
            'Ask a question about your code or data (@name: a variable)'
          );
    this._hint.textContent = running ? trans.__('Working…') : '';
    this._newButton.disabled = !path;
    this._clearButton.disabled = !path || running;
  }

  private _onConnectionState(_: unknown, state: ConnectionState): void {
    const trans = this.options.trans;
    if (state === 'open') {
      this._banner.hidden = true;
      this._banner.textContent = '';
    } else if (state === 'closed' && this._everOpened) {
      this._showBanner(
        trans.__(
          'Not connected to the AutoCoder server (%1). Reconnecting…',
          this.options.controller.connection.lastError ||
            trans.__('connection closed')
        )
      );
    }
    if (state === 'open') {
      this._everOpened = true;
    }
    this._updateComposer();
  }

  private _showBanner(text: string): void {
    this._banner.textContent = text;
    this._banner.hidden = false;
  }

  private _onPathChanged(): void {
    // The conversation stays with the path it was started under.
    this.setNotebook(this._notebook);
  }

  /** The view of a notebook's conversation, made the first time the notebook is shown. */
  private _addConversationView(path: string): ConversationView {
    const conversation = this.options.controller.conversation(path);
    const view = new ConversationView(conversation, this._turnHost(path));
    this._views.set(path, view);
    this._stack.addWidget(view);
    conversation.changed.connect(() => this._updateComposer(), this);
    return view;
  }

  private _currentView(): ConversationView | null {
    const path = this._notebook?.context.path;
    return (path && this._views.get(path)) || null;
  }

  private _turnHost(notebook: string): ITurnHost {
    const controller = this.options.controller;
    return {
      restoreVariable: name => controller.restoreVariable(notebook, name),
      rendermime: this.options.rendermime,
      trans: this.options.trans,
      actions: this._codeActions(),
      answerApproval: (id, approved) => controller.answerApproval(id, approved),
      answerRun: (id, approved) => controller.answerRun(id, approved),
      restoreReplaced: (session, turn) =>
        controller.restoreReplaced(notebook, session, turn),
      runPlan: steps => controller.runPlan(notebook, steps),
      stopAfterStep: () => controller.stopAfterStep(notebook)
    };
  }

  /** The code blocks' buttons act in the notebook in focus. */
  private _codeActions(): ICodeActions {
    const hasNotebook = () => !!this._notebook;
    const insert = (code: string, language: string): CodeCell | null => {
      const panel = this._notebook;
      if (!panel?.content.model) {
        return null;
      }
      const notebook = panel.content;
      const index = notebook.activeCellIndex + 1;
      notebook.model!.sharedModel.insertCell(index, {
        cell_type: 'code',
        source: cellSource(code, language),
        metadata: { trusted: true }
      });
      notebook.activeCellIndex = index;
      notebook.deselectAll();
      void notebook.scrollToItem(index, 'smart').catch(() => undefined);
      return notebook.widgets[index] as CodeCell;
    };
    return {
      get hasNotebook() {
        return hasNotebook();
      },
      copy: async code => {
        Clipboard.copyToSystem(code);
      },
      insertBelow: (code, language) => {
        insert(code, language);
      },
      replaceActive: (code, language) => {
        const cell = this._notebook?.content.activeCell;
        cell?.model.sharedModel.setSource(cellSource(code, language));
      },
      run: (code, language) => {
        const cell = insert(code, language);
        const panel = this._notebook;
        if (cell && panel) {
          void CodeCell.execute(cell, panel.sessionContext);
        }
      }
    };
  }

  private _notebook: NotebookPanel | null = null;
  private _views = new Map<string, ConversationView>();
  private _modes = new Map<string, Mode>();
  private _stack: Panel;
  private _empty: Widget;
  private _banner: HTMLDivElement;
  private _notebookLabel: HTMLSpanElement;
  private _newButton: HTMLButtonElement;
  private _clearButton: HTMLButtonElement;
  private _header: EngineHeader;
  private _input!: HTMLTextAreaElement;
  private _mentions!: MentionCompleter;
  private _hint!: HTMLSpanElement;
  private _sendButton!: HTMLButtonElement;
  private _modeButtons: HTMLButtonElement[] = [];
  private _everOpened = false;
}

export namespace AutoCoderPanel {
  export interface IOptions {
    controller: AgentController;
    engine: IEngineModel;
    rendermime: IRenderMimeRegistry;
    trans: TranslationBundle;
    settings: () => IPanelSettings;
  }
}

/** A message for the user in the conversation (an error, a refusal, a history notice). */
function noticeBox(message: string): Widget {
  const box = document.createElement('div');
  box.className = 'jp-AutoCoder-message jp-mod-error';
  box.setAttribute('role', 'alert');
  box.textContent = message;
  return new Widget({ node: box });
}

/**
 * The turns of one notebook's conversation, scrolled to the end while the user is
 * there (and left alone when they scrolled up to read).
 */
class ConversationView extends Panel {
  constructor(
    private readonly conversation: Conversation,
    private readonly host: ITurnHost
  ) {
    super();
    this.addClass('jp-AutoCoder-conversation');
    this.node.tabIndex = 0;
    this.node.setAttribute('aria-label', host.trans.__('Conversation'));
    this._content = new Panel();
    this._content.addClass('jp-AutoCoder-conversationContent');
    this.addWidget(this._content);
    this._placeholder = new Widget();
    this._placeholder.addClass('jp-AutoCoder-placeholder');
    this._placeholder.node.textContent = host.trans.__(
      'Ask AutoCoder for code. In Agent mode it writes a cell below the active one, runs it in this notebook’s kernel and corrects it from the real errors. Chat mode only answers.'
    );
    this.node.addEventListener('scroll', () => {
      const node = this.node;
      this._stick =
        node.scrollHeight - node.scrollTop - node.clientHeight < STICK_DISTANCE;
    });
    this._resizeObserver = new ResizeObserver(() => {
      if (this._stick) {
        this.node.scrollTop = this.node.scrollHeight;
      }
    });
    this._resizeObserver.observe(this._content.node);
    this._rebuild();
    conversation.changed.connect(this._onChange, this);
  }

  scrollToEnd(force = false): void {
    if (force) {
      this._stick = true;
    }
    if (this._stick) {
      requestAnimationFrame(() => {
        this.node.scrollTop = this.node.scrollHeight;
      });
    }
  }

  /** A line that says the next request begins a new conversation. */
  markNewConversation(): void {
    const line = document.createElement('div');
    line.className = 'jp-AutoCoder-divider';
    line.textContent = this.host.trans.__('New conversation');
    this._content.addWidget(new Widget({ node: line }));
    this.scrollToEnd(true);
  }

  showNotice(message: string): void {
    this._content.addWidget(noticeBox(message));
    this.scrollToEnd();
  }

  dispose(): void {
    this._resizeObserver.disconnect();
    super.dispose();
  }

  private _onChange(_: Conversation, change: ConversationChange): void {
    switch (change.kind) {
      case 'reset':
        this._rebuild();
        break;
      case 'turn':
        this._placeholder.hide();
        this._addTurn(change.turn);
        break;
      case 'notice':
        this.showNotice(change.message);
        break;
    }
  }

  private _rebuild(): void {
    while (this._content.widgets.length) {
      const widget = this._content.widgets[0];
      if (widget === this._placeholder) {
        this._placeholder.parent = null;
      } else {
        widget.dispose();
      }
    }
    this._content.addWidget(this._placeholder);
    const historyNotice = this.conversation.historyNotice;
    if (historyNotice) {
      // The history on disk could not be read: say so, and where the old file is.
      this._content.addWidget(noticeBox(historyNotice));
    }
    let session: string | null = null;
    for (const turn of this.conversation.turns) {
      if (session !== null && turn.session && turn.session !== session) {
        this.markNewConversation();
      }
      session = turn.session ?? session;
      this._addTurn(turn);
    }
    this._placeholder.setHidden(this.conversation.turns.length > 0);
    this._stick = true;
    this.scrollToEnd();
  }

  private _addTurn(turn: Conversation['turns'][number]): void {
    this._content.addWidget(new TurnView(turn, this.host));
  }

  private _content: Panel;
  private _placeholder: Widget;
  private _stick = true;
  private _resizeObserver: ResizeObserver;
}

function iconButton(
  icon: typeof addIcon,
  label: string,
  onClick: () => void
): HTMLButtonElement {
  const button = document.createElement('button');
  button.type = 'button';
  button.className = 'jp-AutoCoder-iconButton';
  button.title = label;
  button.setAttribute('aria-label', label);
  icon.element({ container: button, tag: 'span', elementSize: 'normal' });
  button.addEventListener('click', onClick);
  return button;
}
