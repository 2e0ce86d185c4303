/**
 * How a model's answer is split into Markdown prose and code blocks, complete and while
 * it streams in (chat/segments.ts).
 */
import { splitAnswer } from '../chat/segments';

/** The segments as `kind[language]:text` strings, with `…` for a block still open. */
function shape(answer: string, complete = false): string[] {
  return splitAnswer(answer, complete).map(segment =>
    segment.kind === 'markdown'
      ? `markdown:${segment.text}`
      : `code[${segment.language}]:${segment.text}${segment.closed ? '' : '…'}`
  );
}

describe('a complete answer', () => {
  it('is prose and fenced code blocks in order', () => {
    const answer =
      'Here is the sum:\n\n```python\nprint(1 + 1)\n```\n\nIt prints 2.';
    expect(shape(answer, true)).toEqual([
      'markdown:Here is the sum:\n',
      'code[python]:print(1 + 1)',
      'markdown:\nIt prints 2.'
    ]);
  });

  it('keeps the first word of the info string as the language', () => {
    expect(shape('```sh title="install"\npip install rich\n```', true)).toEqual(
      ['code[sh]:pip install rich']
    );
  });

  it('closes a block only with a fence like its opening one, at least as long', () => {
    const answer = '````markdown\n```python\nx = 1\n```\n````';
    expect(shape(answer, true)).toEqual([
      'code[markdown]:```python\nx = 1\n```'
    ]);
    expect(shape('~~~\na\n```\nb\n~~~', true)).toEqual(['code[]:a\n```\nb']);
  });

  it('shows a block the model never closed as complete', () => {
    const [block] = splitAnswer('```python\nx = 1\n', true);
    expect(block).toMatchObject({ kind: 'code', text: 'x = 1', closed: true });
  });

  it('hides the run tags but keeps the code inside them', () => {
    const answer = '<API_RUN_START>```python\nx = 1\n```<API_RUN_STOP>';
    expect(shape(answer, true)).toEqual(['code[python]:x = 1']);
  });

  it('reads Windows line ends like Unix ones', () => {
    expect(shape('Sum:\r\n```python\r\nx = 1\r\n```\r\n', true)).toEqual([
      'markdown:Sum:',
      'code[python]:x = 1'
    ]);
  });

  it('shows a last line of backticks as text once the answer is complete', () => {
    expect(shape('Done.\n``', true)).toEqual(['markdown:Done.\n``']);
  });
});

describe('a streaming answer', () => {
  it.each([['`'], ['``'], ['```'], ['```pyt'], ['  ~~'], ['```python']])(
    'holds back a last line that may become a fence: %j',
    partial => {
      expect(shape(`Here it is:\n${partial}`)).toEqual([
        'markdown:Here it is:\n'
      ]);
    }
  );

  it('does not hold back a line that cannot be a fence', () => {
    expect(shape('Call `len`')).toEqual(['markdown:Call `len`']);
    expect(shape('Here it is:\n``x = 1``')).toEqual([
      'markdown:Here it is:\n``x = 1``'
    ]);
  });

  it('shows an open block as code as soon as its fence line is complete', () => {
    expect(shape('Here it is:\n```python\n')).toEqual([
      'markdown:Here it is:',
      'code[python]:…'
    ]);
    expect(shape('```python\nprint(1)\nprint(2')).toEqual([
      'code[python]:print(1)\nprint(2…'
    ]);
  });

  it('holds back a closing fence in the making, and not as code', () => {
    expect(shape('```python\nx = 1\n``')).toEqual(['code[python]:x = 1…']);
    expect(shape('```python\nx = 1\n```')).toEqual(['code[python]:x = 1…']);
    expect(shape('```python\nx = 1\n```\n')).toEqual(['code[python]:x = 1']);
  });

  it('never shows a fence as text at any point of the stream', () => {
    const answer = 'Sum:\n```python\nprint(1 + 1)\n```\nDone.';
    for (let end = 1; end <= answer.length; end++) {
      for (const segment of splitAnswer(answer.slice(0, end))) {
        if (segment.kind === 'markdown') {
          expect(segment.text).not.toMatch(/^\s*`/m);
        }
      }
    }
    expect(shape(answer)).toEqual(shape(answer, true));
  });
});
