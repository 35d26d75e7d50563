import PluginError from 'plugin-error';
import { createLogger, type Logger, type Verbosity } from '../log';
import type { Target } from '../remote/target';
import type { ServerSpec } from '../ssh/resolve';

/** Options every plugin takes. */
export interface CommonOptions {
  /** The server: an ~/.ssh/config alias, `user@host:port`, `local`, or a ServerOptions object. */
  server?: ServerSpec;
  /** An open connection to use instead (the preset passes its own; the plugin never closes it). */
  session?: Target;
  /** Print what would be done; change nothing on the server. */
  dryRun?: boolean;
  /** 'quiet' | 'normal' | 'verbose' (default from --quiet/--verbose). */
  verbosity?: Verbosity;
  /** A logger to write to (default: gulp's fancy-log). */
  logger?: Logger;
}

export function loggerFor(options: CommonOptions): Logger {
  return options.logger ?? createLogger({ verbosity: options.verbosity });
}

export function serverOf(options: CommonOptions, plugin: string): ServerSpec | Target {
  const server = options.session ?? options.server;
  // Bad options are a programming error in the gulpfile: thrown at once, before any stream exists.
  if (!server)
    throw new PluginError(
      'gulp-attache',
      `${plugin}: the "server" option is required (an ~/.ssh/config alias, user@host:port, "local", or a session)`,
    );
  return server;
}
