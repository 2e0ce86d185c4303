/**
 * The panel knows the kernel: `@` completes the names of the notebook's variables, `@wine`
 * attaches the DataFrame's fuller summary, and the variables reach the model (asserted
 * on what the scripted double received), collected silently: the user's execution
 * counts are untouched.
 */
import { expect, test } from '@jupyterlab/galata';

import {
  AutoCoderPanel,
  cellOutput,
  newNotebook,
  scriptedRequests
} from '../autocoder';

const REQUEST = 'Print the mean alcohol per class of @wine';

test('@name completes a variable, attaches its summary, and the variables reach the model', async ({
  page
}) => {
  await newNotebook(page, 'context');
  await page.notebook.setCell(
    0,
    'code',
    'import pandas as pd\n' +
      "wine = pd.DataFrame({'cls': ['a', 'b', 'a', 'b', 'c', 'c'],\n" +
      "                     'alcohol': [13.2, 12.1, 13.8, 12.5, 14.1, 13.9]})\n" +
      'threshold = 13'
  );
  await page.notebook.runCell(0);

  const panel = new AutoCoderPanel(page);
  await panel.open();
  await panel.setMode('Agent');

  // Typing @wi offers the kernel's variables that begin so; Tab takes one.
  await panel.input.fill('Print the mean alcohol per class of @wi');
  // The @name list's options (the model picker in the header has options too).
  const options = panel.root.getByRole('listbox').getByRole('option');
  await expect(options).toHaveText(['wine']);
  await panel.input.press('Tab');
  await expect(panel.input).toHaveValue(`${REQUEST} `);
  await expect(options).toHaveCount(0);
  await panel.input.fill('@');
  await expect(options).toHaveText(['threshold', 'wine']); // newest first; no module
  await panel.input.press('Escape');
  await expect(options).toHaveCount(0);

  await panel.send(REQUEST);
  const status = await panel.waitForDone();
  await expect(status).toContainText('Done');
  await expect(
    panel.lastTurn.locator('.jp-AutoCoder-contextLine')
  ).toContainText('variables of the kernel included · with @wine');

  // What the model was asked: the variables, and @wine's head, describe and value counts.
  const [asked] = await scriptedRequests(page, REQUEST);
  const told = asked.messages[asked.messages.length - 1].content;
  expect(told).toContain(
    'The request names @wine, the variable wine (pandas DataFrame) in the kernel:'
  );
  expect(told).toContain('6 rows x 2 columns');
  expect(told).toContain('describe():');
  expect(told).toContain("value counts of 'cls':");
  expect(told).toContain('Variables in the kernel:');
  expect(told).toContain('- wine (pandas DataFrame): 6 rows x 2 columns');
  expect(told).toContain('- threshold (int): 13');

  // The agent used the user's `wine`; the silent questions took no execution count.
  await expect(cellOutput(page, 1)).toHaveText(
    "{'a': 13.5, 'b': 12.3, 'c': 14.0}"
  );
  const prompts = page.locator(
    '.jp-NotebookPanel:visible .jp-Cell .jp-InputPrompt'
  );
  await expect(prompts.nth(0)).toHaveText('[1]:');
  await expect(prompts.nth(1)).toHaveText('[2]:');
});
