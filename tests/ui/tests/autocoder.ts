/**
 * The page object of the AutoCoder panel: what a user sees and clicks, by role and text
 * where possible, so that the tests read as what a user does.
 */
import { IJupyterLabPageFixture } from '@jupyterlab/galata';
import { expect, Locator, Page } from '@playwright/test';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const path_ = path;

export const NOTEBOOKS = path.resolve(__dirname, '..', 'notebooks');

export class AutoCoderPanel {
  constructor(readonly page: IJupyterLabPageFixture) {}

  get root(): Locator {
    return this.page.locator('#jp-autocoder-panel');
  }

  get header(): Locator {
    return this.root.locator('.jp-AutoCoder-header');
  }

  get input(): Locator {
    return this.root.getByRole('textbox', { name: 'Request' });
  }

  /** Send, or Stop while a turn runs (one button, so that nothing moves). */
  get actionButton(): Locator {
    return this.root.locator('.jp-AutoCoder-send');
  }

  get conversation(): Locator {
    return this.root.locator('.jp-AutoCoder-conversation:visible');
  }

  get turns(): Locator {
    return this.conversation.locator('.jp-AutoCoder-turn');
  }

  get lastTurn(): Locator {
    return this.turns.last();
  }

  /** Open the panel with its keyboard shortcut. */
  async open(): Promise<void> {
    await this.page.keyboard.press('Alt+Shift+A');
    await expect(this.root).toBeVisible();
    await expect(this.input).toBeFocused();
  }

  async setMode(mode: 'Agent' | 'Chat'): Promise<void> {
    const button = this.root.getByRole('radio', { name: mode });
    await button.click();
    await expect(button).toHaveAttribute('aria-checked', 'true');
  }

  /** Type a request and press Enter; it shows at once as the last turn's request. */
  async send(text: string): Promise<void> {
    const before = await this.turns.count();
    await this.input.fill(text);
    await this.input.press('Enter');
    await expect(this.turns).toHaveCount(before + 1);
    // The request is rendered as Markdown: compare its words, not its backticks.
    await expect(this.lastTurn.locator('.jp-AutoCoder-request')).toContainText(
      text.split('\n')[0].replace(/`/g, '')
    );
  }

  /** Wait until the last turn is over; returns its status line. */
  async waitForDone(timeout = 60_000): Promise<Locator> {
    await expect(this.lastTurn).toHaveAttribute('data-state', 'done', {
      timeout
    });
    return this.lastTurn.locator('.jp-AutoCoder-turnStatus');
  }

  answer(turn: Locator = this.lastTurn): Locator {
    return turn.locator('.jp-AutoCoder-answer');
  }

  /** The model header shows the engine ready. */
  async waitForModelReady(timeout = 120_000): Promise<void> {
    await expect(this.header).toHaveAttribute('data-state', 'ready', {
      timeout
    });
  }
}

/** The text of every cell's input, in notebook order. */
export async function cellSources(page: Page): Promise<string[]> {
  return page
    .locator('.jp-NotebookPanel:visible .jp-Cell .jp-Editor .cm-content')
    .evaluateAll(nodes =>
      nodes.map(node =>
        Array.from(node.querySelectorAll('.cm-line'))
          .map(line => line.textContent ?? '')
          .join('\n')
      )
    );
}

/** The rendered outputs of the notebook's cell at `index`. */
export function cellOutput(page: Page, index: number): Locator {
  return page
    .locator('.jp-NotebookPanel:visible .jp-Cell')
    .nth(index)
    .locator('.jp-OutputArea');
}

/**
 * Open the notebook at `target` through JupyterLab's own command. Galata's openByPath
 * walks the file browser from its home, which races the browser's own restore of its
 * folder after a reload (it clicks home, then the restore goes back in).
 */
export async function openNotebook(
  page: IJupyterLabPageFixture,
  target: string
): Promise<void> {
  await page.evaluate(async path => {
    await (window as any).jupyterapp.commands.execute('docmanager:open', {
      path
    });
  }, target);
  await page.notebook.activate(path.basename(target));
}

/** Upload a fixture notebook into the test's folder and open it. */
export async function openFixture(
  page: IJupyterLabPageFixture,
  tmpPath: string,
  fixture: string
): Promise<string> {
  const name = uniqueName(path.basename(fixture, '.ipynb'));
  const target = `${tmpPath}/${name}`;
  await page.contents.uploadFile(path.join(NOTEBOOKS, fixture), target);
  await openNotebook(page, target);
  await waitForKernelIdle(page);
  return target;
}

/**
 * A new notebook with a python kernel, ready to run. Its name is unique: the server keeps
 * each notebook's conversation by path, and a rerun must not continue the last one.
 */
export async function newNotebook(
  page: IJupyterLabPageFixture,
  stem: string
): Promise<string> {
  const name = uniqueName(stem);
  await page.notebook.createNew(name);
  await waitForKernelIdle(page);
  return name;
}

export function uniqueName(stem: string): string {
  return `${stem}-${Date.now().toString(36)}.ipynb`;
}

export async function waitForKernelIdle(page: Page): Promise<void> {
  await expect(
    page.locator('.jp-NotebookPanel:visible .jp-Notebook-ExecutionIndicator')
  ).toHaveAttribute('data-status', 'idle', { timeout: 60_000 });
}

/** The path of the notebook in focus, as the contents API and the panel name it. */
export async function currentNotebookPath(page: Page): Promise<string> {
  return page.evaluate(() => {
    const app = (window as any).jupyterapp;
    return app.shell.currentWidget.context.path as string;
  });
}

/**
 * What the scripted model double was asked (tests/ui/scripted_history.py): the requests
 * whose first user message contains `match`, each with its messages.
 */
export async function scriptedRequests(
  page: Page,
  match: string
): Promise<{ messages: { role: string; content: string }[] }[]> {
  const response = await page.request.get(
    `/autocoder-test/scripted/requests?match=${encodeURIComponent(match)}`
  );
  expect(response.ok()).toBe(true);
  return (await response.json()).requests;
}

/**
 * "Restart kernel and run all cells", done apart from the page: the saved notebook is
 * read through the contents API and executed by nbclient in a fresh kernel
 * (rerun_notebook.py). Returns the code cells run and those that failed.
 */
export async function rerunInFreshKernel(
  page: Page,
  path: string
): Promise<{ cells: number; failed: { index: number; error: string }[] }> {
  const content = await page.evaluate(async (notebook: string) => {
    const app = (window as any).jupyterapp;
    const model = await app.serviceManager.contents.get(notebook, {
      content: true
    });
    return JSON.stringify(model.content);
  }, path);
  const folder = fs.mkdtempSync(path_.join(os.tmpdir(), 'autocoder-rerun-'));
  const file = path_.join(folder, 'notebook.ipynb');
  fs.writeFileSync(file, content);
  const output = execFileSync(
    'python',
    [path_.resolve(__dirname, '..', 'rerun_notebook.py'), file],
    { encoding: 'utf-8', timeout: 120_000 }
  );
  return JSON.parse(output);
}
