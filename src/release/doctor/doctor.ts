import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { appendJobSummary } from '../../ci/job-files';
import { platformPhp } from '../../config/project';
import type { ServerConfig } from '../../config/types';
import { AttacheError } from '../../errors';
import { mapLimit } from '../../limit';
import { envValue, registerEnvSecrets } from '../../log';
import { openTarget } from '../../open-target';
import { readSections } from '../../remote/command';
import { sh } from '../../remote/quote';
import type { Target } from '../../remote/target';
import type { Plan } from '../lifecycle/plan';
import { serverSpec } from '../lifecycle/reconnect';
import { Layout } from '../model/layout';
import { type Check, checklistMarkdown, type DoctorReport, formatChecklist, worst } from './checklist';
import { checkHere } from './here';
import { probeWeb } from './probe';
import { checkServer } from './server';
import { checkWebUser } from './web-user';

/**
 * `gulp doctor`: everything that would make the first deploy fail or serve stale code, read before
 * it runs. Here, then each server (connection, server, web user, what the web serves), as a
 * checklist with a verdict, the fact and the fix. Nothing it does lasts: the web probe is removed
 * at once. Fails (exit non-zero) when any check fails.
 */
export async function runDoctor(plan: Plan): Promise<DoctorReport> {
  const started = Date.now();
  const first = plan.selected[0];
  const here = await checkHere(plan.cwd, first, plan.branch ?? first.branch);
  const phpWanted = platformPhp(plan.cwd);
  const perServer = await mapLimit(plan.selected, plan.parallel, (server) =>
    checkOneServer(plan, server, phpWanted ? { version: phpWanted.version, from: phpWanted.from } : undefined),
  );
  const checks = [...here, ...perServer.flat()];
  const report: DoctorReport = {
    task: 'doctor',
    result: worst(checks),
    startedAt: new Date(started).toISOString(),
    seconds: (Date.now() - started) / 1000,
    checks,
  };
  return report;
}

/** Runs the doctor as a task: the checklist printed, --report written, the job summary in CI, a failure when a check failed. */
export async function doctorTask(plan: Plan): Promise<void> {
  const report = await runDoctor(plan);
  plan.log.summary(formatChecklist(report));
  if (plan.flags.report) writeFileSync(path.resolve(plan.cwd, plan.flags.report), `${JSON.stringify(report, null, 2)}\n`);
  const failed = report.checks.filter((c) => c.verdict === 'fail');
  const failure = failed.length
    ? new AttacheError(
        `the doctor found ${failed.length} problem${failed.length === 1 ? '' : 's'}: ${failed.map((c) => `${c.where}: ${c.name}`).join('; ')}`,
        {
          step: 'doctor',
          hint: failed[0].fix ? `First: ${failed[0].fix}` : 'See the checklist above.',
        },
      )
    : undefined;
  appendJobSummary(checklistMarkdown(report), failure);
  if (failure) throw failure;
}

async function checkOneServer(
  plan: Plan,
  server: ServerConfig,
  phpWanted: { version: string; from: string } | undefined,
): Promise<Check[]> {
  const where = server.name;
  let target: Target;
  try {
    target = await openTarget(serverSpec(server), plan.log);
  } catch (error) {
    const cause = error instanceof AttacheError ? error : undefined;
    return [
      {
        where,
        area: 'connection',
        name: 'connection',
        verdict: 'fail',
        fact: (cause?.what ?? (error as Error).message).split('\n')[0],
        ...(cause?.context.hint && { fix: cause.context.hint }),
      },
    ];
  }
  try {
    const layout = new Layout(server);
    const checks: Check[] = [
      {
        where,
        area: 'connection',
        name: 'connection',
        verdict: 'ok',
        fact:
          server.host === 'local'
            ? 'the local machine'
            : `connected (host key verified${server.ssh.forwardAgent ? ', agent forwarded' : ''})`,
      },
    ];
    const branch = plan.branch ?? server.branch;
    const { checks: serverChecks, facts } = await checkServer(target, server, layout, phpWanted, branch);
    checks.push(...serverChecks);
    const { checks: served, phpUser } = await checkWhatServes(target, server, layout, facts.liveRelease);
    checks.push(...served);
    // The web user: the configured one, else the one PHP answered as, else www-data (assumed).
    const name = server.webUser ?? phpUser ?? 'www-data';
    const said = server.webUser ? name : phpUser ? `${name} (PHP's user)` : `${name} (assumed: set "webUser")`;
    checks.push(...(await checkWebUser(target, where, layout, { name, said, assumed: !server.webUser && !phpUser }, facts.liveRelease)));
    return checks;
  } catch (error) {
    return [
      {
        where,
        area: 'server',
        name: 'doctor',
        verdict: 'fail',
        fact: `the checks could not run: ${(error as Error).message.split('\n')[0]}`,
      },
    ];
  } finally {
    await target.close().catch(() => undefined);
  }
}

/** What the web server serves, from the live release (the probe), when there is one and a URL to ask. */
async function checkWhatServes(
  target: Target,
  server: ServerConfig,
  layout: Layout,
  liveRelease: string | undefined,
): Promise<{ checks: Check[]; phpUser?: string }> {
  const check = (verdict: Check['verdict'], fact: string, fix?: string): Check => ({
    where: server.name,
    area: 'web',
    name: 'what the web serves',
    verdict,
    fact,
    ...(fix && { fix }),
  });
  if (!liveRelease) return { checks: [check('ok', 'no live release yet: checked after the first deploy')] };
  const url = await baseUrl(target, server, layout);
  if (!url)
    return {
      checks: [
        check(
          'warn',
          `no URL to ask: no "healthcheck", and ${layout.env} has no APP_URL`,
          'set "healthcheck" (or APP_URL in the server\'s .env) so the doctor can see what the web server runs',
        ),
      ],
    };
  return probeWeb(target, server, layout, liveRelease, url);
}

/** The app's address: the health check's origin, else APP_URL from the root .env (whose values are secrets). */
async function baseUrl(target: Target, server: ServerConfig, layout: Layout): Promise<string | undefined> {
  if (server.healthcheck) return new URL(server.healthcheck.url).origin;
  const [env] = await readSections(target, [sh`cat -- ${layout.env} 2>/dev/null; true`], { step: 'doctor', output: 'none' });
  registerEnvSecrets(env ?? '');
  return envValue(env ?? '', 'APP_URL');
}
