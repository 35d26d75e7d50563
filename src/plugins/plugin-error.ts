import PluginError from 'plugin-error';
import { AttacheError } from '../errors';
import { colorEnabled, stripAnsi } from '../log';

export const PLUGIN_NAME = 'gulp-attache';

/** The plugin edge: our errors become PluginErrors named gulp-attache, keeping their context. */
export function toPluginError(error: unknown): PluginError {
  if (error instanceof PluginError) return plainWhenNoColor(error);
  const message = error instanceof Error ? error.message : String(error);
  // The context stays on the error for programs, but gulp's "Details" printout would show [object Object].
  const pluginError = new PluginError(PLUGIN_NAME, message, { showStack: false, showProperties: false });
  if (error instanceof AttacheError) Object.assign(pluginError, { context: error.context, cause: error });
  return plainWhenNoColor(pluginError);
}

/** plugin-error colours "Error in plugin …" always (ansi-colors 1): not in a pipe, a file or under NO_COLOR. */
function plainWhenNoColor(error: PluginError): PluginError {
  const coloured = PluginError.prototype.toString;
  // Not enumerable: plugin-error lists an error's own enumerable properties under "Details".
  Object.defineProperty(error, 'toString', {
    value: () => (colorEnabled() ? coloured.call(error) : stripAnsi(coloured.call(error))),
    enumerable: false,
    configurable: true,
    writable: true,
  });
  return error;
}

/** through2's flush callback takes an error at run time; @types/through2 (2.x) leaves it out. */
export type FlushDone = (error?: Error | null) => void;
