/**
 * The guard of the user's variables in the panel, with the scripted model: its code
 * reloads the user's `df` and converts a column of `log` in place. The panel names both
 * changes, says why the change in place cannot be undone, and one click on "Restore df"
 * puts the user's frame back in the notebook's kernel.
 */
import { expect, test } from '@jupyterlab/galata';

import { AutoCoderPanel, cellOutput, newNotebook } from '../autocoder';

const SETUP = [
  'import pandas as pd',
  "df = pd.DataFrame({'a': [1, 2, 3]})",
  "log = pd.DataFrame({'when': ['2024-01-01', '2024-01-08'], 'visits': [3, 5]})"
].join('\n');

test('a replaced variable is restored with one click; a change in place is explained', async ({
  page
}) => {
  await newNotebook(page, 'guard');
  await page.notebook.setCell(0, 'code', SETUP);
  await page.notebook.runCell(0);

  const panel = new AutoCoderPanel(page);
  await panel.open();
  await panel.setMode('Agent');
  await panel.send('Print the mean of a in df and the first visit of log.');
  await panel.waitForDone();

  const cards = panel.lastTurn.locator('.jp-AutoCoder-variableCard');
  await expect(cards).toHaveCount(2);
  const replaced = cards.filter({ hasText: 'replaced your variable df' });
  await expect(replaced).toHaveAttribute('data-state', 'reassigned');
  await expect(replaced).toContainText(
    'It held: pandas DataFrame, 3 rows x 1 column.'
  );
  await expect(replaced).toContainText(
    'Now: pandas DataFrame, 2 rows x 1 column.'
  );
  const changed = cards.filter({
    hasText: 'changed your variable log in place'
  });
  await expect(changed).toHaveAttribute('data-state', 'mutated');
  await expect(changed).toContainText('column when converted from');
  await expect(changed).toContainText('This cannot be undone');
  await expect(changed.getByRole('button')).toHaveCount(0);

  await replaced.getByRole('button', { name: 'Restore df' }).click();
  await expect(replaced).toHaveAttribute('data-state', 'restored');
  await expect(replaced).toContainText('df is back as it was');
  await expect(replaced.getByRole('button')).toHaveCount(0);

  // In the kernel: the user's own frame again.
  await page.notebook.addCell('code', 'print(len(df), list(df.a))');
  const index = (await page.notebook.getCellCount()) - 1;
  await page.notebook.runCell(index);
  await expect(cellOutput(page, index)).toHaveText('3 [1, 2, 3]');
});
