import { CodeCell } from '@jupyterlab/cells';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { TranslationBundle } from '@jupyterlab/translation';
import { bugIcon } from '@jupyterlab/ui-components';
import { CommandRegistry } from '@lumino/commands';

import { CommandIDs } from '../tokens';

const BUTTON_CLASS = 'jp-AutoCoder-fixButton';
const ROW_CLASS = 'jp-AutoCoder-fixRow';

/**
 * Puts a "Fix with AutoCoder" button on every error output of every notebook; it runs
 * the fix command for that cell.
 */
export class ErrorOutputButtons {
  constructor(
    tracker: INotebookTracker,
    private readonly commands: CommandRegistry,
    private readonly trans: TranslationBundle
  ) {
    tracker.widgetAdded.connect((_, panel) => this._watchNotebook(panel));
    tracker.forEach(panel => this._watchNotebook(panel));
  }

  private _watchNotebook(panel: NotebookPanel): void {
    const notebook = panel.content;
    const scan = () => {
      for (const cell of notebook.widgets) {
        if (cell instanceof CodeCell) {
          this._watchCell(panel, cell);
        }
      }
    };
    const watchModel = () => {
      const model = notebook.model;
      if (model && !this._watchedModels.has(model)) {
        this._watchedModels.add(model);
        model.cells.changed.connect(() => requestAnimationFrame(scan));
      }
      scan();
    };
    notebook.modelChanged.connect(watchModel);
    void panel.context.ready.then(watchModel);
  }

  private _watchCell(panel: NotebookPanel, cell: CodeCell): void {
    if (this._watched.has(cell)) {
      return;
    }
    this._watched.add(cell);
    let frame = 0;
    const decorate = () => {
      if (frame === 0) {
        frame = requestAnimationFrame(() => {
          frame = 0;
          this._decorate(panel, cell);
        });
      }
    };
    cell.model.outputs.changed.connect(decorate);
    cell.outputArea.outputLengthChanged.connect(decorate);
    decorate();
  }

  /**
   * Put a button row right after each error output. The rows are plain nodes in the
   * output area, so they are all redone whenever the outputs change (a cleared area
   * must not keep a button for an error that is gone).
   */
  private _decorate(panel: NotebookPanel, cell: CodeCell): void {
    if (cell.isDisposed) {
      return;
    }
    const area = cell.outputArea;
    for (const row of Array.from(area.node.querySelectorAll(`.${ROW_CLASS}`))) {
      row.remove();
    }
    const model = area.model;
    for (let index = 0; index < model.length; index++) {
      const child = area.widgets[index];
      if (!child || model.get(index).type !== 'error') {
        continue;
      }
      const button = document.createElement('button');
      button.type = 'button';
      button.className = BUTTON_CLASS;
      button.title = this.trans.__(
        'Ask AutoCoder to fix this cell from its traceback'
      );
      bugIcon.element({
        container: button,
        tag: 'span',
        elementSize: 'normal'
      });
      const text = document.createElement('span');
      text.textContent = this.trans.__('Fix with AutoCoder');
      button.appendChild(text);
      button.addEventListener('click', event => {
        event.stopPropagation();
        void this.commands.execute(CommandIDs.fixCell, {
          path: panel.context.path,
          cellId: cell.model.id
        });
      });
      const row = document.createElement('div');
      row.className = ROW_CLASS;
      row.appendChild(button);
      child.node.insertAdjacentElement('afterend', row);
    }
  }

  private _watched = new WeakSet<CodeCell>();
  private _watchedModels = new WeakSet<object>();
}
