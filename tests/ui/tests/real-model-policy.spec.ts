/**
 * The admin's policy in the panel (docs/admin.md), against the real-model server, which
 * allows only smollm2-* and qwen2.5-coder-*, installs with asking or never, and at most
 * 5 rounds (jupyter_server_real.py). The user's own settings ask for more: the header
 * says what the admin set and where it overrides them, and the picker disables the
 * models the policy forbids, saying why.
 */
import { expect, galata, test } from '@jupyterlab/galata';

import { AutoCoderPanel, newNotebook } from './autocoder';

test.use({
  mockSettings: {
    ...galata.DEFAULT_SETTINGS,
    'jupyter-autocoder:plugin': { installPolicy: 'auto', rounds: 8 }
  }
});

test('the header says what the admin set, and the picker disables what it forbids', async ({
  page
}) => {
  await newNotebook(page, 'policy');
  const panel = new AutoCoderPanel(page);
  await panel.open();
  await panel.waitForModelReady();

  const policy = panel.header.getByRole('note', { name: 'Set by the admin' });
  await expect(policy).toBeVisible();
  await expect(policy).toContainText('Models: smollm2-*, qwen2.5-coder-*');
  await expect(policy).toContainText('Installs: ask, never only');
  await expect(policy).toContainText('At most 5 rounds a request');
  await expect(policy).toContainText(
    'Your install policy “auto” is not allowed here: “ask” applies.'
  );
  await expect(policy).toContainText(
    'Your Rounds setting (8) is above the limit: 5 apply.'
  );

  const picker = panel.header.getByRole('combobox', { name: 'Model' });
  await picker.focus(); // the catalogue is asked for again
  const forbidden = picker.locator('option[value="autocoder-33b"]');
  await expect(forbidden).toHaveText('autocoder-33b (not allowed)');
  await expect(forbidden).toBeDisabled();
  await expect(forbidden).toHaveAttribute(
    'title',
    'Not allowed on this server (c.AutoCoder.allowed_models: smollm2-*, qwen2.5-coder-*)'
  );
  await expect(picker.locator('option[value="smollm2-135m"]')).toBeEnabled();
  await expect(picker).toHaveValue('smollm2-135m');
});
