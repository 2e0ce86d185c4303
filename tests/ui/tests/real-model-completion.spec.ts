/**
 * Inline completion with the real small model (SmolLM2-135M in llama.cpp): typing in a
 * notebook cell brings ghost text, Ctrl+ArrowRight takes its next word, Escape dismisses
 * it, Tab accepts it and the cell then holds it; the time from the last keystroke to the
 * ghost text on screen, warm, is measured in the browser.
 *
 * SmolLM2 has no fill-in-the-middle tokens, so this is the configured fallback
 * (c.AutoCoder.completion_fallback, default "prefix": the model continues the text before
 * the cursor), and the status bar's tooltip says so.
 */
import { expect, IJupyterLabPageFixture, test } from '@jupyterlab/galata';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { newNotebook } from './autocoder';

test.describe.configure({ mode: 'serial' });

/** The debounce of schema/completion.json's default: the pause before asking. */
const DEBOUNCE_MS = 250;

/** Earlier lines of the cell, set at once; the last line is typed key by key. */
const CELLS = [
  {
    before:
      'import math\n\ndef circle_area(radius):\n    """The area of a circle."""\n    ',
    typed: 'return math.pi *'
  },
  {
    before: 'def greet(name):\n    """Say hello to someone."""\n    ',
    typed: 'message = "Hello, " +'
  },
  {
    before: 'numbers = [3, 1, 4, 1, 5, 9, 2, 6]\n',
    typed: 'largest = max('
  },
  {
    before: 'def square(x):\n    """x times x."""\n    ',
    typed: 'return x *'
  },
  {
    before: 'values = [1, 2, 3]\n',
    typed: 'total = sum('
  },
  {
    before: 'def is_even(n):\n    """Whether n is even."""\n    ',
    typed: 'return n %'
  }
];

test('typing brings ghost text from the real model, and Tab accepts it', async ({
  page
}) => {
  await newNotebook(page, 'completion');
  const status = page.locator('.jp-AutoCoderStatus');
  await expect(status).toHaveAttribute('data-state', 'ready', {
    timeout: 90_000
  });
  // The model has no fill-in-the-middle tokens: the status says how it completes instead.
  await expect(status).toHaveAttribute(
    'title',
    /Inline completion: the model has no fill-in-the-middle tokens: continues the text before the cursor/
  );

  const samples: number[] = [];
  const shownTexts: string[] = [];
  let accepted = false;
  for (let i = 0; i < CELLS.length; i++) {
    const { before, typed } = CELLS[i];
    const milliseconds = await typeAndWaitForGhost(page, i, before, typed);
    if (i > 0) {
      samples.push(milliseconds); // the first one warms the page and the model
    }
    const ghost = page.locator('.jp-GhostText');
    // Wait for the stream to end: what Tab takes is then the whole completion.
    await expect(ghost.locator('.jp-GhostText-streamingIndicator')).toHaveCount(
      0,
      { timeout: 30_000 }
    );
    const shown = await ghost.first().evaluate(node => {
      const clone = node.cloneNode(true) as HTMLElement;
      clone
        .querySelectorAll('.jp-GhostText-expandHidden')
        .forEach(element => element.remove());
      return clone.innerText ?? clone.textContent ?? '';
    });
    expect(shown.trim().length).toBeGreaterThan(0);
    shownTexts.push(typed + shown);
    if (i === CELLS.length - 3) {
      // Ctrl+ArrowRight takes the ghost text's next word only, as typed.
      const word = /^(\s*\w+|\s*[^\w\s]+|\s+)/.exec(shown)?.[0] ?? '';
      expect(word.trim().length).toBeGreaterThan(0);
      await page.keyboard.press('Control+ArrowRight');
      await expect.poll(() => cellSource(page, i)).toBe(before + typed + word);
      await page.keyboard.press('Escape');
    }
    if (i === CELLS.length - 2) {
      // Escape dismisses it, and the cell keeps only what was typed.
      await page.keyboard.press('Escape');
      await expect(page.locator('.jp-GhostText')).toHaveCount(0);
      expect(await cellSource(page, i)).toBe(before + typed);
    }
    if (i === CELLS.length - 1) {
      await page.keyboard.press('Tab');
      await expect(page.locator('.jp-GhostText')).toHaveCount(0);
      const source = await cellSource(page, i);
      // The cell holds what was typed, then the ghost text as it was shown.
      expect(source.slice(0, (before + typed).length)).toBe(before + typed);
      const added = source.slice((before + typed).length);
      expect(squash(added)).toBe(squash(shown));
      expect(added.trim().length).toBeGreaterThan(0);
      accepted = true;
    }
  }
  expect(accepted).toBe(true);

  const sorted = [...samples].sort((a, b) => a - b);
  const result = {
    what:
      'last keystroke to the first ghost text on screen, warm, notebook cell ' +
      `(includes the ${DEBOUNCE_MS} ms pause before asking)`,
    model: 'smollm2-135m',
    method: 'prefix (the model has no fill-in-the-middle tokens)',
    debounce_ms: DEBOUNCE_MS,
    samples_ms: samples.map(value => Math.round(value)),
    median_ms: Math.round(sorted[Math.floor(sorted.length / 2)]),
    max_ms: Math.round(sorted[sorted.length - 1]),
    // What the user saw: the typed line and its ghost text.
    lines: shownTexts,
    median_after_debounce_ms: Math.round(
      sorted[Math.floor(sorted.length / 2)] - DEBOUNCE_MS
    ),
    cpus: os.cpus().length,
    load_average_1min: Number(os.loadavg()[0].toFixed(2))
  };
  const file = test.info().outputPath('ghost-text.json');
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify(result, null, 2));
  console.log(`ghost text: ${JSON.stringify(result)}`);
  // Under a second after the pause on 2 idle cores; on cores that others keep busy only
  // a stall of seconds fails the test (as the panel's first-token test does).
  const quiet = result.load_average_1min < result.cpus;
  expect(result.median_ms).toBeLessThan(quiet ? 1000 : 5000);
});

