/** Which requests of the panel start an exploration (chat/explore.ts). */
import { exploreTarget } from '../chat/explore';

describe('exploreTarget', () => {
  it('takes /explore TARGET in any mode', () => {
    expect(exploreTarget('/explore sales.csv', 'agent')).toBe('sales.csv');
    expect(exploreTarget('  /Explore df ', 'chat')).toBe('df');
    expect(exploreTarget('/explore data/my sales.csv', 'agent')).toBe(
      'data/my sales.csv'
    );
  });

  it('takes explore TARGET (one word) in Agent mode only', () => {
    expect(exploreTarget('explore df', 'agent')).toBe('df');
    expect(exploreTarget('explore `df`', 'agent')).toBe('df');
    expect(exploreTarget('explore df', 'chat')).toBeNull();
  });

  it('leaves other requests that mention exploring alone', () => {
    expect(exploreTarget('explore why df has NaNs', 'agent')).toBeNull();
    expect(exploreTarget('please explore df', 'agent')).toBeNull();
    expect(exploreTarget('/explorer df', 'agent')).toBeNull();
  });

  it('gives an empty target for a bare /explore (the server says what is missing)', () => {
    expect(exploreTarget('/explore', 'agent')).toBe('');
  });
});
