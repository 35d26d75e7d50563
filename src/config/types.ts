import type { Project } from './project';
import type { ServerOptions } from '../ssh/resolve';

/**
 * The configuration after loading, merging `common` and applying defaults: what the preset reads.
 * A server's keys, their checks and defaults are in schema.ts; ServerConfig is what its rows return.
 * `.attache.json` is Attaché 0.7's format; keys marked "ours" are gulp-attache additions.
 */
export interface AttacheConfig {
  /** The file it was read from (absolute), for error messages. */
  file: string;
  /** Servers by name, in file order. */
  servers: Record<string, ServerConfig>;
  default?: string;
  /** Ours: named groups of servers, e.g. { "web": ["web1", "web2"] }. */
  groups: Record<string, string[]>;
  /** Things in the file that load but deserve a word (a key defined twice, a key Attaché ignores too). */
  warnings: ConfigWarning[];
  /** What the project directory says about its build: the defaults of `build` and `assets` came from it. */
  project?: Project;
}

/** Where (a key path) and what: said once when the file is loaded, not an error. */
export interface ConfigWarning {
  key: string;
  message: string;
}

/** Attaché 0.7.10's hook points, in the order a deploy reaches them. */
const HOOK_STEPS = ['build', 'deploy', 'clone', 'prepcomposer', 'install', 'symlinks', 'composer', 'migrate', 'assets', 'live'] as const;

/**
 * A fleet's swap, batch by batch: each entry of `batches` the size of the next batch (servers, or
 * "25%" of the fleet), the last one repeating; `maxFailures` servers (or a percentage) may fail
 * before the rollout stops; `pause` seconds between batches.
 */
export interface RolloutConfig {
  batches: Array<number | string>;
  maxFailures: number | string;
  pause: number;
}

/** A rollout's hooks around each server's swap: taken out of the load balancer, put back; on the server, or here (`local-`). */
export const ROLLOUT_HOOKS = ['drain', 'undrain', 'local-drain', 'local-undrain'] as const;

export type HookName = `${'before' | 'after'}-${(typeof HOOK_STEPS)[number]}` | (typeof ROLLOUT_HOOKS)[number];

export const HOOK_NAMES: readonly HookName[] = [
  ...HOOK_STEPS.flatMap((step) => [`before-${step}`, `after-${step}`] as HookName[]),
  ...ROLLOUT_HOOKS,
];

/** Steps a config may switch off with `skip` (the rest are what make a deploy safe). */
export const SKIPPABLE_STEPS = ['build', 'preflight', 'composer', 'artisan', 'assets', 'health', 'prune'] as const;
export type SkippableStep = (typeof SKIPPABLE_STEPS)[number];

export interface ComposerConfig {
  /** The Composer command (on the PATH, or a path); with `local`, the file name of root's own copy. */
  bin: string;
  dev: boolean;
  /** Attaché's `local`: keep `root/<bin>`, downloaded with the official installer when missing, self-updated otherwise. */
  local: boolean;
  /** Ours: start vendor/ from the live release's (hard links) when the lock, PHP and the flags are the same. */
  reuseVendor: boolean;
  /** Ours: where the installer is downloaded from (default Composer's official URL). */
  installer: string;
}

export const COMPOSER_INSTALLER = 'https://getcomposer.org/installer';

export interface AssetMapping {
  /** Local path (file or directory), relative to the project directory. */
  local: string;
  /** Path inside the release (relative, never escaping it). */
  remote: string;
}

/** Where the health check is fetched: the machine that deploys, or the server itself (over SSH). */
export const HEALTHCHECK_FROM = ['local', 'server'] as const;

export interface HealthCheck {
  url: string;
  /** Ours: "local" (the default) fetches from the deploying machine, "server" on the server, for a URL only its network reaches. */
  from: (typeof HEALTHCHECK_FROM)[number];
  /** Expected HTTP status (default 200). */
  status: number;
  /** Text the body must contain. */
  contains?: string;
  /** Seconds per attempt (default 5). */
  timeout: number;
  /** Attempts before giving up (default 3). */
  retries: number;
  /** Ours: a response header that must be present, `Name: value`; `value` may use @release. */
  header?: { name: string; value: string };
}

/** Ours: paths shared between releases beyond storage and .env, relative to the release. */
export interface SharedPaths {
  dirs: string[];
  files: string[];
}

export interface ServerConfig {
  /** Key in `servers`. */
  name: string;
  /** Host name, ~/.ssh/config alias, or `local`. */
  host: string;
  port?: number;
  user?: string;
  /** Absolute path on the server. */
  root: string;
  repository: string;
  branch: string;
  /**
   * Each relative to root unless absolute. Defaults: releases, live, storage, .env. Other names are
   * the user's own, for `@path:<name>` in hooks (as in Attaché).
   */
  paths: { releases: string; serve: string; storage: string; env: string } & Record<string, string>;
  php: { bin: string };
  composer: ComposerConfig;
  assets: AssetMapping[];
  migrate: boolean;
  /** Local build commands; by default found from the project (config/project.ts); [] skips the build. */
  build: string[];
  /** Hook commands by hook name (empty when not configured). */
  scripts: Partial<Record<HookName, string[]>>;
  /** How a fleet swaps: batch by batch, with a failure budget (undefined: all servers together, no failure allowed). */
  rollout?: RolloutConfig;
  /** Ours: releases to keep when pruning (default 5). */
  keep: number;
  /**
   * Ours: how many releases back the content-hashed build files (under build/assets/) stay served
   * when a new build no longer has them: pages open in a browser keep their CSS and lazy chunks (default 1; 0: none).
   */
  oldAssets: number;
  /** Ours: SSH options beyond host/port/user (host keys, keys, jump host). */
  ssh: Omit<ServerOptions, 'host' | 'port' | 'user' | 'name'>;
  /** Ours: checked after the swap; a failure swaps back. */
  healthcheck?: HealthCheck;
  /** Ours: values that must never appear in logs (besides .env contents and passphrases). */
  secrets: string[];
  /** Ours: steps switched off for this server, said aloud in the log (e.g. composer on a machine without it). */
  skip: SkippableStep[];
  /** Ours: how the release tree is made: "clone" on the server (Attaché's), or "artifact", built here and sent. */
  strategy: ReleaseStrategy;
  // --- Ours, for Laravel: what makes the new release the one that serves. Read and checked in schema.ts.
  /** Extra shared directories and files, linked into every release (default none). */
  shared: SharedPaths;
  /** The web server's user: the writable paths become writable for it, .env readable by it. */
  webUser?: string;
  /** Paths inside the release the web server writes, besides storage and bootstrap/cache. */
  writable: string[];
  /** `artisan optimize` (and the caches it does not cover) in the new release before the swap. */
  optimize: boolean;
  /** artisan commands run in the new release once it is live and healthy (by default from composer.lock: reload, queue:restart, …). */
  restart: string[];
  /** Reset the php-fpm pool's OPcache right after the swap, over FastCGI to this socket path or host:port. */
  opcache?: { fpm: string };
  /**
   * Where the other servers of the fleet reach this server's sshd (host, and port, 22 by default):
   * servers that have one take a release's bytes from one of them instead of from the deploying machine.
   */
  peerAddress?: PeerAddress;
}

/** A server's sshd as the other servers of its fleet reach it. */
export interface PeerAddress {
  host: string;
  port: number;
}

export type ReleaseStrategy = 'clone' | 'artifact';
