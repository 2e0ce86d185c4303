import type * as nbformat from '@jupyterlab/nbformat';
import { IRenderMimeRegistry, MimeModel } from '@jupyterlab/rendermime';
import { TranslationBundle } from '@jupyterlab/translation';
import { Panel, Widget } from '@lumino/widgets';

import { outputText, stripAnsi } from '../agent/context';
import {
  IApprovalEvent,
  IApprovalRequest,
  IDoneEvent,
  IExecutionEvent,
  IInstallEvent,
  IStepEvent,
  ISummaryEvent,
  IVariableChange,
  IVariablesChangedEvent
} from '../protocol';
import { AnswerView, ICodeActions } from './answer';
import { TurnEvent, TurnModel } from './conversation';
import { PlanView } from './plan';

/** Lines of a run's output shown in the panel (the notebook has all of it). */
const PREVIEW_LINES = 12;
/** Characters of an install's log kept in the panel. */
const LOG_CHARS = 20000;

/** What a turn's view may ask of the panel. */
export interface ITurnHost {
  rendermime: IRenderMimeRegistry;
  actions: ICodeActions;
  trans: TranslationBundle;
  answerApproval(id: string, approved: boolean): void;
  answerRun(id: string, approved: boolean): void;
  /** Put back the versions this turn's code replaced; false when it cannot. */
  restoreReplaced(session: string, turn: number): boolean;
  /** Put back a variable the agent's code replaced (in the notebook's kernel). */
  restoreVariable(
    name: string
  ): Promise<{ restored: boolean; message: string }>;
  /** An exploration's plan, as the user left it; null cancels the exploration. */
  runPlan(steps: string[] | null): void;
  /** An exploration finishes its step in progress and summarises. */
  stopAfterStep(): void;
}

/**
 * One turn: the user's request, then per round the streamed answer, the runs and
 * their results, installs and approvals, and a status line that says where it stands.
 */
export class TurnView extends Panel {
  constructor(
    readonly model: TurnModel,
    private readonly host: ITurnHost
  ) {
    super();
    this.addClass('jp-AutoCoder-turn');
    this.node.dataset.mode = model.mode;
    const trans = host.trans;

    const request = document.createElement('div');
    request.className = 'jp-AutoCoder-request';
    request.setAttribute('aria-label', trans.__('Your request'));
    this._requestRenderer = host.rendermime.createRenderer('text/markdown');
    request.appendChild(this._requestRenderer.node);
    void this._requestRenderer.renderModel(
      new MimeModel({
        data: { 'text/markdown': model.request },
        trusted: false
      })
    );
    this.addWidget(new Widget({ node: request }));

    this._body = new Panel();
    this._body.addClass('jp-AutoCoder-turnBody');
    this.addWidget(this._body);

    this._status = document.createElement('div');
    this._status.className = 'jp-AutoCoder-turnStatus';
    this._status.setAttribute('role', 'status');
    this._status.setAttribute('aria-live', 'polite');
    this.addWidget(new Widget({ node: this._status }));

    for (const event of model.events) {
      this._handle(event);
    }
    this._updateStatus();
    model.eventAdded.connect((_, event) => {
      this._handle(event);
      this._updateStatus();
    }, this);
    model.stateChanged.connect(() => this._updateStatus(), this);
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._requestRenderer.dispose();
    for (const renderer of this._renderers) {
      renderer.dispose();
    }
    super.dispose();
  }

