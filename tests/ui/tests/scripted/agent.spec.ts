/**
 * Agent mode with the scripted model: the first answer has a bug; the panel writes it
 * into a new cell, runs it in the notebook's kernel, the real NameError goes back to the
 * model, and its fix replaces the buggy code in that cell and runs.
 */
import { expect, test } from '@jupyterlab/galata';
import * as path from 'path';

import {
  AutoCoderPanel,
  cellOutput,
  cellSources,
  newNotebook,
  openNotebook
} from '../autocoder';

const BUGGY = 'result = mean([1, 2, 3, 4])\nprint(result)';
// Screenshots of this test are the README's pictures of the panel.
test.use({ viewport: { width: 1280, height: 800 } });

const FIXED =
  'from statistics import mean\nresult = mean([1, 2, 3, 4])\nprint(result)';

test('a bug is run, its error caught, and the fix written and run', async ({
  page,
  tmpPath
}) => {
  const notebook = await newNotebook(page, 'agent');
  await page.notebook.setCell(0, 'code', 'numbers = [1, 2, 3, 4]');
  await page.notebook.runCell(0);

  const panel = new AutoCoderPanel(page);
  await panel.open();
  await panel.setMode('Agent');
  await panel.send('Store the mean of [1, 2, 3, 4] in `result` and print it.');

  const status = await panel.waitForDone();
  await expect(status).toContainText('round 2');
  const turn = panel.lastTurn;
  await expect(turn.getByText('Round 1 of 3')).toBeVisible();
  await expect(turn.getByText('Round 2 of 3')).toBeVisible();
  const runs = turn.locator('.jp-AutoCoder-run');
  await expect(runs).toHaveCount(2);
  await expect(runs.nth(0)).toHaveAttribute('data-state', 'error');
  await expect(runs.nth(0)).toContainText(
    "NameError: name 'mean' is not defined"
  );
  await expect(runs.nth(1)).toHaveAttribute('data-state', 'ok');
  await expect(runs.nth(1)).toContainText('2.5');

  // In the notebook: the fix, with its output, in the cell where the bug ran (the panel's
  // rounds keep the buggy version and its real error; replace.spec.ts puts it back).
  expect(await cellSources(page)).toEqual(['numbers = [1, 2, 3, 4]', FIXED]);
  expect(await cellSources(page)).not.toContain(BUGGY);
  await expect(cellOutput(page, 1)).toHaveText('2.5');

  const shots = path.join(test.info().project.outputDir, 'screenshots');
  await page.screenshot({ path: path.join(shots, 'panel-light.png') });
  await page.theme.setDarkTheme();
  await page.screenshot({ path: path.join(shots, 'panel-dark.png') });
  await page.theme.setLightTheme();

  // The conversation belongs to the notebook: closed, and the page reloaded, it is
  // restored from the server's history when the notebook is opened again.
  await page.notebook.save();
  await page.notebook.close();
  await page.reload({ waitForIsReady: false });
  await page.locator('#jupyterlab-splash').waitFor({ state: 'detached' });
  await openNotebook(page, `${tmpPath}/${notebook}`);
  await panel.open();
  await expect(panel.lastTurn.locator('.jp-AutoCoder-request')).toContainText(
    'Store the mean of [1, 2, 3, 4] in result and print it.'
  );
  await expect(panel.lastTurn.getByText('Round 2 of 3')).toBeVisible();
  await expect(
    panel.lastTurn.locator('.jp-AutoCoder-run').nth(1)
  ).toContainText('2.5');
  await expect(
    panel.lastTurn.locator('.jp-AutoCoder-turnStatus')
  ).toContainText('round 2');
});
