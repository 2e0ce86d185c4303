/**
 * An install the model asks for waits for the user's answer in the panel, on one card (the
 * question is asked on the install's own card, which becomes its record); Deny means pip
 * never runs: the browser is never asked to run an install, the server's record of the
 * turn says declined, and the package is still not importable in the kernel.
 */
import { expect, test } from '@jupyterlab/galata';
import type { WebSocket as PageSocket } from '@playwright/test';

import {
  AutoCoderPanel,
  cellOutput,
  cellSources,
  newNotebook
} from '../autocoder';

const PACKAGE = 'autocoder-missing-demo';
const MODULE = 'autocoder_missing_demo';

test('an install waits for approval, and Deny leaves the environment unchanged', async ({
  page
}) => {
  // Every run_cell the server sends to this page, from the first socket on.
  const runCells: { purpose: string; code: string }[] = [];
  page.on('websocket', (socket: PageSocket) => {
    if (socket.url().includes('/autocoder/api/agent')) {
      socket.on('framereceived', frame => {
        const message = JSON.parse(String(frame.payload));
        if (message.type === 'run_cell') {
          runCells.push({ purpose: message.purpose, code: message.code });
        }
      });
    }
  });
  await page.reload();

  const notebook = await newNotebook(page, 'install');
  const panel = new AutoCoderPanel(page);
  await panel.open();
  await panel.setMode('Agent');
  await panel.send(`Use the package ${PACKAGE} to say whether it works.`);

  // The turn waits for the user: Approve / Deny on the install.
  const card = panel.lastTurn.locator('.jp-AutoCoder-approvalCard');
  await expect(card).toContainText(`Install ${PACKAGE}?`);
  await expect(card).toContainText(`pip install ${PACKAGE}`);
  await expect(panel.lastTurn.locator('.jp-AutoCoder-turnStatus')).toHaveText(
    'Waiting for your answer'
  );
  await page.waitForTimeout(500);
  // Nothing runs while it waits (before asking, a silent probe found the package absent).
  expect(runCells.filter(run => run.purpose !== 'probe')).toEqual([]);
  // One card says it once: the question, the command, the model's reason, the buttons.
  const cards = panel.lastTurn.locator('.jp-AutoCoder-card');
  await expect(cards).toHaveCount(1);
  await expect(cards.locator('.jp-AutoCoder-command')).toHaveText(
    `pip install ${PACKAGE}`
  );
  await expect(cards.locator('.jp-AutoCoder-cardDetail')).toHaveText(
    `the model asked: pip install ${PACKAGE}`
  );
  await card.getByRole('button', { name: 'Deny' }).click();

  await expect(card).toContainText('Declined');
  await expect(
    panel.lastTurn.locator('.jp-AutoCoder-installCard')
  ).toContainText(`Not installed: ${PACKAGE} was declined`);
  await panel.waitForDone();
  // The same card is the record: what came of it, and the answer.
  await expect(cards).toHaveCount(1);
  await expect(cards.locator('.jp-AutoCoder-cardStatus')).toHaveText(
    `Not installed: ${PACKAGE} was declined`
  );
  await expect(cards.locator('.jp-AutoCoder-cardAnswer')).toHaveText(
    'Declined'
  );
  await expect(cards.getByRole('button')).toHaveCount(0);

  // The agent's code ran without the package; pip never did.
  expect(runCells.map(run => run.purpose)).not.toContain('install');
  expect(runCells.some(run => run.code.includes('pip'))).toBe(false);
  await expect(cellOutput(page, 0)).toHaveText(`${MODULE} is not installed`);

  // The server's record of the turn: requested, then declined; never installed.
  const events = await page.evaluate(
    async path => {
      const settings = (window as any).jupyterapp.serviceManager.serverSettings;
      const socket = new WebSocket(`${settings.wsUrl}autocoder/api/agent`);
      const history: any = await new Promise((resolve, reject) => {
        socket.onopen = () =>
          socket.send(JSON.stringify({ type: 'history', notebook: path }));
        socket.onmessage = event => {
          const message = JSON.parse(event.data);
          if (message.type === 'history') {
            resolve(message);
          }
        };
        socket.onerror = reject;
      });
      socket.close();
      return history.turns[0].events
        .filter(
          (event: any) => event.type === 'install' || event.type === 'approval'
        )
        .map((event: any) => `${event.type}:${event.status}`);
    },
    await notebookPath(page, notebook)
  );
  expect(events).toEqual([
    'install:requested',
    'approval:pending',
    'approval:declined',
    'install:declined'
  ]);

  // And the kernel still cannot import it.
  const cells = (await cellSources(page)).length;
  await page.notebook.addCell(
    'code',
    `import importlib.util\nprint(importlib.util.find_spec('${MODULE}') is None)`
  );
  await page.notebook.runCell(cells);
  await expect(cellOutput(page, cells)).toHaveText('True');
});

/** The notebook's path as the contents API names it (the panel's `notebook`). */
async function notebookPath(page: any, name: string): Promise<string> {
  return page.evaluate((wanted: string) => {
    const app = (window as any).jupyterapp;
    const widget = app.shell.currentWidget;
    const path: string = widget.context.path;
    if (!path.endsWith(wanted)) {
      throw new Error(`the current widget is ${path}, not ${wanted}`);
    }
    return path;
  }, name);
}
