import type { Flags, TaskName } from '../cli/flags';
import type { Logger } from '../log';
import type { Step } from './lifecycle/context';
import { doctorTask } from './doctor/doctor';
import { makePlan, readConfig, type Plan, type PlanOptions } from './lifecycle/plan';
import { replaceStep, type PlanPart } from './lifecycle/series';
import { deleteStep } from './operations/delete';
import { initConfig, terminalAsk } from './operations/init';
import { maintenanceStep } from './operations/maintenance';
import { pruneCountStep, pruneStep } from './operations/prune';
import { releasesStep } from './operations/releases';
import { activateStep, rollbackStep } from './operations/rollback';
import { serversTable } from './operations/servers';
import { sshStep } from './operations/ssh';
import { forceUnlockStep } from './operations/unlock';
import { artifact } from './steps/artifact';
import { artisan } from './steps/artisan';
import { assets } from './steps/assets';
import { build } from './steps/build';
import { clone } from './steps/clone';
import { composer } from './steps/composer';
import { connect } from './steps/connect';
import { health } from './steps/health';
import { installCheck } from './steps/install-check';
import { keyGenerate } from './steps/key';
import { live } from './steps/live';
import { match } from './steps/match';
import { lock } from './steps/lock';
import { migrate } from './steps/migrate';
import { opcache } from './steps/opcache';
import { optimize } from './steps/optimize';
import { packageStep } from './steps/package';
import { permissions } from './steps/permissions';
import { preflight } from './steps/preflight';
import { prepcomposer } from './steps/prepcomposer';
import { prune } from './steps/prune';
import { release } from './steps/release';
import { restart } from './steps/restart';
import { shared } from './steps/shared';
import { source } from './steps/source';
import { symlinks } from './steps/symlinks';
import { unlock } from './steps/unlock';

/**
 * The release series, in the order it runs. The connections open while the local build runs (a
 * build takes seconds, a handshake several round trips; the files to upload are listed once the
 * build is done). Everything before `live` prepares the new release without touching what is
 * served; the asset upload runs beside clone → shared → symlinks → composer → artisan → migrate (into a
 * staging directory until the checkout is there: steps/assets.ts); Attaché's "deploy" phase
 * (before-deploy … after-deploy) spans clone through migrate; `live` is the one moment the site
 * changes; once `health` passes the deploy is committed and a failure no longer swaps back.
 *
 * Both strategies are in the series; each step's appliesTo picks its servers ("strategy" in the
 * config), so a fleet may mix them: clone and composer on "clone" servers, package and artifact
 * (built here, sent as files) on "artifact" ones, where the asset upload is part of the tree.
 */
export const DEPLOY_PLAN: readonly PlanPart[] = [
  {
    together: [
      [source, build],
      [connect, preflight],
    ],
  },
  packageStep,
  lock,
  release,
  {
    phase: 'deploy',
    parts: [
      { together: [[clone, artifact, match, prepcomposer, shared, symlinks, permissions, composer, artisan, optimize, migrate], [assets]] },
    ],
  },
  { rollout: [live, opcache, health] },
  restart,
  prune,
  unlock,
];

/**
 * Attaché's `install` is the first deploy: the same series, with the check that refuses a server
 * that has releases before anything builds (so the build waits for the connections), and the
 * app's key generated after the artisan step (before optimize caches the config that holds it).
 */
export const INSTALL_PLAN: readonly PlanPart[] = replaceStep(
  replaceStep(replaceStep(replaceStep(DEPLOY_PLAN, connect, []), preflight, []), source, [connect, installCheck, preflight, source]),
  artisan,
  [artisan, keyGenerate],
);

/** What runs after live points elsewhere, in a deploy and in rollback and activate alike. */
const AFTER_SWAP: readonly Step[] = [opcache, health, restart];

/** A task that makes a release: its series runs as one deployment, each step also a gulp task of its own. */
export interface ReleaseTask {
  kind: 'release';
  name: TaskName;
  description: string;
  plan: readonly PlanPart[];
}