  private _handle(event: TurnEvent): void {
    switch (event.type) {
      case 'round':
        this._finishAnswer();
        this._round = this._addSection(
          this.model.mode !== 'chat'
            ? this.host.trans.__(
                'Round %1 of %2',
                event.round,
                event.max_rounds
              )
            : ''
        );
        break;
      case 'token':
        this._answer().append(event.text);
        break;
      case 'code':
        this._finishAnswer();
        this._pendingRun = this._addRun(
          event.language === 'sh'
            ? this.host.trans.__('Running the shell command…')
            : event.rerun
              ? this.host.trans.__('Running the code again…')
              : this.host.trans.__('Running the code in a new cell…'),
          event.language === 'sh' ? `$ ${event.code}` : ''
        );
        this._phase = 'running';
        break;
      case 'execution':
        this._finishAnswer();
        this._showExecution(event);
        this._phase = 'thinking';
        break;
      case 'install':
        this._finishAnswer();
        this._showInstall(event);
        break;
      case 'variables_changed':
        this._finishAnswer();
        this._showChangedVariables(event);
        break;
      case 'approval':
        this._finishAnswer();
        this._showApproval(event);
        break;
      case 'auto_answer':
        this._autoAnswered(event.request, event.approved);
        break;
      case 'confirm_run':
        this._showConfirmRun(event.id, event.code, event.status);
        break;
      case 'run_output':
        this._appendLog(event.id, event.text);
        break;
      case 'error':
        this._finishAnswer();
        this._addMessage('error', event.message);
        break;
      case 'notice':
        this._addMessage(event.level, event.message);
        break;
      case 'context':
        this._showContext(event);
        break;
      case 'cell_replaced':
        this._showReplaced(event.session, event.versions);
        break;
      case 'plan':
        // The plan's streamed text becomes the plan's card.
        this._dropAnswer();
        if (!this._plan) {
          this._plan = new PlanView({
            trans: this.host.trans,
            runPlan: steps => {
              this._phase = 'thinking';
              this.host.runPlan(steps);
              this._updateStatus();
            },
            stopAfterStep: () => this.host.stopAfterStep()
          });
          this._body.addWidget(new Widget({ node: this._plan.node }));
        }
        this._plan.update(event, this.model.running);
        if (event.review && this.model.running && this._phase !== 'done') {
          this._phase = 'approval';
        }
        break;
      case 'step':
        this._finishAnswer();
        this._showStep(event);
        break;
      case 'summary':
        // The summary's streamed text (two, when it was asked again) becomes its card.
        this._dropAnswer();
        this._showSummary(event);
        break;
      case 'exploration_done':
        this._finishAnswer();
        break;
      case 'done':
        this._finishAnswer();
        this._phase = 'done';
        break;
    }
  }

  /** A step of an exploration begins (a section of its own) or ends (a line in it). */
  private _showStep(event: IStepEvent): void {
    const trans = this.host.trans;
    if (event.status === 'running') {
      const section = this._addSection(
        trans.__('Step %1 of %2: %3', event.step, event.steps, event.title)
      );
      section.addClass('jp-AutoCoder-step');
      section.node.dataset.step = String(event.step);
      this._phase = 'thinking';
      return;
    }
    const line = document.createElement('div');
    line.className = 'jp-AutoCoder-stepEnd';
    line.dataset.status = event.status;
    const said: Record<string, string> = {
      done: trans.__('Step %1 ran cleanly.', event.step),
      failed: trans.__(
        'Step %1 did not run cleanly: %2',
        event.step,
        event.message
      ),
      stopped: trans.__('Step %1 was stopped.', event.step)
    };
    line.textContent = said[event.status] ?? event.message;
    this._append(line);
  }

  /** An exploration's closing summary, as its Markdown cell in the notebook says it. */
  private _showSummary(event: ISummaryEvent): void {
    this._addSection(this.host.trans.__('Summary'));
    const card = this._card('summary', '');
    card.classList.add('jp-AutoCoder-summary');
    const renderer = this.host.rendermime.createRenderer('text/markdown');
    this._renderers.push(renderer);
    card.appendChild(renderer.node);
    void renderer.renderModel(
      new MimeModel({
        data: { 'text/markdown': event.text },
        trusted: false
      })
    );
    if (event.unverified.length) {
      setCardDetail(
        card,
        this.host.trans.__(
          'Flagged: no output shows %1.',
          event.unverified.join(', ')
        )
      );
    }
  }

  private _section(): Panel {
    return this._round ?? this._addSection('');
  }

  private _addSection(label: string): Panel {
    const section = new Panel();
    section.addClass('jp-AutoCoder-round');
    section.node.setAttribute('role', 'group');
    if (label) {
      const heading = document.createElement('div');
      heading.className = 'jp-AutoCoder-roundLabel';
      heading.textContent = label;
      section.addWidget(new Widget({ node: heading }));
    }
    this._body.addWidget(section);
    this._round = section;
    this._currentAnswer = null;
    return section;
  }

