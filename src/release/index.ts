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

/**
 * The release series, in the order it runs. Everything up to `assets` prepares the new release
 * without touching what is served; `live` is the one moment the site changes; after `health` the
 * deploy is committed and a failure no longer swaps back.
 */
export const DEPLOY_SERIES: readonly Step[] = [build, connect, lock, clone, shared, composer, artisan, assets, live, health, prune, unlock];

/** The step after which a deploy is committed. */
export const COMMIT_AFTER = health.name;

export { artisan, assets, build, clone, composer, connect, health, live, lock, prune, shared, unlock };
export type { Deploy, ServerRun, Step } from './context';
