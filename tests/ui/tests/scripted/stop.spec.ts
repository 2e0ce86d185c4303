/**
 * Stop stops a long stream at once: the scripted model streams a story of about a
 * minute; after Stop the answer no longer grows, the turn says "Stopped", and the
 * panel is ready for the next request.
 */
import { expect, test } from '@jupyterlab/galata';

import { AutoCoderPanel, newNotebook } from '../autocoder';

test('Stop ends a long stream at once', async ({ page }) => {
  await newNotebook(page, 'stop');
  const panel = new AutoCoderPanel(page);
  await panel.open();
  await panel.setMode('Chat');
  await panel.send('Tell me a very long story.');

  const answer = panel.answer();
  await expect(answer).toContainText('Once upon a time');
  await expect(panel.actionButton).toHaveText('Stop');
  await panel.actionButton.click();
  const stoppedAt = Date.now();

  const status = panel.lastTurn.locator('.jp-AutoCoder-turnStatus');
  await expect(status).toContainText('Stopped', { timeout: 3000 });
  expect(Date.now() - stoppedAt).toBeLessThan(3000);
  await expect(panel.actionButton).toHaveText('Send');

  // Nothing more arrives: the text stays as it was, far from the story's end.
  const text = (await answer.textContent()) ?? '';
  await page.waitForTimeout(1500);
  expect(await answer.textContent()).toBe(text);
  expect(text).not.toContain('ZZZ-END-OF-STORY');
  expect(text.length).toBeLessThan(2000);
});
