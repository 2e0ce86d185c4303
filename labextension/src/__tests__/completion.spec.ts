/** Inline completion's pure parts: the prompt's context from cells, budgets, the NDJSON
 * reader, the next word of the ghost text (completion/), and the status bar's line on it. */
import {
  commentMarker,
  cutPrefix,
  cutSuffix,
  languageOfMimeType,
  markdownAsComment,
  notebookContext
} from '../completion/context';
import { nextWord } from '../completion/ghost';
import { nullTranslator } from '@jupyterlab/translation';
import { completionStatusLine } from '../completion/status';
import { CompletionReader, IByteSource } from '../completion/stream';

describe('notebookContext', () => {
  const cells = [
    { kind: 'code' as const, source: 'import pandas as pd\n' },
    { kind: 'markdown' as const, source: '## Load the data\n\nFrom the CSV.' },
    { kind: 'code' as const, source: 'df = pd.read_csv("x.csv")\ndf.he' },
    { kind: 'raw' as const, source: 'raw text' },
    { kind: 'code' as const, source: 'df.plot()' }
  ];

  it('puts earlier cells, markdown as comments, before the cursor; the rest after', () => {
    const source = cells[2].source;
    const { prefix, suffix } = notebookContext(
      cells,
      2,
      source.length,
      'python',
      10000,
      10000
    );
    expect(prefix).toBe(
      'import pandas as pd\n\n# ## Load the data\n#\n# From the CSV.\n\ndf = pd.read_csv("x.csv")\ndf.he'
    );
    expect(suffix).toBe('\n\ndf.plot()'); // raw cells are left out
  });

  it('splits the active cell at the cursor', () => {
    const { prefix, suffix } = notebookContext(
      cells,
      2,
      3,
      'python',
      10000,
      10000
    );
    expect(prefix.endsWith('\n\ndf ')).toBe(true);
    expect(suffix.startsWith('= pd.read_csv')).toBe(true);
  });

  it('cuts both sides from their far ends', () => {
    const many = Array.from({ length: 50 }, (_, i) => ({
      kind: 'code' as const,
      source: `x${i} = ${i}`
    }));
    const { prefix, suffix } = notebookContext(many, 25, 4, 'python', 40, 20);
    expect(prefix.length).toBeLessThanOrEqual(40);
    expect(prefix.endsWith('x25 ')).toBe(true); // the cursor's side is kept
    expect(suffix.length).toBeLessThanOrEqual(20);
    expect(suffix.startsWith('= 25')).toBe(true);
  });
});

describe('budgets', () => {
  it('keeps whole lines where it can', () => {
    expect(cutPrefix('aaa\nbbb\nccc', 6)).toBe('ccc');
    expect(cutSuffix('aaa\nbbb\nccc', 6)).toBe('aaa\n');
    expect(cutPrefix('abc', 10)).toBe('abc');
    expect(cutPrefix('abcdef', 0)).toBe('');
  });
});

describe('languages', () => {
  it('knows comment markers and editor MIME types', () => {
    expect(commentMarker('python')).toBe('#');
    expect(commentMarker('javascript')).toBe('//');
    expect(markdownAsComment('# Title\n\ntext', 'julia')).toBe(
      '# # Title\n#\n# text'
    );
    expect(markdownAsComment('text', 'brainfuck')).toBe('');
    expect(languageOfMimeType('text/x-ipython')).toBe('python');
    expect(languageOfMimeType('text/x-ipythongfm')).toBe('markdown');
    expect(languageOfMimeType('text/x-rsrc')).toBe('r');
    expect(languageOfMimeType('text/plain')).toBe('plaintext');
  });
});

/** A response body that hands out `chunks`, as a fetch response's stream would. */
function streamOf(chunks: string[]): IByteSource {
  // ASCII only: each character is its byte.
  const queue = chunks.map(chunk =>
    Uint8Array.from(chunk, c => c.charCodeAt(0))
  );
  return {
    getReader: () => ({
      read: async () =>
        queue.length
          ? { value: queue.shift(), done: false }
          : { value: undefined, done: true },
      cancel: async () => {
        queue.length = 0;
      }
    })
  };
}

describe('CompletionReader', () => {
  it('gives the pieces as they come, across chunk boundaries, and the end', async () => {
    const reader = new CompletionReader(
      streamOf([
        '{"text": "ret',
        'urn x"}\n{"text": " + 1"}\n',
        '{"done": true, "reason": "stop", "seconds": 0.2}\n'
      ])
    );
    expect(await reader.next()).toBe('return x');
    expect(reader.finished).toBe(false);
    expect(await reader.next()).toBe(' + 1');
    expect(await reader.next()).toBeNull();
    expect(reader.finished).toBe(true);
    expect(reader.text).toBe('return x + 1');
    expect(reader.last?.reason).toBe('stop');
  });

  it('ends at an error line and ignores what is not JSON', async () => {
    const reader = new CompletionReader(
      streamOf([
        'garbage\n{"text": "a"}\n{"error": "engine gone"}\n{"text": "b"}\n'
      ])
    );
    expect(await reader.next()).toBe('a');
    expect(await reader.next()).toBeNull();
    expect(reader.last?.error).toBe('engine gone');
    expect(reader.text).toBe('a');
  });
});

describe('nextWord', () => {
  const shown = { text: 'x = ', offset: 4, insertText: 'np.mean(values) + 1' };

  it('takes the next word of what is left of the ghost text', () => {
    expect(nextWord(shown, 'x = ', 4)).toBe('np');
    expect(nextWord(shown, 'x = np', 6)).toBe('.');
    expect(nextWord(shown, 'x = np.mean(values)', 19)).toBe(' +');
  });

  it('gives nothing once the text left the suggestion', () => {
    expect(nextWord(shown, 'x = pd', 6)).toBe('');
    expect(nextWord(null, 'x = ', 4)).toBe('');
  });
});

describe('the status bar says how inline completion works', () => {
  const trans = nullTranslator.load('jupyter-autocoder');
  const completion = (available: boolean, reason: string) => ({
    available,
    method: available ? 'prefix' : null,
    reason,
    lane: true,
    served: 0,
    superseded: 0,
    dropped: 0
  });

  it('names the fallback of a model without fill-in-the-middle tokens', () => {
    const reason =
      'the model has no fill-in-the-middle tokens: continues the text before the cursor';
    expect(completionStatusLine(completion(true, reason), trans)).toBe(
      `Inline completion: ${reason}`
    );
  });

  it('says when there is no inline completion at all', () => {
    expect(
      completionStatusLine(completion(false, 'the fallback is off'), trans)
    ).toBe('No inline completion: the fallback is off');
  });

  it('says nothing for a server that does not report it', () => {
    expect(completionStatusLine(undefined, trans)).toBeNull();
  });
});
