// ESM entry: the package is compiled to CommonJS once; this file gives `import { … } from 'gulp-attache'`
// named exports without a second build.
import cjs from '../dist/index.js';

export const {
  upload,
  exec,
  swap,
  attache,
  openTarget,
  quote,
  sh,
  createLogger,
  registerSecret,
  loadConfig,
  selectServers,
  AttacheError,
  RemoteCommandError,
} = cjs;
export default cjs;