/**
 * Put `before` in cell `index` (a new one after the first), type `typed` at its end key
 * by key, and return the milliseconds from the last keystroke to the ghost text.
 */
async function typeAndWaitForGhost(
  page: IJupyterLabPageFixture,
  index: number,
  before: string,
  typed: string
): Promise<number> {
  if (index > 0) {
    await page.notebook.addCell('code', 'x');
  }
  // Set whole (typing it would indent each line again), as a loaded notebook has it.
  await page.evaluate(
    ([at, source]) => {
      const notebook = (window as any).jupyterapp.shell.currentWidget.content;
      notebook.widgets[at].model.sharedModel.setSource(source);
    },
    [index, before] as [number, string]
  );
  await page.notebook.enterCellEditingMode(index);
  await page.keyboard.press('Control+End');
  await page.evaluate(armGhostTimer);
  // Typed as a user types: the provider asks after each pause, a newer key cancels.
  await page.keyboard.type(typed, { delay: 40 });
  return page.evaluate(() => (window as any).__ghostText as Promise<number>);
}

/**
 * In the page: `window.__ghostText` becomes a promise of the milliseconds from the last
 * key typed to the frame after ghost text with some text first shows.
 */
function armGhostTimer(): void {
  const w = window as any;
  let lastKey = 0;
  document.addEventListener(
    'keydown',
    () => {
      lastKey = performance.now();
    },
    { capture: true }
  );
  w.__ghostText = new Promise<number>((resolve, reject) => {
    const observer = new MutationObserver(() => {
      const ghost = document.querySelector('.jp-GhostText');
      if (lastKey && ghost && (ghost.textContent ?? '').trim()) {
        observer.disconnect();
        requestAnimationFrame(() => resolve(performance.now() - lastKey));
      }
    });
    observer.observe(document.body, {
      subtree: true,
      childList: true,
      characterData: true
    });
    setTimeout(() => {
      observer.disconnect();
      reject(new Error('no ghost text within 60 s of typing'));
    }, 60_000);
  });
}

/** The source of the notebook's cell at `index`, as its model holds it. */
async function cellSource(
  page: IJupyterLabPageFixture,
  index: number
): Promise<string> {
  return page.evaluate(at => {
    const notebook = (window as any).jupyterapp.shell.currentWidget.content;
    return notebook.widgets[at].model.sharedModel.getSource() as string;
  }, index);
}

/** Whitespace as one space: the ghost's DOM text and the source differ only there. */
function squash(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}
