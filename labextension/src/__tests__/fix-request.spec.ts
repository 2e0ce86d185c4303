/** The request that "Fix with AutoCoder" sends for a failing cell (fix/request.ts). */
import type * as nbformat from '@jupyterlab/nbformat';

import { fixRequest } from '../fix/request';

describe('fixRequest', () => {
  it('names the error and quotes the cell', () => {
    const error: nbformat.IError = {
      output_type: 'error',
      ename: 'NameError',
      evalue: "name 'x' is not defined",
      traceback: []
    };
    expect(fixRequest('print(x)\n\n', error)).toBe(
      "Fix this cell. It raised `NameError: name 'x' is not defined`.\n\n" +
        '```python\nprint(x)\n```'
    );
  });

  it('keeps the first line of the message, without terminal colours', () => {
    const error: nbformat.IError = {
      output_type: 'error',
      ename: 'ValueError',
      evalue: '\u001b[31mbad shape\u001b[0m\nmore detail',
      traceback: []
    };
    expect(fixRequest('f()', error)).toContain('`ValueError: bad shape`');
  });

  it('fences a cell that holds a fence with tildes', () => {
    const error: nbformat.IError = {
      output_type: 'error',
      ename: 'E',
      evalue: 'e',
      traceback: []
    };
    const request = fixRequest('s = """\n```\n"""', error);
    expect(request).toContain('~~~python\ns = """\n```\n"""\n~~~');
  });
});
