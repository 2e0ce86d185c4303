import type { TranslationBundle } from '@jupyterlab/translation';

import type { ICompletionStatus } from '../tokens';

/**
 * The status bar's line on inline completion: how the loaded model is asked (its own
 * fill-in-the-middle tokens, or the fallback), or that it offers none, and why.
 */
export function completionStatusLine(
  completion: ICompletionStatus | undefined,
  trans: TranslationBundle
): string | null {
  if (!completion) {
    return null;
  }
  return completion.available
    ? trans.__('Inline completion: %1', completion.reason)
    : trans.__('No inline completion: %1', completion.reason);
}
