import { AttacheError } from '../../errors';
import type { HealthCheck } from '../../config/types';
import { BODY_LIMIT, HttpGetFailure, httpGet, type HttpResponse } from '../../remote/http-get';
import { liveReleaseOf, type ServerRun, type Step } from '../lifecycle/context';
import { writeMarker } from '../model/release-list';
import { phpCommand } from '../model/tools';

/** The README section that explains a stale release (linked from the message). */
const STALE_HELP = 'README "Laravel in production: the new code is what serves" and "Web servers: make the swap take effect at once"';

/**
 * The optional health check, after the swap. A failure marks the release failed (kept for a
 * look, never chosen again) and fails the deploy, whose undo swaps live back. `contains` and
 * `header` may name `@release`: then only an answer naming the new release passes, and one naming
 * the previous release says that the web server still runs the old code, and why that happens.
 */
export const health: Step = {
  name: 'health',
  description: 'check the healthcheck URL; on failure swap back and mark the release failed',
  commits: true,
  async run(run, deploy) {
    const check = run.server.healthcheck ?? laravelHealthCheck(run, deploy.config.project?.healthRoute);
    if (deploy.dryRun) return;
    if (!check) return void run.log.info(`[${run.server.name}] no health check ran: ${noCheck(run, deploy.config.project?.healthRoute)}`);
    const id = liveReleaseOf(run, deploy);
    const previous = run.liveBefore === null ? undefined : run.layout.releaseIdOf(run.liveBefore);
    const { problem, stale, tool } = await probe(run, check, id, previous === id ? undefined : previous);
    if (!problem) {
      run.log.info(`[${run.server.name}] health check passed: ${check.url}${tool ? ` (fetched on the server with ${tool})` : ''}`);
      return;
    }
    await writeMarker(
      run.target,
      run.layout,
      { id, status: 'failed', commit: run.commit, reason: problem, deployedAt: new Date().toISOString() },
      'health',
    );
    run.undo.drop('release'); // keep the failed release for inspection
    const message = stale
      ? `health check failed: the web server is still running the previous code (${problem}). ` +
        'Likely causes: the web server hands PHP the symlinked path (nginx $document_root instead of $realpath_root), ' +
        `so OPcache and the realpath cache keep the old release; or OPcache with validate_timestamps=0 and no reset (set "opcache": { "fpm": … }). See ${STALE_HELP}.`
      : `health check failed: ${problem}`;
    throw new AttacheError(message, {
      server: run.server.name,
      step: 'health',
      hint: `live was swapped back; release ${id} is marked failed and will not be chosen by rollback, activate or prune's keep count.`,
    });
  },
};

/**
 * A Laravel 11+ app declares its health route (`health: '/up'` in bootstrap/app.php): it answers 500
 * when the app cannot boot (an unreadable .env, no APP_KEY). Without a `healthcheck`, it is asked at
 * the server's APP_URL (its root .env), with the defaults of a configured check.
 */
function laravelHealthCheck(run: ServerRun, route: string | undefined): HealthCheck | undefined {
  if (!route || !run.appUrl) return undefined;
  const url = `${run.appUrl.replace(/\/+$/, '')}${route}`;
  run.log.info(`[${run.server.name}] health check: ${url} (Laravel's health route ${route}, at APP_URL from ${run.layout.env})`);
  return { url, from: 'local', status: 200, timeout: 5, retries: 3 };
}

function noCheck(run: ServerRun, route: string | undefined): string {
  return route
    ? `the app declares Laravel's health route ${route}, but ${run.layout.env} has no APP_URL (set it, or "healthcheck" in the config)`
    : 'none is configured ("healthcheck"), and the app declares no Laravel health route';
}

/** `@release` in an expected value, replaced by a release id. */
const withRelease = (text: string, id: string) => text.replaceAll('@release', id);

/** A response, wherever it was fetched; `tool` names the server's tool that fetched it. */
type Fetched = HttpResponse & { tool?: string };

