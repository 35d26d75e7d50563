import { artifact } from './steps/artifact';
import { artisan } from './steps/artisan';
import { assets } from './steps/assets';
import { build } from './steps/build';
import { clone } from './steps/clone';
import { composer } from './steps/composer';
import { connect } from './steps/connect';
import type { HookStem, Step } from './lifecycle/context';
import { health } from './steps/health';
import { live } from './steps/live';
import { lock } from './steps/lock';
import { migrate } from './steps/migrate';
import { packageStep } from './steps/package';
import { prepcomposer } from './steps/prepcomposer';
import { opcache } from './steps/opcache';
import { optimize } from './steps/optimize';
import { permissions } from './steps/permissions';
import { prune } from './steps/prune';
import { release } from './steps/release';
import { restart } from './steps/restart';
import { shared } from './steps/shared';
import { unlock } from './steps/unlock';

/** A part of the plan: one step, branches that run side by side (each a series), or a phase with hooks around it. */
export type PlanPart = Step | { together: Step[][] } | { phase: HookStem; parts: PlanPart[] };

/**
 * The release series, in the order it runs. The connections open while the local build runs (a
 * build takes seconds, a handshake several round trips; the files to upload are listed once the
 * build is done). Everything before `live` prepares the new release without touching what is
 * served; the asset upload runs beside clone → shared → composer → artisan → migrate (into a
 * staging directory until the checkout is there: assets.ts); Attaché's "deploy" phase
 * (before-deploy … after-deploy) spans clone through migrate; `live` is the one moment the site
 * changes; once `health` passes the deploy is committed and a failure no longer swaps back.
 *
 * Both strategies are in the plan; each step's appliesTo picks its servers ("strategy" in the
 * config), so a fleet may mix them: clone and composer on "clone" servers, package and artifact
 * (built here, sent as files) on "artifact" ones, where the asset upload is part of the tree.
 * `optimize` builds Laravel's caches before migrate and the swap (a broken config fails first);
 * `opcache` resets php-fpm's OPcache right after the swap; `restart` runs once the swap is healthy.
 */
export const DEPLOY_PLAN: readonly PlanPart[] = [
  { together: [[build], [connect]] },
  packageStep,
  lock,
  release,
  { phase: 'deploy', parts: [{ together: [[clone, artifact, prepcomposer, shared, permissions, composer, artisan, optimize, migrate], [assets]] }] },
  live,
  opcache,
  health,
  restart,
  prune,
  unlock,
];

/** Every step of a plan, flat, in order. */
export function stepsOf(parts: readonly PlanPart[]): Step[] {
  return parts.flatMap((part) => ('together' in part ? part.together.flat() : 'phase' in part ? stepsOf(part.parts) : [part]));
}

export const DEPLOY_SERIES: readonly Step[] = stepsOf(DEPLOY_PLAN);

export { artifact, artisan, assets, build, clone, composer, connect, health, live, lock, migrate, opcache, optimize, packageStep, permissions, prepcomposer, prune, release, restart, shared, unlock };
export type { Deploy, ServerRun, Step } from './lifecycle/context';