  /** Add a plain element at the end of the current round. */
  private _append(element: HTMLElement): void {
    this._section().addWidget(new Widget({ node: element }));
  }

  private _answer(): AnswerView {
    if (!this._currentAnswer) {
      const section = this._section();
      const answer = new AnswerView({
        rendermime: this.host.rendermime,
        actions: this.host.actions,
        trans: this.host.trans
      });
      section.addWidget(answer);
      this._currentAnswer = answer;
      this._phase = 'writing';
    }
    return this._currentAnswer;
  }

  /** Remove the answer streaming now (an exploration shows what it became instead). */
  private _dropAnswer(): void {
    this._currentAnswer?.dispose();
    this._currentAnswer = null;
  }

  private _finishAnswer(): void {
    this._currentAnswer?.finish();
    this._currentAnswer = null;
  }

  private _addRun(label: string, command: string): HTMLElement {
    const run = document.createElement('div');
    run.className = 'jp-AutoCoder-run';
    run.dataset.state = 'running';
    if (command) {
      const pre = document.createElement('pre');
      pre.className = 'jp-AutoCoder-command';
      pre.textContent = command;
      run.appendChild(pre);
    }
    const line = document.createElement('div');
    line.className = 'jp-AutoCoder-runLine';
    line.textContent = label;
    run.appendChild(line);
    this._append(run);
    return run;
  }

  private _showExecution(event: IExecutionEvent): void {
    const trans = this.host.trans;
    const run = this._pendingRun ?? this._addRun('', '');
    this._pendingRun = null;
    const result = event.result;
    const line = run.querySelector('.jp-AutoCoder-runLine') as HTMLElement;
    const count =
      result.execution_count !== null && result.execution_count !== undefined
        ? ` [${result.execution_count}]`
        : '';
    const seconds = formatSeconds(result.duration);
    const error = result.outputs.find(
      output => output.output_type === 'error'
    ) as nbformat.IError | undefined;
    let state: string;
    if (event.ok) {
      state = 'ok';
      line.textContent = trans.__('Ran without errors%1 · %2', count, seconds);
    } else if (result.status === 'timeout' || result.timed_out) {
      state = 'timeout';
      line.textContent = trans.__(
        'Interrupted after %1: it ran past the time limit',
        seconds
      );
    } else if (result.status === 'interrupted') {
      state = 'interrupted';
      line.textContent = trans.__('Interrupted%1', count);
    } else if (error) {
      state = 'error';
      line.textContent = `${error.ename}: ${stripAnsi(String(error.evalue)).split('\n')[0]}`;
    } else {
      state = 'error';
      line.textContent = trans.__('Failed%1', count);
    }
    run.dataset.state = state;
    const preview = outputText(
      result.outputs.filter(output => output.output_type !== 'error'),
      4000
    ).trim();
    if (preview) {
      const pre = document.createElement('pre');
      pre.className = 'jp-AutoCoder-output';
      const lines = preview.split('\n');
      pre.textContent =
        lines.length > PREVIEW_LINES
          ? [...lines.slice(0, PREVIEW_LINES), '…'].join('\n')
          : preview;
      run.appendChild(pre);
    }
    if (error && error.traceback?.length) {
      const details = document.createElement('details');
      details.className = 'jp-AutoCoder-traceback';
      const summary = document.createElement('summary');
      summary.textContent = trans.__('Traceback');
      const pre = document.createElement('pre');
      pre.textContent = stripAnsi(error.traceback.join('\n'));
      details.append(summary, pre);
      run.appendChild(details);
    }
  }

  private _showInstall(event: IInstallEvent): void {
    const trans = this.host.trans;
    const key = `${event.round}:${event.command}`;
    let card = this._installs.get(key);
    if (!card) {
      card = this._card('install', event.command);
      this._installs.set(key, card);
    }
    const names = event.packages.join(', ');
    const texts: Record<IInstallEvent['status'], string> = {
      requested: trans.__('Installing %1 was asked for', names),
      installed: trans.__('Installed %1', names),
      failed: trans.__('Installing %1 failed', names),
      declined: trans.__('Not installed: %1 was declined', names),
      refused: trans.__('Refused: %1', event.message || event.command),
      disabled: trans.__('Not installed: installing packages is turned off'),
      present: trans.__('Not installed: %1', event.message || names)
    };
    card.dataset.state = event.status;
    setCardStatus(card, texts[event.status] ?? event.status);
    const reason = event.status === 'requested' ? event.message : '';
    setCardDetail(card, reason);
    if (event.status === 'failed' && event.message) {
      setCardDetail(card, event.message, true);
    }
  }

