/**
 * "Fix with AutoCoder" on a real error output: the cell's real traceback goes to the
 * (scripted) model, whose script only answers when the traceback is in the request;
 * the fix replaces the failing cell and runs there, and the panel can put the original
 * back.
 */
import { expect, test } from '@jupyterlab/galata';

import {
  AutoCoderPanel,
  cellOutput,
  cellSources,
  openFixture
} from '../autocoder';

test('Fix with AutoCoder fixes a cell from its traceback', async ({
  page,
  tmpPath
}) => {
  await openFixture(page, tmpPath, 'fix.ipynb');
  await page.notebook.run();
  const failing = page.locator('.jp-NotebookPanel:visible .jp-Cell').nth(2);
  await expect(failing.locator('.jp-OutputArea')).toContainText(
    "NameError: name 'valuez' is not defined"
  );

  // The cell's context menu offers the fix too.
  await failing.locator('.jp-InputArea').click({ button: 'right' });
  const menuItem = page.getByRole('menuitem', { name: 'Fix with AutoCoder' });
  await expect(menuItem).toBeVisible();
  await expect(menuItem).not.toHaveAttribute('aria-disabled', 'true');
  await page.keyboard.press('Escape');
  await expect(menuItem).toBeHidden();

  const fix = failing.getByRole('button', { name: 'Fix with AutoCoder' });
  await expect(fix).toBeVisible();
  await fix.click();

  const panel = new AutoCoderPanel(page);
  await expect(panel.root).toBeVisible();
  await expect(panel.lastTurn.locator('.jp-AutoCoder-request')).toContainText(
    "It raised NameError: name 'valuez' is not defined"
  );
  const status = await panel.waitForDone();
  await expect(status).toContainText('Done');
  await expect(panel.lastTurn.locator('.jp-AutoCoder-run')).toHaveAttribute(
    'data-state',
    'ok'
  );

  // The fix is in the failing cell's place, with its real output.
  expect(await cellSources(page)).toEqual([
    'A cell with a typo: its NameError is for AutoCoder to fix.',
    'values = [3, 4, 5]',
    'print(sum(values))'
  ]);
  await expect(cellOutput(page, 2)).toHaveText('12');

  // The user's own cell comes back, above the fix, with its error.
  const card = panel.lastTurn.locator('.jp-AutoCoder-replacedCard');
  await card.getByRole('button', { name: 'Restore replaced versions' }).click();
  expect(await cellSources(page)).toEqual([
    'A cell with a typo: its NameError is for AutoCoder to fix.',
    'values = [3, 4, 5]',
    'print(sum(valuez))',
    'print(sum(values))'
  ]);
  await expect(cellOutput(page, 2)).toContainText(
    "NameError: name 'valuez' is not defined"
  );
  await expect(cellOutput(page, 3)).toHaveText('12');
});
