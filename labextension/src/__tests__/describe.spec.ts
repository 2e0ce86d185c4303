/**
 * What the panel header says of `auto`'s choice and of a download (model/describe.ts):
 * the size from the first moment, the reason in the tooltip.
 */
import { choiceLines, downloadText, formatBytes } from '../model/describe';
import type { IAutoChoice, IEngineStatus } from '../tokens';

/** The translator's `__` with its %1 placeholders, as JupyterLab's does without a language pack. */
const trans = {
  __: (text: string, ...args: unknown[]) =>
    text.replace(/%(\d+)/g, (_, n) => String(args[Number(n) - 1]))
};

const CHOICE: IAutoChoice = {
  model: 'qwen2.5-coder-1.5b',
  quantisation: null,
  size_bytes: 1117320768,
  cached: false,
  download_bytes: 1117320768,
  download_from: 'PyPI',
  tokens_per_second: 17.6,
  memory_bytes: 1884918883,
  gpu_layers: 0,
  n_layers: 28,
  min_tokens_per_second: 8,
  reason: 'no AutoCoder both fits and decodes at 8 tokens/s on this machine',
  headline:
    'auto picks qwen2.5-coder-1.5b (1.12 GB to download from PyPI) here because no AutoCoder both fits and decodes at 8 tokens/s on this machine',
  details: [
    'Estimated 18 tokens/s, 1.88 GB of memory, on the CPU.',
    'This machine: 2 cores, 25.3 GB RAM, memory read at 33 GB/s, no GPU.',
    'Passed over autocoder-s-6.7b Q4_K_M: about 4.8 tokens/s here, below the floor of 8.'
  ],
  passed_over: [],
  machine: '2 cores',
  last_resort: false,
  notice: null
};

function status(overrides: Partial<IEngineStatus>): IEngineStatus {
  return {
    state: 'downloading',
    model: 'auto',
    path: null,
    device: null,
    n_gpu_layers: null,
    n_layers: null,
    error: null,
    progress: { done: 0, total: 1117320768, file: 'qwen2.5-coder-1.5b' },
    base_url: null,
    choice: CHOICE,
    ...overrides
  };
}

describe('choiceLines', () => {
  it('gives the headline, then why: the estimate, the machine, what was passed over', () => {
    const lines = choiceLines(CHOICE);
    expect(lines[0]).toBe(`${CHOICE.headline}.`);
    expect(lines.slice(1)).toEqual(CHOICE.details);
  });

  it('says nothing for a model named explicitly', () => {
    expect(choiceLines(null)).toEqual([]);
    expect(choiceLines(undefined)).toEqual([]);
  });
});

describe('downloadText', () => {
  it("says auto's pick and its size before the first byte", () => {
    expect(downloadText(status({}), trans)).toBe(
      'auto picked qwen2.5-coder-1.5b for this machine: downloading 1.1 GB from PyPI.'
    );
  });

  it('says the size of a download that auto did not choose', () => {
    const engine = status({ model: 'autocoder-s-6.7b', choice: null });
    engine.progress = { done: 10, total: 4080000000, file: 'x.gguf' };
    expect(downloadText(engine, trans)).toBe(
      'Downloading autocoder-s-6.7b (4.1 GB).'
    );
  });

  it('after a cancel, says what was not downloaded', () => {
    expect(downloadText(status({ state: 'stopped' }), trans)).toBe(
      'Not downloaded: auto picks qwen2.5-coder-1.5b here (1.1 GB from PyPI).'
    );
  });

  it('says nothing when the model is on the machine', () => {
    const cached = { ...CHOICE, cached: true, download_bytes: 0 };
    expect(
      downloadText(status({ state: 'loading', choice: cached }), trans)
    ).toBeNull();
    expect(
      downloadText(status({ state: 'stopped', choice: cached }), trans)
    ).toBeNull();
    expect(downloadText(status({ state: 'ready' }), trans)).toBeNull();
  });
});

describe('formatBytes', () => {
  it('rounds to a readable size', () => {
    expect(formatBytes(98000000)).toBe('98 MB');
    expect(formatBytes(19900000000)).toBe('20 GB');
    expect(formatBytes(null)).toBe('?');
  });
});
