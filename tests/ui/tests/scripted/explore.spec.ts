/**
 * An exploration from the panel: `/explore ui_explore.csv` shows a plan first; the user
 * edits a step, drops one and adds one, then Run; each step becomes a Markdown cell and a
 * code cell that runs in the notebook's kernel (a failing step's fix replaces its cell),
 * "Stop after this step" ends it after the step in progress, and a closing Markdown cell
 * summarises with numbers from the real outputs. The notebook reruns clean.
 */
import { expect, test } from '@jupyterlab/galata';
import * as path from 'path';

import {
  AutoCoderPanel,
  currentNotebookPath,
  newNotebook,
  openNotebook,
  rerunInFreshKernel,
  scriptedRequests
} from '../autocoder';

const DATA =
  "with open('ui_explore.csv', 'w') as f:\n" +
  "    f.write('fruit,colour,price\\napple,red,1.5\\nbanana,yellow,0.5\\n'\n" +
  "            'cherry,red,4.0\\nlemon,yellow,1.0\\n')";

/** Every cell of the notebook in focus from its model: [type, source] (a rendered
 * Markdown cell shows no editor to read). */
async function cells(page: any): Promise<[string, string][]> {
  return page.evaluate(() => {
    const app = (window as any).jupyterapp;
    const model = app.shell.currentWidget.content.model;
    return model.sharedModel.cells.map((cell: any) => [
      cell.cell_type,
      cell.getSource()
    ]);
  });
}

test('an exploration shows its plan, makes and runs the cells of each step, and stops when asked', async ({
  page,
  tmpPath
}) => {
  const notebook = await newNotebook(page, 'explore');
  await page.notebook.setCell(0, 'code', DATA);
  await page.notebook.runCell(0);

  const panel = new AutoCoderPanel(page);
  await panel.open();
  await panel.setMode('Agent');
  await panel.send('/explore ui_explore.csv');

  // The plan comes first, to be edited; nothing but the data's loading ran yet.
  const plan = panel.lastTurn.locator('.jp-AutoCoder-planCard');
  await expect(plan).toHaveAttribute('data-state', 'review');
  const fields = plan.locator('.jp-AutoCoder-planField');
  await expect(fields).toHaveCount(3);
  await expect(fields.nth(1)).toHaveValue('Price by colour');
  expect((await cells(page)).map(([type]) => type)).toEqual(['code', 'code']);
  await fields.nth(1).fill('Mean price per colour');
  await plan.getByRole('button', { name: 'Drop this step' }).nth(2).click();
  await plan.getByRole('button', { name: 'Add a step' }).click();
  await fields.nth(2).fill('Count the fruits per colour');
  const shots = path.join(test.info().project.outputDir, 'screenshots');
  await page.screenshot({ path: path.join(shots, 'explore-plan.png') });
  await plan.getByRole('button', { name: 'Run' }).click();

  // Step 2 streams slowly: stop after it, so step 3 never begins.
  await expect(
    panel.lastTurn.locator('.jp-AutoCoder-step[data-step="2"]')
  ).toBeVisible({ timeout: 60_000 });
  await plan.getByRole('button', { name: 'Stop after this step' }).click();
  const status = await panel.waitForDone();
  await expect(status).toContainText('Stopped');

  const steps = plan.locator('.jp-AutoCoder-planStep');
  await expect(steps).toHaveCount(3);
  await expect(steps.nth(0)).toHaveAttribute('data-status', 'done');
  await expect(steps.nth(1)).toHaveAttribute('data-status', 'done');
  await expect(steps.nth(2)).toHaveAttribute('data-status', 'stopped');
  await expect(steps.nth(1)).toContainText('Mean price per colour');
  await expect(steps.nth(2)).toContainText('Count the fruits per colour');
  // Step 1's failed round stays in the panel; its fix is what the notebook holds.
  await expect(
    panel.lastTurn.locator('.jp-AutoCoder-run[data-state="error"]')
  ).toContainText("AttributeError: 'Series' object has no attribute 'means'");
  await expect(panel.lastTurn.locator('.jp-AutoCoder-summary')).toContainText(
    'The mean price is 1.75.'
  );

  await page.screenshot({ path: path.join(shots, 'explore-done.png') });

  const made = await cells(page);
  expect(made.map(([type, source]) => [type, source.split('\n')[0]])).toEqual([
    ['code', "with open('ui_explore.csv', 'w') as f:"],
    ['markdown', '# Exploring ui_explore.csv'],
    ['code', 'import pandas as pd'],
    ['markdown', '## 1. Mean price of the fruits'],
    ['code', "print(round(df['price'].mean(), 2))"],
    ['markdown', '## 2. Mean price per colour'],
    ['code', "print(df.groupby('colour')['price'].mean())"],
    ['markdown', '## Summary']
  ]);
  expect(made[7][1]).toContain('Red fruits cost 2.75 on average');
  const outputs = page.locator('.jp-NotebookPanel:visible .jp-Cell');
  await expect(outputs.nth(4).locator('.jp-OutputArea')).toHaveText('1.75');
  await expect(outputs.nth(6).locator('.jp-OutputArea')).toContainText(
    'yellow    0.75'
  );
  await expect(outputs.nth(7).locator('.jp-RenderedMarkdown')).toContainText(
    'The mean price is 1.75.'
  );

  // The model planned once, and the edited plan is what the steps were told.
  expect(
    await scriptedRequests(page, 'Plan the exploration of ui_explore.csv')
  ).toHaveLength(1);
  const [second] = await scriptedRequests(
    page,
    'Now do step 2 only: Mean price per colour'
  );
  expect(second.messages[second.messages.length - 1].content).toContain(
    '3. Count the fruits per colour'
  );

  // Restart kernel and run all cells: the saved notebook, in a fresh kernel.
  await page.notebook.save();
  const rerun = await rerunInFreshKernel(page, await currentNotebookPath(page));
  expect(rerun).toEqual({ cells: 4, failed: [] });

  // After a reload the turn comes back from the server's history as it ended.
  await page.notebook.close();
  await page.reload({ waitForIsReady: false });
  await page.locator('#jupyterlab-splash').waitFor({ state: 'detached' });
  await openNotebook(page, `${tmpPath}/${notebook}`);
  await panel.open();
  const restored = panel.lastTurn.locator('.jp-AutoCoder-planCard');
  await expect(restored).toHaveAttribute('data-state', 'plan');
  await expect(restored.locator('.jp-AutoCoder-planStep')).toHaveCount(3);
  await expect(
    restored.locator('.jp-AutoCoder-planStep').nth(2)
  ).toHaveAttribute('data-status', 'stopped');
  await expect(panel.lastTurn.locator('.jp-AutoCoder-summary')).toContainText(
    'The mean price is 1.75.'
  );
  await expect(
    panel.lastTurn.locator('.jp-AutoCoder-turnStatus')
  ).toContainText('Stopped');
});