async function probe(
  run: ServerRun,
  check: HealthCheck,
  id: string,
  previous: string | undefined,
): Promise<{ problem?: string; stale: boolean; tool?: string }> {
  let problem = 'no attempt made';
  let stale = false;
  // The URL as messages name it: where it was fetched, when not from here.
  const where = check.from === 'server' ? `${check.url} (from the server)` : check.url;
  for (let attempt = 1; attempt <= check.retries; attempt++) {
    try {
      const response: Fetched = await httpGet(check.url, {
        timeout: check.timeout,
        php: phpCommand(run.server),
        ...(check.from === 'server' && { on: run.target }),
      });
      const verdict = judge(check, response, where, id, previous);
      if (!verdict.problem) return { stale: false, tool: response.tool };
      problem = verdict.problem;
      stale = verdict.stale;
    } catch (error) {
      // On the server, only the GET's own failure is the check's: a lost connection is the deploy's.
      if (check.from === 'server' && !(error instanceof HttpGetFailure)) throw error;
      problem = `${where}: ${fetchFailure(error, check.timeout)}`;
      stale = false;
    }
    if (attempt < check.retries) await new Promise((r) => setTimeout(r, 1000));
  }
  return { problem, stale };
}

/**
 * One response against the check: passed (no problem), or what is wrong with it; `stale` when it
 * names the previous release where the check expects the new one.
 */
function judge(
  check: HealthCheck,
  response: HttpResponse,
  where: string,
  id: string,
  previous: string | undefined,
): { problem?: string; stale: boolean } {
  const { status, headers, body } = response;
  const location = headers.get('location');
  const header = check.header && headers.get(check.header.name.toLowerCase());
  const releaseAware = [check.contains, check.header?.value].some((text) => text?.includes('@release'));
  const names = (release: string) =>
    (!check.contains || body.includes(withRelease(check.contains, release))) &&
    (!check.header || header === withRelease(check.header.value, release));
  if (status !== check.status)
    return {
      stale: false,
      problem: `${where} answered ${status}${location ? ` (redirect to ${location})` : ''}, expected ${check.status}; the body begins: ${bodyStart(body)}`,
    };
  if (names(id)) return { stale: false };
  if (releaseAware && previous !== undefined && names(previous))
    return { stale: true, problem: `${where} answered for release ${previous}, not ${id}` };
  if (check.contains && !body.includes(withRelease(check.contains, id)))
    return {
      stale: false,
      problem: `${where} answered without "${withRelease(check.contains, id)}"${response.truncated ? ` in its first ${BODY_LIMIT / 1024 / 1024} MiB` : ''}; the body begins: ${bodyStart(body)}`,
    };
  return {
    stale: false,
    problem: `${where} answered with ${check.header!.name}: ${header ?? '(none)'}, expected ${withRelease(check.header!.value, id)}`,
  };
}

/** The first bytes of a body, on one line: enough to recognise an error page or a framework's message. */
function bodyStart(body: string): string {
  const text = body.replace(/\s+/g, ' ').trim();
  if (text === '') return '(empty)';
  return JSON.stringify(text.length > 200 ? text.slice(0, 200) + '…' : text);
}

/** Why no response came. Node's fetch says only "fetch failed": the cause underneath says why (refused, timed out, no such host, …). */
function fetchFailure(error: unknown, timeoutSeconds: number): string {
  const name = (error as Error)?.name;
  if (name === 'TimeoutError' || name === 'AbortError') return `no answer within ${timeoutSeconds} s (timeout)`;
  // The server's tool: its own error line, after the same words as fetch's.
  const cause = error instanceof HttpGetFailure ? error : (error as { cause?: { code?: string; message?: string } })?.cause;
  const code = cause?.code;
  if (code === 'TIMEOUT') return `no answer within ${timeoutSeconds} s (timeout): ${cause?.message}`;
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
  if (error instanceof HttpGetFailure) return error.message;
  if (cause?.message) return `${(error as Error).message}: ${cause.message}`; // e.g. a TLS certificate problem, "bad port"
  return (error as Error)?.message ?? String(error);
}
