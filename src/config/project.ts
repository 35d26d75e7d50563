import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * What the project directory says about its front-end build, for the defaults of `scripts.build`
 * and `assets` (an explicit setting always wins): a Vite app (`laravel new` since Laravel 9.19)
 * builds with its package manager's `build` script into `public/build`; a Mix app, and a directory
 * that says nothing, keep Attaché's defaults (`yarn prod`; public/js, public/css, mix-manifest.json).
 */
export interface Project {
  bundler: 'vite' | 'mix';
  /** The default build command. */
  build: string[];
  /** The default asset paths (the same locally and in the release). */
  assets: string[];
  /** How it was found, for the log: "Vite (vite.config.js), npm (package-lock.json)". */
  found: string;
  /** The default `restart` commands: what the installed Laravel packages (composer.lock) need after a swap. */
  restart: string[];
  /** Laravel's health route, when bootstrap/app.php declares one (`health: '/up'`, Laravel 11+). */
  healthRoute?: string;
  /** The installed Laravel has `migrate --isolated` (9.38+): a fleet's migration takes the app's lock. */
  isolatedMigrations?: boolean;
}

/** Attaché's defaults, for a Mix app and for a project that names no build. */
export const ATTACHE_BUILD = ['yarn prod'];
export const MIX_ASSETS = ['public/js', 'public/css', 'public/mix-manifest.json'];
/** Vite's output for laravel-vite-plugin (its manifest says what belongs to a build), and Inertia's SSR bundle. */
export const VITE_ASSETS = ['public/build'];
export const SSR_BUNDLE = 'bootstrap/ssr';

export const ATTACHE_PROJECT: Project = {
  bundler: 'mix',
  build: ATTACHE_BUILD,
  assets: MIX_ASSETS,
  found: "Attaché's defaults",
  restart: [],
};

/** Lockfiles, first match wins: the package manager that made it runs the build. */
const LOCKFILES: ReadonlyArray<readonly [string, PackageManager]> = [
  ['bun.lock', 'bun'],
  ['bun.lockb', 'bun'],
  ['pnpm-lock.yaml', 'pnpm'],
  ['yarn.lock', 'yarn'],
  ['package-lock.json', 'npm'],
];
type PackageManager = 'bun' | 'pnpm' | 'yarn' | 'npm';

const VITE_CONFIGS = ['vite.config.js', 'vite.config.ts', 'vite.config.mjs', 'vite.config.mts', 'vite.config.cjs'];

interface PackageJson {
  scripts?: Record<string, unknown>;
}

export function detectProject(dir: string): Project {
  const framework = packageVersions(dir).get('laravel/framework');
  const laravel = {
    restart: laravelRestart(dir),
    ...healthRoute(dir),
    ...(framework !== undefined && atLeast(framework, [9, 38]) && { isolatedMigrations: true }),
  };
  const frontEnd = detectFrontEnd(dir);
  return frontEnd === ATTACHE_PROJECT && framework === undefined && !laravel.healthRoute ? ATTACHE_PROJECT : { ...frontEnd, ...laravel };
}

function detectFrontEnd(dir: string): Omit<Project, 'restart' | 'healthRoute'> {
  const pkg = readJson<PackageJson>(path.join(dir, 'package.json'));
  if (!pkg) return ATTACHE_PROJECT;
  const scripts = pkg.scripts ?? {};
  const lock = LOCKFILES.find(([file]) => existsSync(path.join(dir, file)));
  // No lockfile: yarn, Attaché's choice.
  const manager: PackageManager = lock?.[1] ?? 'yarn';
  const run = (script: string) => [manager === 'yarn' ? `yarn ${script}` : `${manager} run ${script}`];
  const managerFound = lock ? `${manager} (${lock[0]})` : 'yarn (no lockfile)';
  // A Vite app has its config file (laravel new ships vite.config.js); a dependency alone may be a tool's.
  const viteConfig = VITE_CONFIGS.find((file) => existsSync(path.join(dir, file)));
  if (viteConfig && typeof scripts.build === 'string') {
    const ssr = scripts.build.includes('--ssr') || existsSync(path.join(dir, SSR_BUNDLE));
    return {
      bundler: 'vite',
      build: run('build'),
      assets: ssr ? [...VITE_ASSETS, SSR_BUNDLE] : VITE_ASSETS,
      found: `Vite (${viteConfig}), ${managerFound}`,
    };
  }
  if (typeof scripts.prod === 'string') return { bundler: 'mix', build: run('prod'), assets: MIX_ASSETS, found: `Mix, ${managerFound}` };
  return ATTACHE_PROJECT;
}

