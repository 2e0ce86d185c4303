/**
 * Sentences about the model engine's status: what `auto` picked and why, and what is
 * being downloaded. Pure (no DOM, no JupyterLab at run time), so unit tests import it.
 */
import type { TranslationBundle } from '@jupyterlab/translation';

import type { IAutoChoice, IEngineStatus } from '../tokens';

type Translator = Pick<TranslationBundle, '__'>;

/** The tooltip lines for what `auto` picked: the headline, then its evidence. */
export function choiceLines(choice: IAutoChoice | null | undefined): string[] {
  if (!choice) {
    return [];
  }
  return [`${choice.headline}.`, ...(choice.details ?? [])];
}

/**
 * What the header says of a download, with its size, from the moment it is chosen
 * (before the first byte) until it ends; after a cancel, what was not downloaded.
 * Null when nothing is, or was about to be, downloaded.
 */
export function downloadText(
  engine: IEngineStatus,
  trans: Translator
): string | null {
  const choice = engine.choice;
  const pending = choice && !choice.cached ? choice : null;
  if (engine.state === 'downloading') {
    if (pending) {
      return trans.__(
        'auto picked %1 for this machine: downloading %2 from %3.',
        pending.model,
        formatBytes(pending.download_bytes),
        pending.download_from ?? '?'
      );
    }
    const total = engine.progress?.total;
    return total
      ? trans.__('Downloading %1 (%2).', engine.model ?? '', formatBytes(total))
      : trans.__('Downloading %1.', engine.model ?? '');
  }
  if (engine.state === 'stopped' && pending) {
    return trans.__(
      'Not downloaded: auto picks %1 here (%2 from %3).',
      pending.model,
      formatBytes(pending.download_bytes),
      pending.download_from ?? '?'
    );
  }
  return null;
}

/** "1.1 GB", "98 MB", "?" for an unknown size. */
export function formatBytes(bytes: number | null | undefined): string {
  if (!bytes || bytes <= 0) {
    return '?';
  }
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return `${value >= 10 || unit === 0 ? Math.round(value) : value.toFixed(1)} ${units[unit]}`;
}