/** A task that works on servers with a deploy's life (connect, undo on failure, end once): a short series chosen by its flags. */
export interface ServerTask {
  kind: 'servers';
  name: TaskName;
  description: string;
  /** Called before anything connects: it checks the flags the series needs. */
  series(flags: Flags, plan: Plan): Step[];
}

/** A task outside a deploy's life: it reads the config (or writes it); the doctor connects on its own, only to read. */
export interface LocalTask {
  kind: 'local';
  name: TaskName;
  description: string;
  run(context: { options: PlanOptions; flags: Flags; log: Logger }): Promise<void> | void;
}

export type Task = ReleaseTask | ServerTask | LocalTask;

/** Every task of the preset, once: what `gulp --tasks` shows, what the README's table lists, what runs. */
export const TASKS: readonly Task[] = [
  {
    kind: 'release',
    name: 'deploy',
    description:
      'deploy a new release (build while connecting, lock, clone, then shared → composer → artisan → migrate beside the asset upload, live, health, prune, unlock)',
    plan: DEPLOY_PLAN,
  },
  {
    kind: 'release',
    name: 'install',
    description:
      'the first deploy: refuses a server with releases, installs --env (default .env.example) as root/.env, runs artisan key:generate',
    plan: INSTALL_PLAN,
  },
  {
    kind: 'servers',
    name: 'rollback',
    description: 'point live at the release before it (atomic), then reset OPcache, check health (swapping back on failure) and restart',
    series: () => [lock, rollbackStep, ...AFTER_SWAP, unlock],
  },
  {
    kind: 'servers',
    name: 'activate',
    description: 'point live at --release=<id> (or "latest"), then reset OPcache, check health (swapping back on failure) and restart',
    series: (flags) => [lock, activateStep(flags.release), ...AFTER_SWAP, unlock],
  },
  {
    kind: 'servers',
    name: 'releases',
    description: 'list the releases on the server(s): id, date, commit, status, which is live',
    series: () => [releasesStep()],
  },
  {
    kind: 'servers',
    name: 'prune',
    description: 'remove old releases (keeps "keep", or the --count oldest; never live nor the one before it)',
    series: (flags) => [lock, flags.count === undefined ? pruneStep : pruneCountStep(flags.count), unlock],
  },
  { kind: 'servers', name: 'unlock', description: forceUnlockStep.description, series: () => [forceUnlockStep] },
  {
    kind: 'servers',
    name: 'delete',
    description: 'remove the release --release=<id> (never the live one)',
    series: (flags) => [lock, deleteStep(flags.release), unlock],
  },
  {
    kind: 'servers',
    name: 'down',
    description: 'php artisan down in the live release (maintenance mode)',
    series: () => [maintenanceStep('down')],
  },
  {
    kind: 'servers',
    name: 'up',
    description: 'php artisan up in the live release (out of maintenance mode)',
    series: () => [maintenanceStep('up')],
  },
  {
    kind: 'servers',
    name: 'ssh',
    description: "an interactive login shell on the server, in its root, over the deploy's verified connection",
    series: (_flags, plan) => [sshStep(plan.selected)],
  },
  {
    kind: 'local',
    name: 'doctor',
    description:
      'check everything a first deploy needs, here and on the server(s), and what the web server serves; change nothing (exit 1 on a failed check)',
    run: ({ options }) => doctorTask(makePlan('doctor', options)),
  },
  {
    kind: 'local',
    name: 'init',
    description: "write .attache.json from the project's git remote (asks which when there are several)",
    async run({ options, flags, log }) {
      const { file, repository } = await initConfig({
        cwd: options.cwd ?? process.cwd(),
        file: options.config ?? flags.config,
        remote: flags.remote,
        ask: terminalAsk(),
      });
      log.info(`wrote ${file} (repository ${repository}): set the server's host, user and root`);
    },
  },
  {
    kind: 'local',
    name: 'servers',
    description: 'list the configured servers: name, host, port, user, root, branch (nothing connects)',
    run({ options, flags, log }) {
      log.summary(serversTable(readConfig(options, flags, log)));
    },
  },
];
