/**
 * The Rounds setting: with 1, the agent stops after its first run even though the code
 * failed, where the server's default (3) would have sent the error back for a fix.
 */
import { expect, galata, test } from '@jupyterlab/galata';

import { AutoCoderPanel, cellSources, newNotebook } from '../autocoder';

test.use({
  mockSettings: {
    ...galata.DEFAULT_SETTINGS,
    'jupyter-autocoder:plugin': { rounds: 1 }
  }
});

test('with Rounds 1, a failed run ends the turn', async ({ page }) => {
  await newNotebook(page, 'rounds');
  const panel = new AutoCoderPanel(page);
  await panel.open();
  await panel.setMode('Agent');
  await panel.send('Print lonely_total, which nobody defined.');

  const status = await panel.waitForDone();
  const turn = panel.lastTurn;
  await expect(turn.getByText('Round 1 of 1')).toBeVisible();
  await expect(status).toContainText('No clean run after 1 round');
  await expect(turn.locator('.jp-AutoCoder-run')).toHaveCount(1);
  await expect(turn.locator('.jp-AutoCoder-run').first()).toHaveAttribute(
    'data-state',
    'error'
  );
  // The fix the model would have given in round 2 was never asked for.
  expect(await cellSources(page)).toEqual(['print(lonely_total)']);
});
