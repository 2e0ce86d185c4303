import { TranslationBundle } from '@jupyterlab/translation';

import { IPlanEvent } from '../protocol';

/** What the plan's card may ask of the panel. */
export interface IPlanHost {
  trans: TranslationBundle;
  /** The steps to run, as the user left them; null: cancel the exploration. */
  runPlan(steps: string[] | null): void;
  /** Finish the step in progress, begin no other, write the summary. */
  stopAfterStep(): void;
}

/**
 * An exploration's plan in the panel. While it waits for the user (`review`), each step
 * is a text field that can be edited or dropped, steps can be added, and Run or Cancel
 * answer it; then it is the list of steps with where each stands, and a "Stop after this
 * step" button while steps run.
 */
export class PlanView {
  constructor(private readonly host: IPlanHost) {
    const trans = host.trans;
    this.node = document.createElement('div');
    this.node.className = 'jp-AutoCoder-card jp-AutoCoder-planCard';
    this._title = document.createElement('div');
    this._title.className = 'jp-AutoCoder-cardStatus';
    this._list = document.createElement('ol');
    this._list.className = 'jp-AutoCoder-planSteps';
    this._buttons = document.createElement('div');
    this._buttons.className = 'jp-AutoCoder-cardButtons';
    this._stopButton = button(
      trans.__('Stop after this step'),
      'reject',
      () => {
        this._stopButton.disabled = true;
        this.host.stopAfterStep();
      }
    );
    this._stopButton.classList.add('jp-AutoCoder-stopAfterStep');
    this._stopButton.hidden = true;
    this.node.append(this._title, this._list, this._buttons, this._stopButton);
  }

  readonly node: HTMLDivElement;

  /** A `plan` event: the editor when it waits for the user and the turn runs, else the list. */
  update(event: IPlanEvent, running: boolean): void {
    const trans = this.host.trans;
    this.node.dataset.target = event.target;
    if (event.review && running && !this._answered) {
      this.node.dataset.state = 'review';
      this._title.textContent = trans.__(
        'The plan to explore %1: edit, drop or add steps, then Run',
        event.target
      );
      this._showEditor(event.steps.map(step => step.title));
      return;
    }
    this.node.dataset.state = 'plan';
    this._title.textContent = trans.__('Exploring %1', event.target);
    this._buttons.replaceChildren();
    this._list.replaceChildren(
      ...event.steps.map(step => {
        const item = document.createElement('li');
        item.className = 'jp-AutoCoder-planStep';
        item.dataset.status = step.status;
        item.textContent = step.title;
        const status = document.createElement('span');
        status.className = 'jp-AutoCoder-planStatus';
        status.textContent = statusText(step.status, trans);
        item.append(' ', status);
        return item;
      })
    );
  }

  /** Whether steps may still begin (the "Stop after this step" button shows). */
  setRunning(running: boolean): void {
    this._stopButton.hidden = !running || this.node.dataset.state !== 'plan';
  }

  private _showEditor(titles: string[]): void {
    const trans = this.host.trans;
    this._list.replaceChildren();
    for (const title of titles) {
      this._addField(title);
    }
    const add = button(trans.__('Add a step'), 'neutral', () => {
      this._addField('').focus();
    });
    add.classList.add('jp-AutoCoder-planAdd');
    const run = button(trans.__('Run'), 'accept', () => {
      const steps = this._fields()
        .map(field => field.value.trim())
        .filter(Boolean);
      this._answer(steps.length ? steps : null);
    });
    run.classList.add('jp-AutoCoder-planRun');
    const cancel = button(trans.__('Cancel'), 'reject', () =>
      this._answer(null)
    );
    cancel.classList.add('jp-AutoCoder-planCancel');
    this._buttons.replaceChildren(add, run, cancel);
  }

  private _addField(title: string): HTMLInputElement {
    const trans = this.host.trans;
    const item = document.createElement('li');
    item.className = 'jp-AutoCoder-planStep';
    const field = document.createElement('input');
    field.type = 'text';
    field.className = 'jp-AutoCoder-planField';
    field.value = title;
    field.setAttribute('aria-label', trans.__('Step'));
    field.addEventListener('keydown', event => {
      if (event.key === 'Enter') {
        event.preventDefault();
      }
    });
    const drop = button('×', 'neutral', () => item.remove());
    drop.classList.add('jp-AutoCoder-planDrop');
    drop.title = trans.__('Drop this step');
    drop.setAttribute('aria-label', trans.__('Drop this step'));
    item.append(field, drop);
    this._list.appendChild(item);
    return field;
  }

  private _fields(): HTMLInputElement[] {
    return Array.from(
      this._list.querySelectorAll<HTMLInputElement>('.jp-AutoCoder-planField')
    );
  }

  private _answer(steps: string[] | null): void {
    this._answered = true;
    // The editor's fields and buttons (not "Stop after this step", which comes later).
    for (const element of [
      ...Array.from(
        this._list.querySelectorAll<HTMLButtonElement | HTMLInputElement>(
          'button, input'
        )
      ),
      ...Array.from(this._buttons.querySelectorAll('button'))
    ]) {
      element.disabled = true;
    }
    this._title.textContent = steps
      ? this.host.trans.__('Running the plan…')
      : this.host.trans.__('Cancelled');
    this.host.runPlan(steps);
  }

  private _title: HTMLDivElement;
  private _list: HTMLOListElement;
  private _buttons: HTMLDivElement;
  private _stopButton: HTMLButtonElement;
  private _answered = false;
}

function button(
  label: string,
  kind: 'accept' | 'reject' | 'neutral',
  onClick: () => void
): HTMLButtonElement {
  const element = document.createElement('button');
  element.type = 'button';
  element.className = `jp-AutoCoder-button jp-mod-${kind}`;
  element.textContent = label;
  element.addEventListener('click', onClick);
  return element;
}

function statusText(
  status: IPlanEvent['steps'][number]['status'],
  trans: TranslationBundle
): string {
  switch (status) {
    case 'running':
      return trans.__('(running)');
    case 'done':
      return trans.__('(done)');
    case 'failed':
      return trans.__('(did not run cleanly)');
    case 'stopped':
      return trans.__('(not run: stopped)');
    case 'dropped':
      return trans.__('(dropped)');
    default:
      return '';
  }
}
