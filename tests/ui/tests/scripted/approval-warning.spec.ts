/**
 * What the approval card says before the user answers: a near-miss package name is warned
 * of, and asked even when the panel's install policy is "auto"; a shell escape inside the
 * model's Python code is put to the user with its exact command, and Deny keeps the whole
 * code from running.
 */
import { expect, galata, test } from '@jupyterlab/galata';

import { AutoCoderPanel, cellSources, newNotebook } from '../autocoder';

test.use({
  mockSettings: {
    ...galata.DEFAULT_SETTINGS,
    'jupyter-autocoder:plugin': { installPolicy: 'auto' }
  }
});

test('a near miss of a popular name is warned of and asked, even under auto', async ({
  page
}) => {
  await newNotebook(page, 'near-miss');
  const panel = new AutoCoderPanel(page);
  await panel.open();
  await panel.setMode('Agent');
  await panel.send('Fetch example.org with the reqeusts package.');

  const card = panel.lastTurn.locator('.jp-AutoCoder-approvalCard');
  await expect(card).toContainText('Install reqeusts?');
  await expect(card.locator('.jp-AutoCoder-cardWarning')).toContainText(
    '`reqeusts` is not `requests`'
  );
  await expect(card.getByRole('button', { name: 'Approve' })).toBeVisible();
  await card.getByRole('button', { name: 'Deny' }).click();
  // The install's own card is its record: what came of it, and the answer.
  await expect(card.locator('.jp-AutoCoder-cardStatus')).toHaveText(
    'Not installed: reqeusts was declined'
  );
  await expect(card.locator('.jp-AutoCoder-cardAnswer')).toHaveText('Declined');
  await panel.waitForDone();
});

test('a shell escape inside the code is asked with its exact command', async ({
  page
}) => {
  await newNotebook(page, 'escape');
  const panel = new AutoCoderPanel(page);
  await panel.open();
  await panel.setMode('Agent');
  await panel.send('List the files with a shell escape.');

  const card = panel.lastTurn.locator('.jp-AutoCoder-approvalCard').first();
  await expect(card).toContainText('Run this shell command?');
  await expect(card.locator('.jp-AutoCoder-command')).toHaveText(
    'touch made-by-the-escape'
  );
  await expect(card.locator('.jp-AutoCoder-cardDetail')).toContainText(
    "inside the model's Python code"
  );
  await card.getByRole('button', { name: 'Deny' }).click();
  await expect(card.locator('.jp-AutoCoder-cardStatus')).toHaveText('Declined');
  await panel.waitForDone();

  // The code with the escape never reached the notebook; the second answer's did.
  const sources = await cellSources(page);
  expect(sources.some(source => source.includes('made-by-the-escape'))).toBe(
    false
  );
  expect(sources.some(source => source.includes('os.listdir'))).toBe(true);
});
