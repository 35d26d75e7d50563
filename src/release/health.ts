import { AttacheError } from '../errors';
import type { HealthCheck } from '../config/types';
import { releaseIdOf, type Step } from './context';
import { writeMarker } from './releases';

/**
 * The optional health check, after the swap. A failure marks the release failed (kept for a
 * look, never chosen again) and fails the deploy, whose undo swaps live back.
 */
export const health: Step = {
  name: 'health',
  description: 'check the healthcheck URL; on failure swap back and mark the release failed',
  commits: true,
  async run(run, deploy) {
    const check = run.server.healthcheck;
    if (!check || deploy.dryRun) return;
    const problem = await probe(check);
    if (!problem) {
      run.log.info(`[${run.server.name}] health check passed: ${check.url}`);
      return;
    }
    const id = releaseIdOf(deploy);
    await writeMarker(run.target, run.layout, { id, status: 'failed', commit: run.commit, reason: problem, deployedAt: new Date().toISOString() });
    run.undo.drop('release'); // keep the failed release for inspection
    throw new AttacheError(`health check failed: ${problem}`, {
      server: run.server.name,
      step: 'health',
      hint: `live was swapped back; release ${id} is marked failed and will not be chosen by rollback, activate or prune's keep count.`,
    });
  },
};

async function probe(check: HealthCheck): Promise<string | undefined> {
  let problem = 'no attempt made';
  for (let attempt = 1; attempt <= check.retries; attempt++) {
    try {
      const response = await fetch(check.url, { signal: AbortSignal.timeout(check.timeout * 1000), redirect: 'manual' });
      const body = await response.text();
      if (response.status !== check.status) problem = `${check.url} answered ${response.status}, expected ${check.status}`;
      else if (check.contains && !body.includes(check.contains)) problem = `${check.url} answered without "${check.contains}"`;
      else return undefined;
    } catch (error) {
      problem = `${check.url}: ${(error as Error).message}`;
    }
    if (attempt < check.retries) await new Promise((r) => setTimeout(r, 1000));
  }
  return problem;
}
