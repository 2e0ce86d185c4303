import { Kernel, KernelMessage } from '@jupyterlab/services';

/** How long a silent run may take before the caller stops waiting for it. */
export const SILENT_TIMEOUT_MS = 2000;

/** What a silent run gave. */
export interface ISilentRunResult {
  /**
   * "ok" / "error": it ran (an error is in `error`); "busy": the kernel was running
   * something, so nothing was sent; "timeout": sent, but not answered in time (it still
   * runs in the kernel, and its answer is ignored); "no-kernel": there is none.
   */
  status: 'ok' | 'error' | 'busy' | 'timeout' | 'no-kernel';
  /** What the code printed to stdout. */
  stdout: string;
  error: { ename: string; evalue: string } | null;
  /** From sending to the kernel's answer, in milliseconds. */
  milliseconds: number;
}

export interface ISilentRunOptions {
  /** Give up waiting after this many milliseconds (default SILENT_TIMEOUT_MS). */
  timeoutMs?: number;
}

/**
 * Run `code` in `kernel` without touching the user's history or execution count:
 * `silent: true` (which implies `store_history: false`), so no `execute_input` is
 * broadcast and no output area shows it. Only while the kernel is idle: a kernel that
 * runs a cell gets nothing, so the request never queues behind (nor delays) the user's
 * work. For the panel's own questions to the kernel: its variables before a request
 * (agent/variables.ts), a fingerprint of the user's variables.
 *
 * Between the check and the kernel's answer a cell of the user's may start; the request
 * then waits behind it, the caller stops waiting after `timeoutMs`, and the code runs
 * later, silently. Never rejects: failures are in `status` and `error`.
 */
export async function runSilently(
  kernel: Kernel.IKernelConnection | null | undefined,
  code: string,
  options: ISilentRunOptions = {}
): Promise<ISilentRunResult> {
  const result: ISilentRunResult = {
    status: 'ok',
    stdout: '',
    error: null,
    milliseconds: 0
  };
  if (!kernel || kernel.isDisposed) {
    result.status = 'no-kernel';
    return result;
  }
  if (kernel.status !== 'idle') {
    result.status = 'busy';
    return result;
  }
  const started = performance.now();
  let future: Kernel.IShellFuture<
    KernelMessage.IExecuteRequestMsg,
    KernelMessage.IExecuteReplyMsg
  >;
  try {
    future = kernel.requestExecute(
      {
        code,
        silent: true,
        store_history: false,
        allow_stdin: false,
        stop_on_error: false
      },
      true
    );
  } catch (error) {
    result.status = 'error';
    result.error = { ename: 'Error', evalue: String(error) };
    return result;
  }
  const parts: string[] = [];
  future.onIOPub = message => {
    const content = message.content as any;
    if (message.header.msg_type === 'stream' && content.name === 'stdout') {
      parts.push(String(content.text));
    } else if (message.header.msg_type === 'error') {
      result.error = { ename: content.ename, evalue: content.evalue };
    }
  };
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timedOut = new Promise<'timeout'>(resolve => {
    timer = setTimeout(
      () => resolve('timeout'),
      options.timeoutMs ?? SILENT_TIMEOUT_MS
    );
  });
  try {
    const reply = await Promise.race([future.done, timedOut]);
    if (reply === 'timeout') {
      result.status = 'timeout';
      future.dispose();
    } else {
      result.status =
        reply?.content.status === 'ok' && !result.error ? 'ok' : 'error';
      if (result.status === 'error' && !result.error) {
        const content = reply?.content as any;
        result.error = {
          ename: content?.ename ?? 'Error',
          evalue: content?.evalue ?? ''
        };
      }
    }
  } catch (error) {
    result.status = 'error';
    result.error = result.error ?? { ename: 'Error', evalue: String(error) };
  } finally {
    clearTimeout(timer);
  }
  result.stdout = parts.join('');
  result.milliseconds = performance.now() - started;
  return result;
}
