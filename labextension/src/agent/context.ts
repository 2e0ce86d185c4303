import { ICodeCellModel } from '@jupyterlab/cells';
import type * as nbformat from '@jupyterlab/nbformat';
import { NotebookPanel } from '@jupyterlab/notebook';

import { INotebookContext } from '../protocol';

/** Characters of one cell's output told to the model (the server cuts further). */
const OUTPUT_CHARS = 1500;

/** The error output of a cell, as nbformat has it. */
export type ErrorOutput = nbformat.IError;

/**
 * What the model is told about the notebook: the last `maxCells` code cells up to the
 * active one (sources and short outputs) and the most recent error among them.
 */
export function notebookContext(
  panel: NotebookPanel,
  maxCells: number
): INotebookContext {
  const notebook = panel.content;
  const last =
    notebook.activeCellIndex >= 0
      ? notebook.activeCellIndex
      : notebook.widgets.length - 1;
  const cells: NonNullable<INotebookContext['cells']> = [];
  let lastError: { count: number; text: string } | null = null;
  for (let index = 0; index <= last; index++) {
    const model = notebook.widgets[index]?.model;
    if (!model || model.type !== 'code') {
      continue;
    }
    const codeModel = model as ICodeCellModel;
    const outputs = codeModel.outputs.toJSON();
    const error = errorOf(outputs);
    if (error) {
      // The active cell's error wins; else the most recently executed one.
      const count =
        index === notebook.activeCellIndex
          ? Number.MAX_SAFE_INTEGER
          : (codeModel.executionCount ?? 0);
      if (!lastError || count >= lastError.count) {
        lastError = { count, text: tracebackText(error) };
      }
    }
    const source = codeModel.sharedModel.getSource();
    if (!source.trim()) {
      continue;
    }
    cells.push({
      source,
      output: outputText(outputs, OUTPUT_CHARS),
      execution_count: codeModel.executionCount ?? null
    });
  }
  const context: INotebookContext = {
    cells: maxCells > 0 ? cells.slice(-maxCells) : [],
    notebook_path: panel.context.path
  };
  if (lastError) {
    context.last_error = lastError.text;
  }
  return context;
}

/** The first error output among `outputs`, if any. */
export function errorOf(outputs: nbformat.IOutput[]): ErrorOutput | null {
  const found = outputs.find(output => output.output_type === 'error');
  return (found as ErrorOutput | undefined) ?? null;
}

/** The traceback of an error output as plain text (ANSI colour codes removed). */
export function tracebackText(error: ErrorOutput): string {
  const lines = Array.isArray(error.traceback) ? error.traceback : [];
  const text = lines.length
    ? lines.join('\n')
    : `${error.ename}: ${error.evalue}`;
  return stripAnsi(text);
}

// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;?]*[ -/]*[@-~]/g;

export function stripAnsi(text: string): string {
  return text.replace(ANSI, '');
}

/** A short text of a cell's outputs: streams, plain-text results, errors, image notes. */
export function outputText(outputs: nbformat.IOutput[], limit: number): string {
  const parts: string[] = [];
  for (const output of outputs) {
    switch (output.output_type) {
      case 'stream':
        parts.push(joined(output.text));
        break;
      case 'error':
        parts.push(`${output.ename}: ${output.evalue}`);
        break;
      case 'execute_result':
      case 'display_data': {
        const data = (output as nbformat.IDisplayData).data ?? {};
        if (data['text/plain'] !== undefined) {
          parts.push(joined(data['text/plain']));
        } else {
          const mimes = Object.keys(data);
          if (mimes.length) {
            parts.push(`[${mimes[0]}]`);
          }
        }
        break;
      }
      default:
        break;
    }
  }
  const text = stripAnsi(parts.join('\n'));
  if (text.length <= limit) {
    return text;
  }
  const half = Math.floor(limit / 2);
  return `${text.slice(0, half)}\n…\n${text.slice(-half)}`;
}

function joined(value: unknown): string {
  return Array.isArray(value) ? value.join('') : String(value ?? '');
}
