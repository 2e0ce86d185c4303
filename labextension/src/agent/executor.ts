import { ISessionContext } from '@jupyterlab/apputils';
import { CodeCell, MarkdownCell } from '@jupyterlab/cells';
import type * as nbformat from '@jupyterlab/nbformat';
import {
  INotebookTracker,
  Notebook,
  NotebookPanel
} from '@jupyterlab/notebook';
import { KernelMessage } from '@jupyterlab/services';
import { ISignal, Signal } from '@lumino/signaling';

import {
  IInterruptMessage,
  IRunCellMessage,
  IRunResultMessage,
  RunStatus
} from '../protocol';

/** A run_result larger than this has its largest outputs shortened (the server refuses 4 MiB). */
const RESULT_BUDGET_CHARS = 3 * 1024 * 1024;

/** What the executor needs from the rest of the panel. */
export interface IExecutorHost {
  /** Send a run_result; false when the socket it answers has gone. */
  reply(result: IRunResultMessage): boolean;
  /**
   * Whether the user lets the agent's cell run (the "ask before running" setting).
   * Resolves true at once when the setting is off.
   */
  confirmRun(message: IRunCellMessage, cell: CodeCell): Promise<boolean>;
}

/** Output of an install or a shell command, as it arrives (shown in the panel). */
export interface IRunOutput {
  notebook: string;
  id: string;
  purpose: IRunCellMessage['purpose'];
  text: string;
}

/** The problem that kept a run from happening, told to the user in the panel. */
export interface IRunProblem {
  notebook: string;
  id: string;
  message: string;
}

/** A cell as it was before the agent's code replaced it. */
export interface ICellVersion {
  source: string;
  outputs: nbformat.IOutput[];
  executionCount: number | null;
}

/** A turn's code replaced a cell: a failed attempt of the turn, or the cell a fix is for. */
export interface ICellReplaced {
  notebook: string;
  session: string;
  turn: number;
  /** The cell that now holds the turn's code. */
  cellId: string;
  /** Every version it replaced so far in this turn, oldest first. */
  versions: readonly ICellVersion[];
}

/** The kernel's answer to a restore: whether the variable is back, and a sentence. */
export interface IRestoreAnswer {
  restored: boolean;
  message: string;
}

/** A Python identifier (the guard in the kernel checks it again). */
const IDENTIFIER = /^[\p{L}_][\p{L}\p{N}_]*$/u;

/** The code that asks the kernel's guard (jupyter_autocoder/executors/guard.py) to restore. */
export function restoreCode(name: string): string {
  const guard =
    "__import__('jupyter_autocoder.executors.guard', fromlist=['guard'])";
  return (
    `print(__import__('json').dumps(${guard}.call(get_ipython(), 'restore', ` +
    `{'name': ${JSON.stringify(name)}})))`
  );
}

interface IActiveRun {
  notebook: string;
  sessionContext: ISessionContext;
  interrupted: boolean;
  /** Resolves a pending "ask before running" as declined. */
  cancelConfirm?: () => void;
}

/**
 * The browser side of the agent: runs the code of `run_cell` in the notebook's own
 * kernel and answers `run_result` with the nbformat outputs (docs/protocol.md).
 *
 * Code the user should see (`purpose: "code"`) goes into a new cell below the active
 * cell, or below the agent's previous cell of the same turn; with `replaces`, into the
 * cell of that earlier run (a correction replaces the code it corrects, so the notebook
 * keeps no trail of failed attempts); the first code of a Fix replaces the cell it fixes.
 * The versions replaced are kept, and `restoreReplaced` puts them back. Installs, shell
 * commands and probes run in the kernel without a cell. An exploration's Markdown cells
 * (`purpose: "markdown"`) are put in and rendered, nothing run.
 */
export class NotebookExecutor {
  constructor(
    private readonly tracker: INotebookTracker,
    private readonly host: IExecutorHost
  ) {}

  /** Install / shell output as it streams. */
  get runOutput(): ISignal<this, IRunOutput> {
    return this._runOutput;
  }

