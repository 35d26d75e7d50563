import type { AttacheConfig, ServerConfig } from '../config/types';
import type { Logger } from '../log';
import type { Target } from '../remote/target';
import type { Layout } from './layout';

/** What one deploy knows, shared by every step: the release id, the servers, the options. */
export interface Deploy {
  config: AttacheConfig;
  /** The servers this deploy is for, in order (from --server, groups, default). */
  selected: ServerConfig[];
  /** The release id, the same on every server; set by the clone step. */
  releaseId?: string;
  servers: ServerRun[];
  /** The project directory (where assets are built and found). */
  cwd: string;
  /** A local .env file to install as root/.env on a first deploy (--env=). */
  envFile?: string;
  dryRun: boolean;
  /** The branch to deploy (--branch overrides each server's). */
  branch?: string;
  /** Servers prepared at once (--parallel, default 10). */
  parallel: number;
  log: Logger;
  startedAt: number;
  /** Steps running now: a failure waits for them before undoing, so an undo never races a step. */
  inFlight: Set<Promise<unknown>>;
  /** Aborted on failure or Ctrl-C: uploads stop taking new files. */
  cancel: AbortController;
  state: 'running' | 'deployed' | 'failed';
  /** Past the health check: the new release stays live whatever fails afterwards (prune, unlock). */
  committed?: boolean;
  /** The end of the deploy, once started: every step that fails waits for it (the undo) before reporting. */
  finishing?: Promise<void>;
  /** The first real failure: what the user is told, even when other steps then fail as "cancelled". */
  failure?: unknown;
  /** Stopped by Ctrl-C or SIGTERM: after the undo the remaining steps end quietly and the exit code says why. */
  interrupted?: boolean;
}

/** One server's part of a deploy. */
export interface ServerRun {
  server: ServerConfig;
  layout: Layout;
  target: Target;
  log: Logger;
  commit?: string;
  /** Where live pointed before the swap (null when there was no live link). */
  previousLive?: string | null;
  /** Undo actions registered by steps that changed something; run in reverse when the deploy fails. */
  undo: Array<{ step: string; action: () => Promise<void> }>;
  /** Step name -> seconds. */
  timings: Record<string, number>;
  uploaded: { files: number; bytes: number };
  skipped: { files: number; bytes: number };
  result?: 'deployed' | 'failed' | 'rolled back' | 'untouched';
  error?: Error;
}

/** A step of the release series: one short file in release/, run once per server. */
export interface Step {
  name: string;
  /** Shown by `gulp --tasks`. */
  description: string;
  /** Runs once for the whole deploy, before the per-server part (choosing the release id, building locally). */
  once?(deploy: Deploy): Promise<void>;
  /** Runs on each server (in parallel across servers). */
  run?(run: ServerRun, deploy: Deploy): Promise<void>;
  /** Runs once after every server's part succeeded (local `after-` hooks). */
  after?(deploy: Deploy): Promise<void>;
}

/** The release id, or a clear error when a step runs before the clone step chose it. */
export function releaseIdOf(deploy: Deploy): string {
  if (!deploy.releaseId) throw new Error('no release id yet: the clone step must run before this step');
  return deploy.releaseId;
}
