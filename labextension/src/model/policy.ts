import { TranslationBundle } from '@jupyterlab/translation';

import {
  IAdminPolicy,
  ICatalogueModel,
  InstallPolicy,
  IPanelSettings
} from '../tokens';

/** The install policies, in the order a forbidden choice falls back to. */
const FALLBACK_ORDER: InstallPolicy[] = ['ask', 'never', 'auto'];
const ALL_POLICIES: InstallPolicy[] = ['ask', 'auto', 'never'];
/** The protocol's own round limit (server/protocol.py MAX_ROUNDS_LIMIT). */
const PROTOCOL_ROUNDS_LIMIT = 10;

/**
 * The panel's settings as the admin's policy lets them apply: an install policy the server
 * does not allow becomes the first of ask, never, auto that it does; more rounds than the
 * limit become the limit. Without a policy (an older server) the settings stay.
 */
export function withinPolicy(
  settings: IPanelSettings,
  policy: IAdminPolicy | null | undefined
): IPanelSettings {
  if (!policy) {
    return settings;
  }
  const allowed = policy.allowed_install_policies;
  const installPolicy = allowed.includes(settings.installPolicy)
    ? settings.installPolicy
    : (FALLBACK_ORDER.find(choice => allowed.includes(choice)) ?? 'ask');
  const rounds = Math.min(settings.rounds, policy.max_rounds_limit);
  return { ...settings, installPolicy, rounds };
}

/** Why a model of the catalogue cannot be chosen here, or '' when it can. */
export function modelBlocked(
  model: ICatalogueModel,
  policy: IAdminPolicy | null | undefined,
  trans: TranslationBundle
): string {
  if (model.allowed === false) {
    return trans.__(
      'Not allowed on this server (c.AutoCoder.allowed_models: %1)',
      (policy?.allowed_models ?? []).join(', ')
    );
  }
  if (!model.cached && policy && !policy.allow_downloads) {
    return trans.__(
      'Not on this machine, and downloads are turned off on this server (c.AutoCoder.allow_downloads)'
    );
  }
  return '';
}

/**
 * What the admin's policy sets, one line each, and where it overrides the user's own
 * settings; nothing when the policy restricts nothing and overrides nothing.
 */
export function policyNotes(
  policy: IAdminPolicy | null | undefined,
  settings: IPanelSettings | null,
  trans: TranslationBundle
): string[] {
  if (!policy) {
    return [];
  }
  const notes: string[] = [];
  if (policy.allowed_models) {
    notes.push(trans.__('Models: %1', policy.allowed_models.join(', ')));
  }
  if (!policy.allow_downloads) {
    notes.push(trans.__('No downloads: only models already on this machine'));
  }
  const installs = policy.allowed_install_policies;
  if (ALL_POLICIES.some(choice => !installs.includes(choice))) {
    notes.push(trans.__('Installs: %1 only', installs.join(', ')));
  }
  if (policy.max_rounds_limit < PROTOCOL_ROUNDS_LIMIT) {
    notes.push(
      trans.__('At most %1 rounds a request', policy.max_rounds_limit)
    );
  }
  if (settings) {
    const applied = withinPolicy(settings, policy);
    if (applied.installPolicy !== settings.installPolicy) {
      notes.push(
        trans.__(
          'Your install policy “%1” is not allowed here: “%2” applies.',
          settings.installPolicy,
          applied.installPolicy
        )
      );
    }
    if (applied.rounds !== settings.rounds) {
      notes.push(
        trans.__(
          'Your Rounds setting (%1) is above the limit: %2 apply.',
          settings.rounds,
          applied.rounds
        )
      );
    }
  }
  return notes;
}