  /** A run that could not happen (no notebook, no kernel). */
  get runProblem(): ISignal<this, IRunProblem> {
    return this._runProblem;
  }

  /** The agent's code replaced a cell's code (its earlier versions are kept). */
  get cellReplaced(): ISignal<this, ICellReplaced> {
    return this._cellReplaced;
  }

  /**
   * The first code of this turn replaces the cell `cellId` (the cell "Fix with AutoCoder"
   * is for) instead of going into a new cell.
   */
  fixCellOfTurn(
    notebook: string,
    session: string,
    turn: number,
    cellId: string
  ): void {
    this._fixTargets.set(turnKeyOf(notebook, session, turn), cellId);
  }

  /**
   * Put the versions a turn's code replaced back into the notebook, as cells above the
   * turn's cell (with their outputs), as they were; false when there is nothing to put
   * back or the cell is gone.
   */
  restoreReplaced(notebook: string, session: string, turn: number): boolean {
    const key = turnKeyOf(notebook, session, turn);
    const replaced = this._replaced.get(key);
    const panel = this.findNotebook(notebook);
    if (!replaced || !panel?.content.model) {
      return false;
    }
    const notebookWidget = panel.content;
    const index = notebookWidget.widgets.findIndex(
      widget => widget.model.id === replaced.cellId
    );
    if (index < 0) {
      return false;
    }
    notebookWidget.model!.sharedModel.transact(() => {
      replaced.versions.forEach((version, offset) => {
        notebookWidget.model!.sharedModel.insertCell(index + offset, {
          cell_type: 'code',
          source: version.source,
          outputs: version.outputs as any,
          execution_count: version.executionCount,
          metadata: { trusted: true }
        });
      });
    });
    this._replaced.delete(key);
    return true;
  }

  /** The notebook panel open for `path`, if any. */
  findNotebook(path: string): NotebookPanel | null {
    const wanted = normalize(path);
    return (
      this.tracker.find(panel => normalize(panel.context.path) === wanted) ??
      null
    );
  }

  async runCell(message: IRunCellMessage): Promise<void> {
    const started = performance.now();
    const panel = this.findNotebook(message.notebook);
    if (!panel) {
      this._refuse(
        message,
        `The notebook ${message.notebook} is not open; open it to let the agent run code.`
      );
      return;
    }
    if (message.purpose === 'markdown') {
      this._writeMarkdown(panel, message);
      this._reply(message, started, {
        outputs: [],
        status: 'ok',
        executionCount: null
      });
      return;
    }
    const sessionContext = panel.sessionContext;
    const run: IActiveRun = {
      notebook: message.notebook,
      sessionContext,
      interrupted: false
    };
    this._runs.set(message.id, run);
    try {
      await sessionContext.ready;
      if (!sessionContext.session?.kernel) {
        this._refuse(
          message,
          'The notebook has no kernel. Select a kernel, then ask again.'
        );
        return;
      }
      let outputs: nbformat.IOutput[];
      let executionCount: number | null = null;
      let status: RunStatus;
      if (message.purpose === 'code') {
        const cell =
          this._replaceCell(panel, message) ?? this._insertCell(panel, message);
        const confirmed = await Promise.race([
          this.host.confirmRun(message, cell),
          new Promise<boolean>(resolve => {
            run.cancelConfirm = () => resolve(false);
          })
        ]);
        run.cancelConfirm = undefined;
        if (!confirmed) {
          this._reply(message, started, {
            outputs: [
              {
                output_type: 'stream',
                name: 'stderr',
                text: 'The user chose not to run this cell.'
              }
            ],
            status: 'interrupted',
            executionCount: null
          });
          return;
        }
        const reply = await CodeCell.execute(cell, sessionContext, {
          recordTiming: panel.content.notebookConfig.recordTiming
        });
        outputs = cell.model.outputs.toJSON();
        executionCount =
          reply?.content.execution_count ?? cell.model.executionCount ?? null;
        status = statusOf(outputs, run.interrupted, reply?.content.status);
      } else {
        const collected = await this._runSilently(message, sessionContext);
        outputs = collected.outputs;
        status = statusOf(outputs, run.interrupted, collected.status);
      }
      this._reply(message, started, { outputs, status, executionCount });
    } catch (error) {
      this._reply(message, started, {
        outputs: [
          {
            output_type: 'stream',
            name: 'stderr',
            text: `The cell could not be run: ${(error as Error).message ?? error}`
          }
        ],
        status: run.interrupted ? 'interrupted' : 'error',
        executionCount: null
      });
    } finally {
      this._runs.delete(message.id);
    }
  }

