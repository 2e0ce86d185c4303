/** `@name` in a request (chat/mentions.ts): which names it mentions, and what is being typed. */
import { mentionAt, mentionedNames } from '../chat/mentions';

describe('mentionedNames', () => {
  it('finds each @name once, in order', () => {
    expect(
      mentionedNames('plot @df against @sales_2024, then @df again')
    ).toEqual(['df', 'sales_2024']);
  });

  it('takes a name at the start, after punctuation or a bracket', () => {
    expect(mentionedNames('@df, (@s) and "@x"')).toEqual(['df', 's', 'x']);
  });

  it('ignores e-mail addresses, @@, numbers and a lone @', () => {
    expect(
      mentionedNames('mail me@example.com or @@x or @1x or @ alone')
    ).toEqual([]);
  });
});

describe('mentionAt', () => {
  it('gives the prefix typed just before the caret', () => {
    expect(mentionAt('plot @sa', 8)).toEqual({ start: 5, prefix: 'sa' });
    expect(mentionAt('@', 1)).toEqual({ start: 0, prefix: '' });
  });

  it('is null when the caret is not in an @name', () => {
    expect(mentionAt('plot @sa les', 12)).toBeNull();
    expect(mentionAt('me@exa', 6)).toBeNull();
    expect(mentionAt('plain words', 5)).toBeNull();
  });
});
