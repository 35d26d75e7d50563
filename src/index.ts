/** The public surface of gulp-attache. */
export { AttacheError, RemoteCommandError, type ErrorContext } from './errors';
export { createLogger, registerSecret, type Logger, type Verbosity } from './log';
export { quote, sh } from './remote/quote';
export { openTarget } from './remote/open';
export type { Target, ExecOptions, ExecResult, FileStat } from './remote/target';
export type { ServerSpec, ServerOptions } from './ssh/resolve';
