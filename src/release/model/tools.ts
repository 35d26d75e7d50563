import path from 'node:path/posix';
import type { ServerConfig } from '../../config/types';
import { raw, sh, type ShellFragment } from '../../remote/quote';

/**
 * The server's tools as command lines: php, composer, artisan. Steps and the hook tags both build
 * their commands from these, so `@php @composer` in a hook is exactly what the composer step runs.
 */

export function phpCommand(server: ServerConfig): ShellFragment {
  return raw(sh`${server.php.bin}`);
}

/** Root's own copy of Composer (`composer.local`), whether or not it is there yet. */
export function localComposerPath(server: ServerConfig): string {
  return path.join(server.root, server.composer.bin);
}

/**
 * `@composer`, as Attaché's composerBin(): the bin itself (a command on the PATH, or a path), or
 * with `composer.local` root's own copy. It never includes php: Attaché's docs write `@php @composer`.
 */
export function composerBin(server: ServerConfig): ShellFragment {
  return raw(sh`${server.composer.local ? localComposerPath(server) : server.composer.bin}`);
}

/** What the composer step runs: the bin, or `<php> root/<bin>` for root's own copy (as Attaché). */
export function composerCommand(server: ServerConfig): ShellFragment {
  return server.composer.local ? raw(sh`${phpCommand(server)} ${localComposerPath(server)}`) : composerBin(server);
}

/** `<php> <release>/artisan`: artisan of one release, whatever the working directory. */
export function artisanCommand(server: ServerConfig, artisanPath: string): ShellFragment {
  return raw(sh`${server.php.bin} ${artisanPath}`);
}

/** `composer install`'s arguments, the same on the server (clone) and here (artifact): no dev packages unless composer.dev. */
export function composerInstallArgs(server: ServerConfig): string[] {
  return [
    'install',
    '--no-interaction',
    '--prefer-dist',
    '--no-progress',
    '--optimize-autoloader',
    ...(server.composer.dev ? [] : ['--no-dev']),
  ];
}
