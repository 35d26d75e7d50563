import type { HookName, ServerConfig } from '../../config/types';
import type { Logger } from '../../log';
import type { Target } from '../../remote/target';
import type { ArtifactManifest, LocalArtifact } from '../files/artifact-tree';
import type { HashCache } from '../files/hash-cache';
import type { AssetListing } from '../files/local-assets';
import type { Layout } from '../model/layout';
import type { ReleaseInfo } from '../model/release-list';
import type { Plan } from './plan';
import type { UndoLog } from './undo-log';

/** What one deploy knows, shared by every step: its plan (config, servers, flags), the release id, the servers' runs. */
export interface Deploy extends Readonly<Plan> {
  /** The release id, the same on every server; chosen by the release step. */
  releaseId?: string;
  servers: ServerRun[];
  /** Aborted on failure or Ctrl-C: uploads stop taking new files. */
  cancel: AbortController;
  /** Ends the deploy now, successfully: the steps still to come do nothing (a deploy with nothing to do). */
  finish(): Promise<void>;
  /**
   * The local commit the assets are built from (source step): the project directory's HEAD, when it
   * is a git checkout; the release's commit must be this one.
   */
  sourceCommit?: string;
  /** The local asset files per set of mappings, walked once per deploy (a fleet's servers share them). */
  assetListings?: Map<string, AssetListing>;
  /** The local cache of the assets' content hashes, opened once per deploy. */
  hashCache?: Promise<HashCache>;
  /** The artifact this deploy ships (artifact strategy), chosen by the package step. */
  localArtifact?: LocalArtifact;
  /** The step that makes the release's files, once it has started; undefined before. */
  releaseTree?: ReleaseTree;
  /** Servers the connect step could not reach, with why: the report names them. */
  unreachable: Map<string, Error>;
  /** Something held for the deploy's life (the project directory's lock): released when it ends, however it ends. */
  whenDone(release: () => void): void;
  /** Each step's fan-out network (files/fanout.ts), once the step has asked for it: undefined when it has none. */
  fanOuts?: Map<string, FanOutNetwork | undefined>;
  /** The rollout's batches (server names) and failure budget, once it has started: the report shows them. */
  rolloutPlan?: { batches: string[][]; maxFailures: number };
}

/**
 * The step that makes the release's files (`makesReleaseTree`: the clone), as a step running
 * beside it sees it: `ready` settles when it has ended on every server, `done` says whether it
 * has. A step that writes into the release waits for `ready`.
 */
export interface ReleaseTree {
  ready: Promise<void>;
  done: boolean;
}

/**
 * A step's fan-out network (files/fanout.ts): its servers with a peerAddress, in the order the step
 * starts them (the first, the seed, gets the bytes from here), the deploy's token and key comment,
 * and what the seed published once it had its bytes (its failure, as an Error).
 */
export interface FanOutNetwork {
  members: readonly ServerRun[];
  seed: ServerRun;
  token: string;
  /** The last word of each authorized_keys line of this deploy's: how they are found and removed. */
  comment: string;
  published: Promise<FanOutPublished | Error>;
  publish(published: FanOutPublished | Error): void;
}

/** What the seed published: the identity of its bytes, and the tar that holds them (undefined: it could not keep one). */
export interface FanOutPublished {
  key: string;
  file?: string;
}