/**
 * What a swap asks of a Laravel app's long-running processes, from the packages composer.lock
 * installs. Laravel 12.41+ has `artisan reload`, which each of them (queue, Horizon, Reverb, Pulse,
 * Octane) registers with; before it, their own commands: queue workers and the scheduler finish
 * their job and stop (their supervisor starts them again in the new release), Horizon's master
 * likewise, Pulse and Reverb restart, Octane stops (octane:reload would keep the old release's
 * path), Inertia's SSR server stops where the app builds one.
 */
function laravelRestart(dir: string): string[] {
  const versions = packageVersions(dir);
  const framework = versions.get('laravel/framework');
  if (framework === undefined) return [];
  if (atLeast(framework, [12, 41])) return ['reload'];
  return [
    'queue:restart',
    ...(atLeast(framework, [10, 0]) ? ['schedule:interrupt'] : []),
    ...(versions.has('laravel/horizon') ? ['horizon:terminate'] : []),
    ...(versions.has('laravel/pulse') ? ['pulse:restart'] : []),
    ...(versions.has('laravel/reverb') ? ['reverb:restart'] : []),
    ...(versions.has('laravel/octane') ? ['octane:stop'] : []),
    ...(versions.has('inertiajs/inertia-laravel') && existsSync(path.join(dir, SSR_BUNDLE)) ? ['inertia:stop-ssr'] : []),
  ];
}

/** composer.lock's packages: name -> version. */
function packageVersions(dir: string): Map<string, string> {
  const lock = readJson<{ packages?: Array<{ name?: string; version?: string }> }>(path.join(dir, 'composer.lock'));
  return new Map((lock?.packages ?? []).map((p) => [p.name ?? '', p.version ?? '']));
}

/** `v12.41.0` (or `12.41.x-dev`) at least [major, minor]; a branch name (dev-main) counts as new. */
function atLeast(version: string, [major, minor]: [number, number]): boolean {
  const match = /^v?(\d+)\.(\d+)/.exec(version);
  if (!match) return /^dev-/.test(version);
  const [have, haveMinor] = [Number(match[1]), Number(match[2])];
  return have > major || (have === major && haveMinor >= minor);
}

/** Laravel 11+ declares its health route in bootstrap/app.php: `->withRouting(…, health: '/up')`. */
function healthRoute(dir: string): { healthRoute?: string } {
  try {
    const match = /\bhealth\s*:\s*['"](\/[^'"]*)['"]/.exec(readFileSync(path.join(dir, 'bootstrap', 'app.php'), 'utf8'));
    return match ? { healthRoute: match[1] } : {};
  } catch {
    return {};
  }
}

/** The PHP a project's vendor/ is resolved for: config.platform.php in composer.json wins (composer resolved for it); else composer.lock's `platform` requirement. */
export function platformPhp(dir: string): { version: string; from: 'config.platform.php' | 'composer.lock' } | undefined {
  const json = readJson<{ config?: { platform?: { php?: unknown } } }>(path.join(dir, 'composer.json'));
  const configured = json?.config?.platform?.php;
  if (typeof configured === 'string') return { version: configured, from: 'config.platform.php' };
  const lock = readJson<{ platform?: Record<string, unknown> }>(path.join(dir, 'composer.lock'));
  const required = lock?.platform && !Array.isArray(lock.platform) ? lock.platform.php : undefined;
  return typeof required === 'string' ? { version: required, from: 'composer.lock' } : undefined;
}

function readJson<T>(file: string): T | undefined {
  try {
    const value = JSON.parse(readFileSync(file, 'utf8')) as unknown;
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as T) : undefined;
  } catch {
    return undefined;
  }
}