  /**
   * Put back `name` in the notebook's kernel, as it was before the agent's last turn
   * replaced or deleted it: the guard's "restore", run silently (no cell, no history).
   */
  async restoreVariable(
    notebook: string,
    name: string
  ): Promise<IRestoreAnswer> {
    if (!IDENTIFIER.test(name)) {
      return { restored: false, message: `Not a variable name: ${name}` };
    }
    const panel = this.findNotebook(notebook);
    if (!panel) {
      return {
        restored: false,
        message: `The notebook ${notebook} is not open; open it to restore ${name}.`
      };
    }
    await panel.sessionContext.ready;
    const kernel = panel.sessionContext.session?.kernel;
    if (!kernel) {
      return { restored: false, message: 'The notebook has no kernel.' };
    }
    let printed = '';
    let failure = '';
    const future = kernel.requestExecute({
      code: restoreCode(name),
      silent: false,
      store_history: false,
      allow_stdin: false,
      stop_on_error: false
    });
    future.onIOPub = msg => {
      const output = toOutput(msg);
      if (output && output !== 'clear' && output.output_type === 'stream') {
        printed += String(output.text);
      } else if (
        output &&
        output !== 'clear' &&
        output.output_type === 'error'
      ) {
        failure = `${output.ename}: ${output.evalue}`;
      }
    };
    await future.done;
    if (failure) {
      return {
        restored: false,
        message: `Restoring ${name} failed: ${failure}`
      };
    }
    try {
      const answer = JSON.parse(printed.trim().split('\n').pop() ?? '');
      return {
        restored: answer.restored === true,
        message: String(answer.message ?? '')
      };
    } catch {
      return {
        restored: false,
        message: `The kernel did not answer the restore of ${name}.`
      };
    }
  }

  /** Interrupt the kernel running cell `id` (never restart it). */
  async interrupt(message: IInterruptMessage): Promise<void> {
    const run = this._runs.get(message.id);
    if (!run) {
      return; // already answered
    }
    run.interrupted = true;
    if (run.cancelConfirm) {
      run.cancelConfirm();
      return;
    }
    try {
      await run.sessionContext.session?.kernel?.interrupt();
    } catch (error) {
      console.warn('jupyter-autocoder: interrupting the kernel failed', error);
    }
  }

  /**
   * Insert the agent's cell: below its previous cell of the same turn, else below the
   * active cell. The new cell becomes active unless the user is typing in another one.
   */
  private _insertCell(
    panel: NotebookPanel,
    message: IRunCellMessage
  ): CodeCell {
    const notebook = panel.content;
    const model = notebook.model!;
    const turnKey = `${message.session}:${message.turn}`;
    const previous = this._lastCells.get(panel.context.path);
    let anchor = -1;
    if (previous && previous.turnKey === turnKey) {
      anchor = notebook.widgets.findIndex(
        widget => widget.model.id === previous.cellId
      );
    }
    let index: number;
    const active = notebook.activeCell;
    if (
      anchor < 0 &&
      active instanceof CodeCell &&
      !active.model.sharedModel.getSource().trim() &&
      active.model.outputs.length === 0
    ) {
      // An empty cell (the one Shift+Enter leaves at the end): use it, leave no blank.
      index = notebook.activeCellIndex;
      active.model.sharedModel.setSource(message.code);
    } else {
      if (anchor < 0) {
        anchor =
          notebook.activeCellIndex >= 0
            ? notebook.activeCellIndex
            : notebook.widgets.length - 1;
      }
      index = anchor + 1;
      model.sharedModel.insertCell(index, {
        cell_type: 'code',
        source: message.code,
        metadata: { trusted: true }
      });
    }
    const cell = notebook.widgets[index] as CodeCell;
    this._rememberCell(message, panel, cell);
    this._showCell(notebook, index);
    return cell;
  }

