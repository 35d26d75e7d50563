/** The public surface of gulp-attache. */
export { AttacheError, RemoteCommandError, type ErrorContext } from './errors';
export { createLogger, registerSecret, type Logger, type Verbosity } from './log';
export { quote, sh } from './remote/quote';
export { openTarget } from './open-target';
export type { Target, ExecOptions, ExecResult, FileStat } from './remote/target';
export type { ServerSpec, ServerOptions } from './ssh/resolve';
export { upload, type UploadOptions, type UploadedFile } from './plugins/upload';
export { exec, type ExecOptions as ExecPluginOptions } from './plugins/exec';
export { swap, type SwapOptions } from './plugins/swap';
export type { SwapResult } from './remote/swap-link';
export { attache, type AttacheOptions, type AttacheTasks, type TaskFunction, type GulpLike } from './preset';
export { loadConfig, selectServers } from './config';
export type { AttacheConfig, ServerConfig } from './config/types';
