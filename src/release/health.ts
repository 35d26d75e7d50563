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
      const location = response.headers.get('location');
      if (response.status !== check.status) {
        problem = `${check.url} answered ${response.status}${location ? ` (redirect to ${location})` : ''}, expected ${check.status}; the body begins: ${bodyStart(body)}`;
      } else if (check.contains && !body.includes(check.contains)) problem = `${check.url} answered without "${check.contains}"; the body begins: ${bodyStart(body)}`;
      else return undefined;
    } catch (error) {
      problem = `${check.url}: ${fetchFailure(error, check.timeout)}`;
    }
    if (attempt < check.retries) await new Promise((r) => setTimeout(r, 1000));
  }
  return problem;
}

/** The first bytes of a body, on one line: enough to recognise an error page or a framework's message. */
function bodyStart(body: string): string {
  const text = body.replace(/\s+/g, ' ').trim();
  if (text === '') return '(empty)';
  return JSON.stringify(text.length > 200 ? text.slice(0, 200) + '…' : text);
}

/** fetch says only "fetch failed": the cause underneath says why (refused, timed out, no such host, …). */
function fetchFailure(error: unknown, timeoutSeconds: number): string {
  const name = (error as Error)?.name;
  if (name === 'TimeoutError' || name === 'AbortError') return `no answer within ${timeoutSeconds} s (timeout)`;
  const cause = (error as { cause?: { code?: string; message?: string } })?.cause;
  const code = cause?.code;
  const reason: Record<string, string> = {
    ECONNREFUSED: 'connection refused (nothing listens on that port)',
    ENOTFOUND: 'the host name could not be resolved (DNS)',
    EAI_AGAIN: 'the host name could not be resolved (DNS did not answer)',
    ECONNRESET: 'the connection was reset by the server',
    ETIMEDOUT: 'the connection timed out',
    UND_ERR_CONNECT_TIMEOUT: 'the connection timed out',
    EHOSTUNREACH: 'the host is unreachable',
    ENETUNREACH: 'the network is unreachable',
    UND_ERR_SOCKET: 'the server closed the connection without answering',
  };
  if (code && reason[code]) return `${reason[code]}: ${cause?.message ?? code}`;
  if (cause?.message) return `${(error as Error).message}: ${cause.message}`; // e.g. a TLS certificate problem, "bad port"
  return (error as Error)?.message ?? String(error);
}