  /**
   * An exploration's Markdown cell, rendered: below the turn's last cell; with `replaces`,
   * in place of that run's code cell (a step that never ran cleanly: its failing cell
   * goes, and can be restored like a replaced version); with `above`, above that run's
   * cell (the opening, above the cell that loaded the data). The next code of the turn
   * goes below it, except after one put above.
   */
  private _writeMarkdown(panel: NotebookPanel, message: IRunCellMessage): void {
    const notebook = panel.content;
    const model = notebook.model;
    if (!model) {
      return;
    }
    const indexOfRun = (id: string | null | undefined): number => {
      const cellId = id ? this._runCells.get(id) : undefined;
      return cellId
        ? notebook.widgets.findIndex(widget => widget.model.id === cellId)
        : -1;
    };
    const key = turnKeyOf(message.notebook, message.session, message.turn);
    const replaced = indexOfRun(message.replaces);
    const above = indexOfRun(message.above);
    let index: number;
    if (replaced >= 0) {
      const cell = notebook.widgets[replaced];
      const kept = this._replaced.get(key) ?? {
        cellId: '',
        versions: []
      };
      if (cell instanceof CodeCell) {
        kept.versions = [
          ...(kept.cellId === cell.model.id ? kept.versions : []),
          {
            source: cell.model.sharedModel.getSource(),
            outputs: cell.model.outputs.toJSON(),
            executionCount: cell.model.executionCount ?? null
          }
        ];
      }
      model.sharedModel.transact(() => {
        model.sharedModel.deleteCell(replaced);
        model.sharedModel.insertCell(replaced, {
          cell_type: 'markdown',
          source: message.code
        });
      });
      index = replaced;
      kept.cellId = notebook.widgets[index].model.id;
      this._replaced.set(key, kept);
    } else if (above >= 0) {
      index = above;
      model.sharedModel.insertCell(index, {
        cell_type: 'markdown',
        source: message.code
      });
    } else {
      const turnKey = `${message.session}:${message.turn}`;
      const previous = this._lastCells.get(panel.context.path);
      let anchor =
        previous && previous.turnKey === turnKey
          ? notebook.widgets.findIndex(
              widget => widget.model.id === previous.cellId
            )
          : -1;
      if (anchor < 0) {
        anchor =
          notebook.activeCellIndex >= 0
            ? notebook.activeCellIndex
            : notebook.widgets.length - 1;
      }
      index = anchor + 1;
      model.sharedModel.insertCell(index, {
        cell_type: 'markdown',
        source: message.code
      });
    }
    const cell = notebook.widgets[index];
    if (cell instanceof MarkdownCell) {
      cell.rendered = true;
    }
    this._runCells.set(message.id, cell.model.id);
    if (above < 0 || replaced >= 0) {
      this._lastCells.set(panel.context.path, {
        turnKey: `${message.session}:${message.turn}`,
        cellId: cell.model.id
      });
    }
    this._showCell(notebook, index);
  }