/** One server's part of a deploy. */
export interface ServerRun {
  server: ServerConfig;
  layout: Layout;
  target: Target;
  log: Logger;
  commit?: string;
  /** The artifact id of the release being made (the artifact strategy), for its marker. */
  artifact?: string;
  /** APP_URL of the server's root .env, read as the deploy connected: where Laravel's health route is asked. */
  appUrl?: string;
  /** Where live pointed when the deploy connected (null: no live link yet). */
  liveBefore: string | null;
  /** The releases when the lock was taken, and live then: the release step and prune need no listing of their own. */
  releasesSeen?: ReleaseInfo[];
  /**
   * The live release's artifact listing, as the package step read it (null: live holds none;
   * undefined: not read, too long to come back whole in that command).
   */
  liveArtifact?: ArtifactManifest | null;
  /** The live release, when it already holds the artifact this deploy ships (package step). */
  liveHoldsArtifact?: string;
  /** The release rollback or activate pointed live at (a deploy's is Deploy.releaseId). */
  activated?: string;
  /** Set by the swap: live was changed by this deploy (so a failure afterwards swaps it back). */
  liveChanged?: boolean;
  /** Why this server stays on its previous release: it failed in a rollout that went on without it. */
  keptPrevious?: string;
  /** The deploy lock this task holds on the server (taken by the lock step), undefined when it holds none. */
  lock?: LockLease;
  /** What this deploy changed here, to put back if it fails. */
  undo: UndoLog;
  /** The steps running on the server now, by name. */
  running: Set<string>;
  /** Step name -> seconds. */
  timings: Record<string, number>;
  /** Asset files sent over the wire. */
  uploaded: { files: number; bytes: number };
  /** Files this server took from another server of the fleet (the fan-out), not sent from here. */
  fetched?: { files: number; bytes: number; from: string };
  /** Asset files reused from the live release (hard links: no bytes sent). */
  skipped: { files: number; bytes: number };
  error?: Error;
}

/**
 * A deploy lock held: its token (a takeover or an unlock acts on this lock only), and its
 * heartbeat's stop, which the lifecycle calls at the end or when it gives up on the server
 * (waiting for a beat in flight), so that it needs to know nothing of the lock step.
 */
export interface LockLease {
  token: string;
  stopHeartbeat(): Promise<void>;
}

/** Hook names come in pairs around a step or a phase: `before-clone`, `after-clone`. */
export type HookStem = StemOf<HookName>;
type StemOf<H> = H extends `before-${infer Stem}` ? Stem : never;

/** A step of the release series: one short file in release/, run once per server. */
export interface Step {
  name: string;
  /** Shown by `gulp --tasks`. */
  description: string;
  /** Its hooks (`before-<stem>`, `after-<stem>`), fired around it by the runner, so a skipped step skips them too. */
  hooks?: HookStem;
  /** Whether it has anything to do on a server (beyond `skip` in the config), e.g. migrate only where asked. */
  appliesTo?(server: ServerConfig): boolean;
  /** Once this step has succeeded everywhere, the deploy is committed: a later failure no longer undoes it. */
  commits?: boolean;
  /** This step ends the deploy: after it, the connections close and the report is printed. */
  ends?: boolean;
  /**
   * Local work the step may start early, while the connections open (listing the files to upload):
   * called once per deploy as it connects (once the plan's `buildsLocally` steps are done), for every
   * step of the plan. It needs no server, must not throw (a failure is for run() to report), and
   * run() must work without it (a custom series may never call it).
   */
  prepare?(deploy: Deploy): void;
  /** It makes the local files that `prepare` reads (the build): prepare waits until it is done. */
  buildsLocally?: boolean;
  /** It puts the release's files in place (the clone): see Deploy.releaseTree. */
  makesReleaseTree?: boolean;
  /** Runs once for the whole deploy, before the per-server part (choosing the release id, building locally). */
  once?(deploy: Deploy): Promise<void>;
  /** Runs on each server (in parallel across servers). */
  run?(run: ServerRun, deploy: Deploy): Promise<void>;
  /** Runs once after every server's part succeeded. */
  after?(deploy: Deploy): Promise<void>;
}

/** The release this task makes live on the server: the one rollback or activate chose, else the deploy's new one. */
export function liveReleaseOf(run: ServerRun, deploy: Deploy): string {
  return run.activated ?? releaseIdOf(deploy);
}

/** The release id, or a clear error when a step runs before the release step chose it. */
export function releaseIdOf(deploy: Deploy): string {
  if (!deploy.releaseId) throw new Error('no release id yet: the release step must run before this step');
  return deploy.releaseId;
}
