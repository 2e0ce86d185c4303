/**
 * The "Ask before running" setting: the agent's code is written into the notebook but
 * waits for Run in the panel; Skip would leave it unrun.
 */
import { expect, galata, test } from '@jupyterlab/galata';

import {
  AutoCoderPanel,
  cellOutput,
  cellSources,
  newNotebook
} from '../autocoder';

test.use({
  mockSettings: {
    ...galata.DEFAULT_SETTINGS,
    'jupyter-autocoder:plugin': { askBeforeRunning: true }
  }
});

test('with Ask before running, the cell waits for Run', async ({ page }) => {
  await newNotebook(page, 'ask');
  const panel = new AutoCoderPanel(page);
  await panel.open();
  await panel.setMode('Agent');
  await panel.send('Print the answer to everything.');

  const card = panel.lastTurn.locator('.jp-AutoCoder-confirmCard');
  await expect(card).toContainText('Run this cell?');
  await expect(card).toContainText('answer = 6 * 7');
  // Written, not run: the cell is there without an output or an execution count.
  expect(await cellSources(page)).toEqual(['answer = 6 * 7\nprint(answer)']);
  await page.waitForTimeout(500);
  await expect(cellOutput(page, 0)).toHaveText('');
  await expect(
    page
      .locator('.jp-NotebookPanel:visible .jp-Cell')
      .first()
      .locator('.jp-InputPrompt')
  ).toHaveText('[ ]:');

  await card.getByRole('button', { name: 'Run' }).click();
  await expect(card.locator('.jp-AutoCoder-cardStatus')).toHaveText(
    'Allowed to run'
  );
  await panel.waitForDone();
  await expect(cellOutput(page, 0)).toHaveText('42');
});
