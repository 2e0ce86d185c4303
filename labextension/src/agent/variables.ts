import { NotebookPanel } from '@jupyterlab/notebook';
import { ServerConnection } from '@jupyterlab/services';

import { requestAPI } from '../handler';
import { INotebookContext } from '../protocol';
import { runSilently, SILENT_TIMEOUT_MS } from './kernel';

/** One variable as the model is told it (the protocol's VariableContext). */
export type IVariable = NonNullable<INotebookContext['variables']>[number];

/** What the kernel told of its variables (executors/values.py `kernel_context`). */
export interface IKernelVariables {
  /** The summary of the variables, newest first, within the server's budget. */
  variables: IVariable[];
  /** The fuller summaries of the variables the request names with `@name`. */
  attached: IVariable[];
  /** The user's data names, newest first (for completing `@name`). */
  names: string[];
  /** What the kernel spent, in seconds. */
  seconds: number;
}

/** Why there are no variables to tell ("off" is the setting). */
export type NoVariables =
  'busy' | 'timeout' | 'no-kernel' | 'not-python' | 'failed';

/** GET /autocoder/api/kernel-context (executors/kernel_code.py). */
interface IKernelCode {
  module: string;
  load: string;
  call: string;
  budget: number;
}

const OPTIONS_PLACEHOLDER = '__AUTOCODER_OPTIONS__';
/** Names for completion are asked again when they are older than this. */
const NAMES_FRESH_MS = 4000;

/**
 * The variables of a notebook's kernel, asked by a silent execution while the kernel is
 * idle (`runSilently`): the code is the server's (`executors/values.py`), sent to the
 * kernel once (again after a restart), so it works in a kernel whose environment does not
 * have jupyter-autocoder.
 */
export class KernelVariables {
  constructor(
    private readonly serverSettings: ServerConnection.ISettings = ServerConnection.makeSettings()
  ) {}

  /**
   * The variables of the kernel of `panel`, with the `@name` details of `details`; or why
   * there are none. Never waits behind a running cell.
   */
  async collect(
    panel: NotebookPanel,
    details: string[] = [],
    timeoutMs = SILENT_TIMEOUT_MS
  ): Promise<IKernelVariables | NoVariables> {
    const kernel = panel.sessionContext.session?.kernel;
    if (!kernel) {
      return 'no-kernel';
    }
    let code: IKernelCode;
    try {
      code = await this._code();
      const info = await kernel.info;
      if (info.language_info?.name !== 'python') {
        return 'not-python';
      }
    } catch (error) {
      console.warn(
        'jupyter-autocoder: cannot ask the kernel for its variables',
        error
      );
      return 'failed';
    }
    const call = code.call.replace(
      OPTIONS_PLACEHOLDER,
      JSON.stringify(JSON.stringify({ budget: code.budget, details }))
    );
    let answer = await runSilently(kernel, call, { timeoutMs });
    let parsed = lastJSONLine(answer.stdout);
    if (answer.status === 'ok' && parsed?.missing) {
      const loaded = await runSilently(kernel, code.load, { timeoutMs });
      if (loaded.status !== 'ok') {
        return failure(loaded.status);
      }
      answer = await runSilently(kernel, call, { timeoutMs });
      parsed = lastJSONLine(answer.stdout);
    }
    if (answer.status !== 'ok' || !parsed || parsed.missing) {
      if (answer.error) {
        console.warn(
          'jupyter-autocoder: the kernel could not tell its variables',
          answer.error
        );
      }
      return failure(answer.status);
    }
    const collected: IKernelVariables = {
      variables: parsed.variables ?? [],
      attached: parsed.attached ?? [],
      names: parsed.names ?? [],
      seconds: parsed.seconds ?? 0
    };
    this._names.set(kernel.id, { names: collected.names, at: Date.now() });
    return collected;
  }

  /** The user's data names in the kernel of `panel`, for completion (recent ones are reused). */
  async names(panel: NotebookPanel): Promise<string[]> {
    const kernel = panel.sessionContext.session?.kernel;
    if (!kernel) {
      return [];
    }
    const known = this._names.get(kernel.id);
    if (known && Date.now() - known.at < NAMES_FRESH_MS) {
      return known.names;
    }
    const collected = await this.collect(panel);
    if (typeof collected === 'string') {
      return known?.names ?? [];
    }
    return collected.names;
  }

  private _code(): Promise<IKernelCode> {
    if (!this._codeRequest) {
      this._codeRequest = requestAPI<IKernelCode>(
        'kernel-context',
        {},
        this.serverSettings
      ).catch(error => {
        this._codeRequest = null; // asked again next time
        throw error;
      });
    }
    return this._codeRequest;
  }

  private _codeRequest: Promise<IKernelCode> | null = null;
  private _names = new Map<string, { names: string[]; at: number }>();
}

function failure(status: string): NoVariables {
  return status === 'busy' || status === 'timeout' || status === 'no-kernel'
    ? status
    : 'failed';
}

function lastJSONLine(text: string): any {
  const lines = text.trim().split('\n');
  try {
    return JSON.parse(lines[lines.length - 1]);
  } catch {
    return null;
  }
}
