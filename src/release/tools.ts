import type { ServerConfig } from '../config/types';
import { raw, sh, type ShellFragment } from '../remote/quote';

/**
 * The server's tools as command lines: php, composer, artisan. Steps and the hook tags both build
 * their commands from these, so `@composer` in a hook is exactly what the composer step runs.
 */

export function phpCommand(server: ServerConfig): ShellFragment {
  return raw(sh`${server.php.bin}`);
}

/** A .phar runs through the configured PHP; anything else is a command on the PATH (or a path). */
export function composerCommand(server: ServerConfig): ShellFragment {
  const { bin } = server.composer;
  return raw(bin.endsWith('.phar') ? sh`${server.php.bin} ${bin}` : sh`${bin}`);
}

/** `<php> <release>/artisan`: artisan of one release, whatever the working directory. */
export function artisanCommand(server: ServerConfig, artisanPath: string): ShellFragment {
  return raw(sh`${server.php.bin} ${artisanPath}`);
}