  /** One line under the request: what the model was told of the kernel's variables. */
  private _showContext(event: Extract<TurnEvent, { type: 'context' }>): void {
    const trans = this.host.trans;
    const parts: string[] = [];
    if (event.problem) {
      const why: Record<string, string> = {
        busy: trans.__('the kernel was busy'),
        timeout: trans.__('the kernel did not answer in time'),
        'no-kernel': trans.__('the notebook has no kernel'),
        'not-python': trans.__('the kernel is not a Python kernel')
      };
      parts.push(
        trans.__(
          'Variables not included: %1.',
          why[event.problem] ?? trans.__('the kernel could not tell them')
        )
      );
    } else {
      parts.push(
        event.variables === 1
          ? trans.__('1 variable of the kernel included')
          : trans.__('%1 variables of the kernel included', event.variables)
      );
    }
    if (event.attached.length) {
      parts.push(
        trans.__('with %1', event.attached.map(name => `@${name}`).join(', '))
      );
    }
    if (event.unknown.length) {
      parts.push(
        trans.__(
          'not found in the kernel: %1',
          event.unknown.map(name => `@${name}`).join(', ')
        )
      );
    }
    const line = document.createElement('div');
    line.className = 'jp-AutoCoder-contextLine';
    line.dataset.attached = event.attached.join(' ');
    line.textContent = parts.join(' · ');
    this._body.insertWidget(0, new Widget({ node: line }));
  }

  /** The turn's code replaced a cell: say so, with the one undo that puts them back. */
  private _showReplaced(session: string, versions: number): void {
    const trans = this.host.trans;
    if (!this._replacedCard) {
      this._replacedCard = document.createElement('div');
      this._replacedCard.className =
        'jp-AutoCoder-card jp-AutoCoder-replacedCard';
      const status = document.createElement('div');
      status.className = 'jp-AutoCoder-cardStatus';
      this._replacedCard.appendChild(status);
      const button = document.createElement('button');
      button.type = 'button';
      button.className = 'jp-AutoCoder-button';
      button.textContent = trans.__('Restore replaced versions');
      button.title = trans.__(
        'Put the versions this turn replaced back into the notebook, above its cell'
      );
      button.addEventListener('click', () => {
        const turn = this.model.turn;
        const restored =
          turn !== null && this.host.restoreReplaced(session, turn);
        button.disabled = true;
        setCardStatus(
          this._replacedCard!,
          restored
            ? trans.__('Restored above the cell.')
            : trans.__('Nothing to restore: the cell is gone.')
        );
        this._replacedCard!.dataset.state = restored ? 'restored' : 'gone';
      });
      this._replacedCard.appendChild(button);
    }
    // At the end of the round that replaced: the latest replacement is where it shows.
    if (!this._replacedWidget) {
      this._replacedWidget = new Widget({ node: this._replacedCard });
    }
    this._section().addWidget(this._replacedWidget);
    this._replacedCard.dataset.state = 'replaced';
    setCardStatus(
      this._replacedCard,
      versions === 1
        ? trans.__('The cell was replaced; its earlier version is kept.')
        : trans.__(
            'The cell was replaced; its %1 earlier versions are kept.',
            versions
          )
    );
  }

  /**
   * The user's variables the code changed without being asked: one card each, with the
   * way back (a replaced value), or why there is none (a change in place).
   */
  private _showChangedVariables(event: IVariablesChangedEvent): void {
    const trans = this.host.trans;
    for (const change of event.changes) {
      const card = this._card('variable', '');
      card.dataset.state = change.restored ? 'restored' : change.change;
      card.dataset.variable = change.name;
      setCardStatus(card, changeTitle(change, trans));
      setCardDetail(card, changeDetail(change, event.mode, trans));
      if (change.restorable) {
        this._addButtons(card, [
          {
            label: trans.__('Restore %1', change.name),
            kind: 'accept',
            onClick: () => void this._restore(card, change.name)
          }
        ]);
      }
    }
  }

