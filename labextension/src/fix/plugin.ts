import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette, Notification } from '@jupyterlab/apputils';
import { CodeCell } from '@jupyterlab/cells';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import {
  ITranslator,
  nullTranslator,
  TranslationBundle
} from '@jupyterlab/translation';

import { errorOf } from '../agent/context';
import { autocoderIcon } from '../icons';
import { CommandIDs, IAutoCoderPanel, TRANSLATION_DOMAIN } from '../tokens';
import { ErrorOutputButtons } from './buttons';
import { fixRequest } from './request';

/**
 * Fix with AutoCoder: the command (context menu of a code cell, palette) that sends a
 * failing cell and its error to the panel in Agent mode, and its button on every error
 * output.
 */
export const fixPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-autocoder:fix-buttons',
  description: 'Adds a "Fix with AutoCoder" button to error outputs.',
  autoStart: true,
  requires: [INotebookTracker, IAutoCoderPanel],
  optional: [ITranslator, ICommandPalette],
  activate: (
    app: JupyterFrontEnd,
    tracker: INotebookTracker,
    panel: IAutoCoderPanel,
    translator: ITranslator | null,
    palette: ICommandPalette | null
  ): void => {
    const trans = (translator ?? nullTranslator).load(TRANSLATION_DOMAIN);
    addFixCommand(app, tracker, panel, trans);
    palette?.addItem({
      command: CommandIDs.fixCell,
      category: trans.__('AutoCoder')
    });
    new ErrorOutputButtons(tracker, app.commands, trans);
  }
};

interface IFixTarget {
  notebook: NotebookPanel;
  cell: CodeCell;
}

/** The cell a fix is for: named by the arguments, or under the context menu, or active. */
function fixTarget(
  app: JupyterFrontEnd,
  tracker: INotebookTracker,
  args: Record<string, unknown>
): IFixTarget | null {
  const notebook =
    (typeof args.path === 'string' &&
      tracker.find(item => item.context.path === args.path)) ||
    tracker.currentWidget;
  if (!notebook) {
    return null;
  }
  let cell = notebook.content.activeCell;
  if (typeof args.cellId === 'string') {
    cell =
      notebook.content.widgets.find(item => item.model.id === args.cellId) ??
      null;
  } else {
    const node = app.contextMenuHitTest(element =>
      element.classList.contains('jp-CodeCell')
    );
    if (node) {
      cell = notebook.content.widgets.find(item => item.node === node) ?? cell;
    }
  }
  return cell instanceof CodeCell ? { notebook, cell } : null;
}

function addFixCommand(
  app: JupyterFrontEnd,
  tracker: INotebookTracker,
  panel: IAutoCoderPanel,
  trans: TranslationBundle
): void {
  app.commands.addCommand(CommandIDs.fixCell, {
    label: trans.__('Fix with AutoCoder'),
    caption: trans.__('Ask AutoCoder to fix the cell from its error'),
    icon: autocoderIcon,
    describedBy: {
      args: {
        type: 'object',
        properties: {
          path: {
            type: 'string',
            description: trans.__(
              'The path of the notebook (default: the notebook in focus)'
            )
          },
          cellId: {
            type: 'string',
            description: trans.__(
              'The id of the cell (default: the cell under the context menu, or the active cell)'
            )
          }
        }
      }
    },
    isEnabled: args => {
      const target = fixTarget(app, tracker, args);
      return !!target && !!errorOf(target.cell.model.outputs.toJSON());
    },
    execute: args => {
      const target = fixTarget(app, tracker, args);
      const error = target && errorOf(target.cell.model.outputs.toJSON());
      if (!target || !error) {
        Notification.warning(trans.__('This cell has no error to fix.'), {
          autoClose: 4000
        });
        return;
      }
      const { notebook, cell } = target;
      // The fix replaces the failing cell (the panel can put it back), and the context
      // names its error.
      notebook.content.activeCellIndex = notebook.content.widgets.indexOf(cell);
      notebook.content.deselectAll();
      if (tracker.currentWidget !== notebook) {
        app.shell.activateById(notebook.id);
      }
      panel.setNotebook(notebook);
      app.shell.activateById(panel.id);
      if (panel.running) {
        Notification.warning(
          trans.__(
            'AutoCoder is still working in this notebook; stop it first.'
          ),
          { autoClose: 4000 }
        );
        return;
      }
      panel.send(
        fixRequest(cell.model.sharedModel.getSource(), error),
        'agent',
        { fixCell: cell.model.id }
      );
    }
  });
}
