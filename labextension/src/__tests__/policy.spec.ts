/** The admin's policy as the panel applies and tells it (model/policy.ts). */
import { nullTranslator } from '@jupyterlab/translation';

import { modelBlocked, policyNotes, withinPolicy } from '../model/policy';
import {
  DEFAULT_PANEL_SETTINGS,
  IAdminPolicy,
  ICatalogueModel,
  IPanelSettings
} from '../tokens';

const trans = nullTranslator.load('jupyter_autocoder');

const OPEN: IAdminPolicy = {
  allowed_models: null,
  allow_downloads: true,
  allowed_install_policies: ['ask', 'auto', 'never'],
  max_rounds_limit: 10,
  install_policy: 'ask',
  max_rounds: 3
};

const STRICT: IAdminPolicy = {
  allowed_models: ['smollm2-*', 'qwen2.5-coder-*'],
  allow_downloads: false,
  allowed_install_policies: ['ask', 'never'],
  max_rounds_limit: 4,
  install_policy: 'ask',
  max_rounds: 3
};

function model(name: string, extra: Partial<ICatalogueModel>): ICatalogueModel {
  return {
    name,
    description: '',
    family: '',
    size_bytes: 1e9,
    source: '',
    cached: true,
    path: null,
    ...extra
  };
}

describe('withinPolicy', () => {
  const mine: IPanelSettings = {
    ...DEFAULT_PANEL_SETTINGS,
    installPolicy: 'auto',
    rounds: 8
  };

  it('leaves the settings alone without a policy, or when it allows them', () => {
    expect(withinPolicy(mine, undefined)).toEqual(mine);
    expect(withinPolicy(mine, OPEN)).toEqual(mine);
  });

  it('never installs without asking where auto is forbidden, and keeps the round limit', () => {
    const applied = withinPolicy(mine, STRICT);
    expect(applied.installPolicy).toBe('ask');
    expect(applied.rounds).toBe(4);
    expect(
      withinPolicy(mine, { ...STRICT, allowed_install_policies: ['never'] })
        .installPolicy
    ).toBe('never');
  });

  it('keeps 0 rounds (the server decides)', () => {
    expect(withinPolicy({ ...mine, rounds: 0 }, STRICT).rounds).toBe(0);
  });
});

describe('modelBlocked', () => {
  it('says why a model cannot be chosen', () => {
    expect(
      modelBlocked(model('autocoder-33b', { allowed: false }), STRICT, trans)
    ).toContain(
      'Not allowed on this server (c.AutoCoder.allowed_models: smollm2-*, qwen2.5-coder-*)'
    );
    expect(
      modelBlocked(
        model('qwen2.5-coder-1.5b', { allowed: true, cached: false }),
        STRICT,
        trans
      )
    ).toContain('downloads are turned off');
    expect(
      modelBlocked(model('smollm2-135m', { allowed: true }), STRICT, trans)
    ).toBe('');
    expect(
      modelBlocked(model('autocoder-33b', { cached: false }), OPEN, trans)
    ).toBe('');
  });
});

describe('policyNotes', () => {
  it('says nothing for an open policy and the user’s own settings', () => {
    expect(policyNotes(OPEN, DEFAULT_PANEL_SETTINGS, trans)).toEqual([]);
    expect(policyNotes(null, DEFAULT_PANEL_SETTINGS, trans)).toEqual([]);
  });

  it('names each restriction, and where it overrides the user', () => {
    const notes = policyNotes(
      STRICT,
      { ...DEFAULT_PANEL_SETTINGS, installPolicy: 'auto', rounds: 6 },
      trans
    );
    expect(notes).toEqual([
      'Models: smollm2-*, qwen2.5-coder-*',
      'No downloads: only models already on this machine',
      'Installs: ask, never only',
      'At most 4 rounds a request',
      'Your install policy “auto” is not allowed here: “ask” applies.',
      'Your Rounds setting (6) is above the limit: 4 apply.'
    ]);
  });
});
