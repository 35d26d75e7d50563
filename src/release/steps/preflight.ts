import { platformPhp } from '../../config/project';
import { AttacheError } from '../../errors';
import type { Check } from '../doctor/checklist';
import { checkHere } from '../doctor/here';
import { checkServer } from '../doctor/server';
import type { Deploy, ServerRun, Step } from '../lifecycle/context';

/**
 * The doctor's quick checks (not the web probe) before a server's first release: install runs the
 * local and the server checks before it builds; a deploy to a server with no live release runs the
 * server checks beside its build. What would fail the first deploy halfway (a root that cannot be
 * created, a branch the server cannot fetch, PHP older than composer.lock wants) stops it here,
 * before anything changes, with the fix; warnings are said and the deploy goes on.
 */
export const preflight: Step = {
  name: 'preflight',
  description: "before a server's first release: the doctor's quick checks, here and there (gulp doctor runs them all)",
  async once(deploy) {
    // A deploy builds beside this step, and its source and build steps say the same as these checks, as soon.
    if (deploy.task !== 'install') return;
    const server = deploy.selected[0];
    const here = await checkHere(deploy.cwd, server, deploy.branch ?? server.branch);
    // --any-commit accepts a checkout the server does not deploy: its checks would only refuse that.
    stopOnFailure(
      deploy,
      here.filter((check) => !(deploy.flags.anyCommit && ['clean tree', 'HEAD pushed'].includes(check.name))),
    );
  },
  appliesTo: (server) => server.host !== 'local',
  async run(run, deploy) {
    if (!isFirst(run, deploy)) return;
    const php = platformPhp(deploy.cwd);
    const { checks } = await checkServer(run.target, run.server, run.layout, php, deploy.branch ?? run.server.branch);
    stopOnFailure(deploy, checks);
  },
};

function isFirst(run: ServerRun, deploy: Deploy): boolean {
  return deploy.task === 'install' || run.liveBefore === null;
}

function stopOnFailure(deploy: Deploy, checks: readonly Check[]): void {
  for (const check of checks.filter((c) => c.verdict === 'warn')) deploy.log.warn(`[${check.where}] ${check.name}: ${check.fact}`);
  const failed = checks.filter((c) => c.verdict === 'fail');
  if (!failed.length) return;
  const [first] = failed;
  throw new AttacheError(`${failed.map((c) => `${c.name}: ${c.fact}`).join('; ')}`, {
    ...(first.where !== 'here' && { server: first.where }),
    step: 'preflight',
    hint: `${first.fix ? `Fix: ${first.fix}. ` : ''}Nothing was built or changed; gulp doctor checks everything a first deploy needs.`,
  });
}