  /**
   * The cell this code replaces, its source set to the code: the cell of the earlier run
   * `replaces` names, or the cell a Fix is for; null when there is none (or it was
   * deleted meanwhile), and the code goes into a new cell.
   */
  private _replaceCell(
    panel: NotebookPanel,
    message: IRunCellMessage
  ): CodeCell | null {
    const key = turnKeyOf(message.notebook, message.session, message.turn);
    const cellId = message.replaces
      ? this._runCells.get(message.replaces)
      : this._fixTargets.get(key);
    this._fixTargets.delete(key);
    const notebook = panel.content;
    const index = cellId
      ? notebook.widgets.findIndex(widget => widget.model.id === cellId)
      : -1;
    const cell = index >= 0 ? notebook.widgets[index] : null;
    if (!(cell instanceof CodeCell)) {
      return null;
    }
    const replaced = this._replaced.get(key) ?? {
      cellId: cell.model.id,
      versions: []
    };
    if (replaced.cellId !== cell.model.id) {
      replaced.cellId = cell.model.id;
      replaced.versions = [];
    }
    replaced.versions.push({
      source: cell.model.sharedModel.getSource(),
      outputs: cell.model.outputs.toJSON(),
      executionCount: cell.model.executionCount ?? null
    });
    this._replaced.set(key, replaced);
    cell.model.sharedModel.setSource(message.code);
    cell.model.outputs.clear();
    this._rememberCell(message, panel, cell);
    this._showCell(notebook, index);
    this._cellReplaced.emit({
      notebook: message.notebook,
      session: message.session,
      turn: message.turn,
      cellId: cell.model.id,
      versions: [...replaced.versions]
    });
    return cell;
  }

  /** The cell of run `message.id` (a later code of the turn may replace it). */
  private _rememberCell(
    message: IRunCellMessage,
    panel: NotebookPanel,
    cell: CodeCell
  ): void {
    this._runCells.set(message.id, cell.model.id);
    if (this._runCells.size > MAX_REMEMBERED_RUNS) {
      const oldest = this._runCells.keys().next().value;
      if (oldest !== undefined) {
        this._runCells.delete(oldest);
      }
    }
    this._lastCells.set(panel.context.path, {
      turnKey: `${message.session}:${message.turn}`,
      cellId: cell.model.id
    });
  }

  private _showCell(notebook: Notebook, index: number): void {
    const active = notebook.activeCellIndex;
    const typingElsewhere =
      notebook.mode === 'edit' && active !== index && active !== index - 1;
    if (!typingElsewhere) {
      notebook.activeCellIndex = index;
      notebook.deselectAll();
    }
    void notebook.scrollToItem(index, 'smart').catch(() => undefined);
  }

  /** Run code in the kernel without a cell, collecting its outputs as nbformat does. */
  private async _runSilently(
    message: IRunCellMessage,
    sessionContext: ISessionContext
  ): Promise<{ outputs: nbformat.IOutput[]; status: string | undefined }> {
    const kernel = sessionContext.session!.kernel!;
    const outputs: nbformat.IOutput[] = [];
    const future = kernel.requestExecute({
      code: message.code,
      silent: false,
      store_history: false,
      allow_stdin: false,
      stop_on_error: true
    });
    future.onIOPub = msg => {
      const output = toOutput(msg);
      if (output === 'clear') {
        outputs.length = 0;
        return;
      }
      if (!output) {
        return;
      }
      const last = outputs[outputs.length - 1];
      if (
        output.output_type === 'stream' &&
        last?.output_type === 'stream' &&
        last.name === output.name
      ) {
        last.text = String(last.text) + String(output.text);
      } else {
        outputs.push(output);
      }
      if (message.purpose !== 'probe') {
        const text =
          output.output_type === 'stream'
            ? String(output.text)
            : output.output_type === 'error'
              ? `${output.ename}: ${output.evalue}\n`
              : '';
        if (text) {
          this._runOutput.emit({
            notebook: message.notebook,
            id: message.id,
            purpose: message.purpose,
            text
          });
        }
      }
    };
    const reply = await future.done;
    return { outputs, status: reply?.content.status };
  }

  private _refuse(message: IRunCellMessage, text: string): void {
    this._runProblem.emit({
      notebook: message.notebook,
      id: message.id,
      message: text
    });
    // "interrupted": the turn ends as stopped; an error would make the model "fix" its code.
    this.host.reply({
      type: 'run_result',
      id: message.id,
      outputs: [{ output_type: 'stream', name: 'stderr', text }],
      status: 'interrupted',
      execution_count: null,
      duration: 0
    });
  }

