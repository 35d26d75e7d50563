import type { AttacheConfig, HookName, ServerConfig } from '../../config/types';
import type { Flags } from '../../cli/flags';
import type { Logger } from '../../log';
import type { Target } from '../../remote/target';
import type { Layout } from '../model/layout';
import type { ReleaseInfo } from '../model/release-list';
import type { UndoLog } from './undo-log';

/** What one deploy knows, shared by every step: the release id, the servers, the options. */
export interface Deploy {
  config: AttacheConfig;
  /** The servers this deploy is for, in order (from --server, groups, default). */
  selected: ServerConfig[];
  /** The release id, the same on every server; chosen by the release step. */
  releaseId?: string;
  servers: ServerRun[];
  /** The project directory (where assets are built and found). */
  cwd: string;
  /** A local .env file to install as root/.env on a first deploy (--env=). */
  envFile?: string;
  dryRun: boolean;
  /** The branch to deploy (--branch overrides each server's). */
  branch?: string;
  /** Servers worked on at once (--parallel, default 10). */
  parallel: number;
  log: Logger;
  /** Aborted on failure or Ctrl-C: uploads stop taking new files. */
  cancel: AbortController;
  /** The command line's flags (--force, --artifact, …), read and checked by the plan. */
  flags: Flags;
  /** Ends the deploy now, successfully: the steps still to come do nothing (a deploy with nothing to do). */
  finish(): Promise<void>;
  /** The step that makes the release's files, once it has started; undefined before. */
  releaseTree?: ReleaseTree;
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

/** One server's part of a deploy. */
export interface ServerRun {
  server: ServerConfig;
  layout: Layout;
  target: Target;
  log: Logger;
  commit?: string;
  /** The artifact id of the release being made (the artifact strategy), for its marker. */
  artifact?: string;
  /** Where live pointed when the deploy connected (null: no live link yet). */
  liveBefore: string | null;
  /** The releases when the lock was taken, and live then: the release step and prune need no listing of their own. */
  releasesSeen?: ReleaseInfo[];
  /** Set by the swap: live was changed by this deploy (so a failure afterwards swaps it back). */
  liveChanged?: boolean;
  /** What this deploy changed here, to put back if it fails. */
  undo: UndoLog;
  /** Step name -> seconds. */
  timings: Record<string, number>;
  /** Asset files sent over the wire. */
  uploaded: { files: number; bytes: number };
  /** Asset files reused from the live release (hard links: no bytes sent). */
  skipped: { files: number; bytes: number };
  error?: Error;
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

/** The release id, or a clear error when a step runs before the release step chose it. */
export function releaseIdOf(deploy: Deploy): string {
  if (!deploy.releaseId) throw new Error('no release id yet: the release step must run before this step');
  return deploy.releaseId;
}