  private async _restore(card: HTMLElement, name: string): Promise<void> {
    const answer = await this.host.restoreVariable(name);
    removeButtons(card);
    card.dataset.state = answer.restored ? 'restored' : 'failed';
    setCardDetail(card, answer.message.replace(/`/g, ''));
  }

  private _showApproval(event: IApprovalEvent): void {
    const trans = this.host.trans;
    const request = event.request;
    let card = this._approvals.get(request.id);
    if (!card) {
      // An install is asked about on its own card: one card, the install's record once
      // answered (its command and reason are already there).
      card =
        request.kind === 'install'
          ? this._installs.get(`${event.round}:${request.command}`)
          : undefined;
      if (card) {
        card.classList.add('jp-AutoCoder-approvalCard');
      } else {
        card = this._card('approval', request.command);
      }
      card.dataset.kind = request.kind;
      this._approvals.set(request.id, card);
    }
    const onInstallCard = card.classList.contains('jp-AutoCoder-installCard');
    card.dataset.state = event.status;
    setCardWarning(card, request.warning ?? '');
    // Also on a decision that was never pending (refused by the settings): it says why.
    setCardDetail(
      card,
      [request.reason, request.about].filter(Boolean).join('\n')
    );
    if (event.status === 'pending') {
      setCardStatus(
        card,
        request.kind === 'install'
          ? trans.__('Install %1?', request.packages.join(', '))
          : trans.__('Run this shell command?')
      );
      this._phase = 'approval';
      if (!this.model.done && !card.querySelector('button')) {
        this._addButtons(card, [
          {
            label: trans.__('Approve'),
            kind: 'accept',
            onClick: () => this.host.answerApproval(request.id, true)
          },
          {
            label: trans.__('Deny'),
            kind: 'reject',
            onClick: () => this.host.answerApproval(request.id, false)
          }
        ]);
      }
    } else {
      removeButtons(card);
      if (!card.dataset.auto) {
        const answer =
          event.status === 'approved'
            ? trans.__('Approved')
            : trans.__('Declined');
        if (onInstallCard) {
          // The install's own events say what came of it; the answer stays beside them.
          setCardAnswer(card, answer);
          if (event.status === 'approved') {
            setCardStatus(
              card,
              trans.__('Installing %1…', request.packages.join(', '))
            );
          }
        } else {
          setCardStatus(card, answer);
        }
      }
      this._phase = 'thinking';
    }
  }

  private _autoAnswered(request: IApprovalRequest, approved: boolean): void {
    const card = this._approvals.get(request.id);
    if (!card) {
      return;
    }
    card.dataset.auto = 'true';
    removeButtons(card);
    const record = card.classList.contains('jp-AutoCoder-installCard')
      ? setCardAnswer
      : setCardStatus;
    record(
      card,
      approved
        ? this.host.trans.__('Approved by your settings (install policy: auto)')
        : this.host.trans.__(
            'Declined by your settings (install policy: never)'
          )
    );
  }

  private _showConfirmRun(
    id: string,
    code: string,
    status: 'pending' | 'approved' | 'declined'
  ): void {
    const trans = this.host.trans;
    let card = this._confirmations.get(id);
    if (!card) {
      card = this._card('confirm', code);
      this._confirmations.set(id, card);
    }
    card.dataset.state = status;
    if (status === 'pending') {
      setCardStatus(card, trans.__('Run this cell?'));
      this._phase = 'approval';
      this._addButtons(card, [
        {
          label: trans.__('Run'),
          kind: 'accept',
          onClick: () => this.host.answerRun(id, true)
        },
        {
          label: trans.__('Skip'),
          kind: 'reject',
          onClick: () => this.host.answerRun(id, false)
        }
      ]);
    } else {
      removeButtons(card);
      setCardStatus(
        card,
        status === 'approved'
          ? trans.__('Allowed to run')
          : trans.__('Skipped: not run')
      );
      this._phase = 'running';
    }
  }

  private _appendLog(id: string, text: string): void {
    let log = this._logs.get(id);
    if (!log) {
      log = document.createElement('pre');
      log.className = 'jp-AutoCoder-log';
      // Under the card that asked for it (the latest install or shell run).
      const anchor = this._pendingRun ?? this._lastCard;
      if (anchor) {
        anchor.appendChild(log);
      } else {
        this._append(log);
      }
      this._logs.set(id, log);
    }
    const content = (log.textContent ?? '') + text;
    log.textContent =
      content.length > LOG_CHARS ? `…${content.slice(-LOG_CHARS)}` : content;
    log.scrollTop = log.scrollHeight;
  }

  private _addMessage(level: 'error' | 'info', message: string): void {
    const box = document.createElement('div');
    box.className = `jp-AutoCoder-message jp-mod-${level}`;
    box.setAttribute('role', level === 'error' ? 'alert' : 'status');
    box.textContent = message;
    this._append(box);
  }

  private _card(kind: string, command: string): HTMLElement {
    const card = document.createElement('div');
    card.className = `jp-AutoCoder-card jp-AutoCoder-${kind}Card`;
    const status = document.createElement('div');
    status.className = 'jp-AutoCoder-cardStatus';
    card.appendChild(status);
    if (command) {
      const pre = document.createElement('pre');
      pre.className = 'jp-AutoCoder-command';
      pre.textContent = command;
      card.appendChild(pre);
    }
    this._append(card);
    this._lastCard = card;
    return card;
  }

  private _addButtons(
    card: HTMLElement,
    buttons: { label: string; kind: 'accept' | 'reject'; onClick: () => void }[]
  ): void {
    const row = document.createElement('div');
    row.className = 'jp-AutoCoder-cardButtons';
    for (const spec of buttons) {
      const button = document.createElement('button');
      button.type = 'button';
      button.className = `jp-AutoCoder-button jp-mod-${spec.kind}`;
      button.textContent = spec.label;
      button.addEventListener('click', () => {
        for (const other of Array.from(row.querySelectorAll('button'))) {
          other.disabled = true;
        }
        spec.onClick();
      });
      row.appendChild(button);
    }
    card.appendChild(row);
  }

  private _updateStatus(): void {
    const trans = this.host.trans;
    const model = this.model;
    const done = model.done;
    let text = '';
    let state: string = this._phase;
    if (done) {
      state = done.reason;
      text = doneText(done, trans);
    } else if (!model.running) {
      state = 'failed';
      text = '';
    } else if (model.stopRequested) {
      state = 'stopping';
      text = trans.__('Stopping…');
    } else if (model.turn === null) {
      state = 'sending';
      text = trans.__('Sending…');
    } else {
      text = {
        thinking: trans.__('Thinking…'),
        writing: trans.__('Writing…'),
        running: trans.__('Running the code in the notebook…'),
        approval: trans.__('Waiting for your answer'),
        done: ''
      }[this._phase];
    }
    this._status.textContent = text;
    this._status.dataset.state = state;
    this._plan?.setRunning(model.running && !model.stopRequested);
    this.node.dataset.state = done
      ? 'done'
      : model.running
        ? 'running'
        : 'failed';
  }

  private _requestRenderer: ReturnType<IRenderMimeRegistry['createRenderer']>;
  private _body: Panel;
  private _status: HTMLElement;
  private _round: Panel | null = null;
  private _currentAnswer: AnswerView | null = null;
  private _pendingRun: HTMLElement | null = null;
  private _lastCard: HTMLElement | null = null;
  private _replacedCard: HTMLElement | null = null;
  private _replacedWidget: Widget | null = null;
  private _plan: PlanView | null = null;
  /** The summaries' renderers (disposed with the turn). */
  private _renderers: ReturnType<IRenderMimeRegistry['createRenderer']>[] = [];
  private _phase: 'thinking' | 'writing' | 'running' | 'approval' | 'done' =
    'thinking';
  private _installs = new Map<string, HTMLElement>();
  private _approvals = new Map<string, HTMLElement>();
  private _confirmations = new Map<string, HTMLElement>();
  private _logs = new Map<string, HTMLElement>();
}

function setCardStatus(card: HTMLElement, text: string): void {
  (card.querySelector('.jp-AutoCoder-cardStatus') as HTMLElement).textContent =
    text;
}

function setCardDetail(card: HTMLElement, text: string, pre = false): void {
  let detail = card.querySelector('.jp-AutoCoder-cardDetail') as HTMLElement;
  if (!text) {
    detail?.remove();
    return;
  }
  if (!detail) {
    detail = document.createElement(pre ? 'pre' : 'div');
    detail.className = 'jp-AutoCoder-cardDetail';
    card.appendChild(detail);
  }
  detail.textContent = stripAnsi(text);
}

/** The approval's warning (a near-miss package name, a command made at run time), above
 * the buttons where it cannot be missed. */
function setCardWarning(card: HTMLElement, text: string): void {
  let warning = card.querySelector('.jp-AutoCoder-cardWarning') as HTMLElement;
  if (!text) {
    warning?.remove();
    return;
  }
  if (!warning) {
    warning = document.createElement('div');
    warning.className = 'jp-AutoCoder-cardWarning';
    const command = card.querySelector('.jp-AutoCoder-command');
    if (command) {
      command.after(warning);
    } else {
      card.appendChild(warning);
    }
  }
  warning.textContent = `⚠ ${text}`;
}

/** Who answered an install's question, kept on its card under what came of it. */
function setCardAnswer(card: HTMLElement, text: string): void {
  let answer = card.querySelector('.jp-AutoCoder-cardAnswer') as HTMLElement;
  if (!answer) {
    answer = document.createElement('div');
    answer.className = 'jp-AutoCoder-cardAnswer';
    card.appendChild(answer);
  }
  answer.textContent = text;
}

function removeButtons(card: HTMLElement): void {
  card.querySelector('.jp-AutoCoder-cardButtons')?.remove();
}

function changeTitle(
  change: IVariableChange,
  trans: TranslationBundle
): string {
  switch (change.change) {
    case 'mutated':
      return trans.__(
        'The code changed your variable %1 in place',
        change.name
      );
    case 'deleted':
      return trans.__('The code deleted your variable %1', change.name);
    default:
      return trans.__('The code replaced your variable %1', change.name);
  }
}

function changeDetail(
  change: IVariableChange,
  mode: IVariablesChangedEvent['mode'],
  trans: TranslationBundle
): string {
  const parts: string[] = [];
  if (change.change === 'mutated') {
    parts.push(
      `${change.details.join('; ').replace(/`/g, '')}.`,
      trans.__(
        'This cannot be undone: the object itself was modified, and no copy was kept (copying every variable before every run would cost too much time and memory).'
      )
    );
  } else {
    if (change.was) {
      parts.push(trans.__('It held: %1.', change.was));
    }
    if (change.now) {
      parts.push(trans.__('Now: %1.', change.now));
    }
    if (change.restored) {
      parts.push(trans.__('It was put back as it was.'));
    } else if (change.restorable) {
      parts.push(trans.__('The old value is kept until your next request.'));
    }
  }
  if (mode === 'strict') {
    parts.push(trans.__('The strict setting makes this a failed round.'));
  }
  return parts.join(' ');
}

function formatSeconds(seconds: number): string {
  if (!seconds || seconds < 0) {
    return '0 s';
  }
  return seconds < 10 ? `${seconds.toFixed(2)} s` : `${Math.round(seconds)} s`;
}

function doneText(done: IDoneEvent, trans: TranslationBundle): string {
  const stats: string[] = [];
  if (done.completion_tokens) {
    stats.push(trans.__('%1 tokens', done.completion_tokens));
  }
  if (done.seconds) {
    stats.push(formatSeconds(done.seconds));
  }
  const suffix = stats.length ? ` · ${stats.join(' · ')}` : '';
  switch (done.reason) {
    case 'answered':
      return stats.join(' · ');
    case 'success':
      return `${trans.__('Done: %1', done.message || trans.__('the code ran without errors.'))}${suffix}`;
    case 'stopped':
      return `${trans.__('Stopped')}${suffix}`;
    default:
      return `${done.message}${suffix}`;
  }
}
