/**
 * Which CI runner this process runs under, from the variables each one sets: GitHub Actions
 * (`GITHUB_ACTIONS=true`), GitLab CI (`GITLAB_CI=true`), another CI (`CI` set, as most do), or none.
 */
export type CiRunner = 'github' | 'gitlab' | 'other';

export function ciRunner(env: NodeJS.ProcessEnv = process.env): CiRunner | undefined {
  if (env.GITHUB_ACTIONS === 'true') return 'github';
  if (env.GITLAB_CI === 'true') return 'gitlab';
  return inCi(env) ? 'other' : undefined;
}

/** `CI` set to anything but an empty string, `false` or `0`. */
export function inCi(env: NodeJS.ProcessEnv = process.env): boolean {
  const value = env.CI?.trim().toLowerCase();
  return value !== undefined && value !== '' && value !== 'false' && value !== '0';
}
