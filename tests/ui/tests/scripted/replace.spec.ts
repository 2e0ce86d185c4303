/**
 * The notebook the agent leaves behind reruns clean: the fix replaces the cell of the
 * code that failed (the failed version stays in the panel's rounds), the saved notebook
 * runs from the top in a fresh kernel without an error, and one click puts the failed
 * version back.
 */
import { expect, test } from '@jupyterlab/galata';

import {
  AutoCoderPanel,
  cellOutput,
  cellSources,
  currentNotebookPath,
  newNotebook,
  rerunInFreshKernel
} from '../autocoder';

const BUGGY = 'result = mean([1, 2, 3, 4])\nprint(result)';
const FIXED =
  'from statistics import mean\nresult = mean([1, 2, 3, 4])\nprint(result)';

test('a fix replaces the failed cell, the notebook reruns clean, and the failed version comes back', async ({
  page
}) => {
  await newNotebook(page, 'replace');
  await page.notebook.setCell(0, 'code', 'numbers = [1, 2, 3, 4]');
  await page.notebook.runCell(0);

  const panel = new AutoCoderPanel(page);
  await panel.open();
  await panel.setMode('Agent');
  await panel.send('Store the mean of [1, 2, 3, 4] in `result` and print it.');
  await expect(await panel.waitForDone()).toContainText('round 2');

  // The panel's rounds keep the failed version and its real error...
  const turn = panel.lastTurn;
  const runs = turn.locator('.jp-AutoCoder-run');
  await expect(runs.nth(0)).toHaveAttribute('data-state', 'error');
  await expect(runs.nth(0)).toContainText(
    "NameError: name 'mean' is not defined"
  );
  await expect(panel.answer(turn).first()).toContainText(
    'result = mean([1, 2, 3, 4])'
  );
  // ...while the notebook holds one cell: the fix, in the failed cell's place.
  expect(await cellSources(page)).toEqual(['numbers = [1, 2, 3, 4]', FIXED]);
  await expect(cellOutput(page, 1)).toHaveText('2.5');
  const card = turn.locator('.jp-AutoCoder-replacedCard');
  await expect(card).toContainText(
    'The cell was replaced; its earlier version is kept.'
  );

  // Restart kernel and run all cells: the saved notebook, in a fresh kernel.
  await page.notebook.save();
  const rerun = await rerunInFreshKernel(page, await currentNotebookPath(page));
  expect(rerun).toEqual({ cells: 2, failed: [] });

  // One undo puts the failed version back above the fix, with its error.
  await card.getByRole('button', { name: 'Restore replaced versions' }).click();
  await expect(card).toContainText('Restored above the cell.');
  expect(await cellSources(page)).toEqual([
    'numbers = [1, 2, 3, 4]',
    BUGGY,
    FIXED
  ]);
  await expect(cellOutput(page, 1)).toContainText(
    "NameError: name 'mean' is not defined"
  );
  await expect(cellOutput(page, 2)).toHaveText('2.5');
});
