import { artisan } from './artisan';
import { assets } from './assets';
import { build } from './build';
import { clone } from './clone';
import { composer } from './composer';
import { connect } from './connect';
import type { Step } from './context';
import { health } from './health';
import { live } from './live';
import { lock } from './lock';
import { prune } from './prune';
import { shared } from './shared';
import { unlock } from './unlock';

/** A part of the plan: one step, or branches that run side by side (each a series). */
export type PlanPart = Step | { together: Step[][] };

/**
 * The release series, in the order it runs. Everything before `live` prepares the new release
 * without touching what is served; the asset upload needs only the clone, so it runs beside
 * shared → composer → artisan; `live` is the one moment the site changes; after `health` the
 * deploy is committed and a failure no longer swaps back.
 */
export const DEPLOY_PLAN: readonly PlanPart[] = [
  build,
  connect,
  lock,
  clone,
  { together: [[shared, composer, artisan], [assets]] },
  live,
  health,
  prune,
  unlock,
];

/** Every step of the plan, flat, in order. */
export const DEPLOY_SERIES: readonly Step[] = DEPLOY_PLAN.flatMap((part) => ('together' in part ? part.together.flat() : [part]));

/** The step after which a deploy is committed. */
export const COMMIT_AFTER = health.name;

export { artisan, assets, build, clone, composer, connect, health, live, lock, prune, shared, unlock };
export type { Deploy, ServerRun, Step } from './context';