  private _reply(
    message: IRunCellMessage,
    started: number,
    result: {
      outputs: nbformat.IOutput[];
      status: RunStatus;
      executionCount: number | null;
    }
  ): void {
    this.host.reply({
      type: 'run_result',
      id: message.id,
      outputs: fitOutputs(result.outputs, RESULT_BUDGET_CHARS),
      status: result.status,
      execution_count: result.executionCount,
      duration: (performance.now() - started) / 1000
    });
  }

  private _runs = new Map<string, IActiveRun>();
  private _lastCells = new Map<string, { turnKey: string; cellId: string }>();
  /** Run id -> the id of the cell its code went into. */
  private _runCells = new Map<string, string>();
  /** Turn -> the cell the turn's first code replaces (Fix with AutoCoder). */
  private _fixTargets = new Map<string, string>();
  /** Turn -> its cell and the versions its code replaced there. */
  private _replaced = new Map<
    string,
    { cellId: string; versions: ICellVersion[] }
  >();
  private _runOutput = new Signal<this, IRunOutput>(this);
  private _runProblem = new Signal<this, IRunProblem>(this);
  private _cellReplaced = new Signal<this, ICellReplaced>(this);
}

/** Runs whose cells are remembered (a turn has a few; the oldest are forgotten). */
const MAX_REMEMBERED_RUNS = 500;

function normalize(path: string): string {
  return path.replace(/^\/+/, '');
}

function turnKeyOf(notebook: string, session: string, turn: number): string {
  return `${normalize(notebook)}\u0000${session}\u0000${turn}`;
}

function statusOf(
  outputs: nbformat.IOutput[],
  interrupted: boolean,
  replyStatus: string | undefined
): RunStatus {
  if (interrupted) {
    return 'interrupted';
  }
  if (
    replyStatus === 'error' ||
    replyStatus === 'aborted' ||
    outputs.some(output => output.output_type === 'error')
  ) {
    return 'error';
  }
  return 'ok';
}

/** An iopub message as an nbformat output; 'clear' for clear_output; null for others. */
function toOutput(
  msg: KernelMessage.IIOPubMessage
): nbformat.IOutput | 'clear' | null {
  const content = msg.content as any;
  switch (msg.header.msg_type) {
    case 'stream':
      return { output_type: 'stream', name: content.name, text: content.text };
    case 'display_data':
      return {
        output_type: 'display_data',
        data: content.data,
        metadata: content.metadata ?? {}
      };
    case 'execute_result':
      return {
        output_type: 'execute_result',
        data: content.data,
        metadata: content.metadata ?? {},
        execution_count: content.execution_count
      };
    case 'error':
      return {
        output_type: 'error',
        ename: content.ename,
        evalue: content.evalue,
        traceback: content.traceback
      };
    case 'clear_output':
      return 'clear';
    default:
      return null;
  }
}

/**
 * Outputs within `budget` characters: the largest mime values (images, big HTML) are
 * replaced by a short note until the whole fits. Text and errors are kept.
 */
export function fitOutputs(
  outputs: nbformat.IOutput[],
  budget: number
): nbformat.IOutput[] {
  const copy: nbformat.IOutput[] = JSON.parse(JSON.stringify(outputs));
  let size = JSON.stringify(copy).length;
  if (size <= budget) {
    return copy;
  }
  const values: { data: any; mime: string; length: number }[] = [];
  for (const output of copy) {
    const data = (output as nbformat.IDisplayData).data as any;
    if (data && typeof data === 'object') {
      for (const mime of Object.keys(data)) {
        if (mime !== 'text/plain') {
          const length = JSON.stringify(data[mime]).length;
          values.push({ data, mime, length });
        }
      }
    }
  }
  values.sort((a, b) => b.length - a.length);
  for (const value of values) {
    if (size <= budget) {
      break;
    }
    delete value.data[value.mime];
    if (!value.data['text/plain']) {
      value.data['text/plain'] =
        `[${value.mime} omitted: ${value.length} characters]`;
    }
    size -= value.length;
  }
  return copy;
}
