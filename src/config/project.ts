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
}

/** Attaché's defaults, for a Mix app and for a project that names no build. */
export const ATTACHE_BUILD = ['yarn prod'];
export const MIX_ASSETS = ['public/js', 'public/css', 'public/mix-manifest.json'];
/** Vite's output for laravel-vite-plugin (its manifest says what belongs to a build), and Inertia's SSR bundle. */
export const VITE_ASSETS = ['public/build'];
export const SSR_BUNDLE = 'bootstrap/ssr';

export const ATTACHE_PROJECT: Project = { bundler: 'mix', build: ATTACHE_BUILD, assets: MIX_ASSETS, found: "Attaché's defaults" };

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
  const pkg = readPackageJson(dir);
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

function readPackageJson(dir: string): PackageJson | undefined {
  try {
    const value = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as unknown;
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as PackageJson) : undefined;
  } catch {
    return undefined;
  }
}
