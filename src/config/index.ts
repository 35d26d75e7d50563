/** The configuration: `.attache.json` loaded, merged, validated; servers chosen from the command line. */
export { loadConfig, ConfigError, type LoadOptions } from './load';
export { deepMerge, type RawServer, type Problem } from './merge';
export { validateBranch } from './validate';
export { RELEASE_ID, isReleaseId, validateReleaseId } from './release-id';
export { selectServers } from './select';
export * from './types';
