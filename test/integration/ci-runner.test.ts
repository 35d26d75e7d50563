import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { tempDir } from '../support/fixtures';
import { startGulpChild } from '../support/gulp-child';
import { createSite, startTarget, type Site, type TargetSpec } from '../support/preset';

/**
 * A deploy as a CI runner sees it, through the gulp CLI with the variables GitHub Actions and
 * GitLab CI set (no TTY): the log's groups and commands as the runner would obey them, the job
 * summary, the step outputs, a failure told once, and never mute.
 */

/** A workflow command as GitHub's runner reads it from a log line. */
interface Command {
  name: string;
  properties: Record<string, string>;
  message: string;
}

/**
 * The runner's reading of a log (actions/runner ActionCommandManager): `::name props::message` at a
 * line's start, `##[name props]message` anywhere in it (the older form), none of them between
 * `::stop-commands::<token>` and `::<token>::`.
 */
function runnerReads(lines: readonly string[]): Command[] {
  const commands: Command[] = [];
  let stopped: string | undefined;
  const unescape = (text: string) =>
    text.replace(/%0A/g, '\n').replace(/%0D/g, '\r').replace(/%3A/g, ':').replace(/%2C/g, ',').replace(/%25/g, '%');
  for (const raw of lines) {
    const line = raw.trimStart();
    if (stopped !== undefined) {
      if (line === `::${stopped}::`) stopped = undefined;
      continue;
    }
    const v2 = /^::([A-Za-z-]+)(?: ([^:]*))?::(.*)$/.exec(line);
    const v1 = v2 ? undefined : /##\[([A-Za-z-]+)(?: ([^\]]*))?\](.*)$/.exec(raw);
    const found = v2 ?? v1;
    if (!found) continue;
    const [, name, props = '', message] = found;
    if (name === 'stop-commands') {
      stopped = message;
      continue;
    }
    const properties = Object.fromEntries(
      props
        .split(',')
        .filter(Boolean)
        .map((p) => {
          const [key, ...value] = p.split('=');
          return [key.trim(), unescape(value.join('='))];
        }),
    );
    commands.push({ name, properties, message: unescape(message) });
  }
  return commands;
}

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('a deploy run by a CI runner', () => {
  let target: TargetSpec;
  let stop: () => Promise<void>;
  before(async () => {
    const started = await startTarget('sshd');
    target = started.target;
    stop = started.stop;
  });
  after(() => stop());

  /** Runs a task through the gulp CLI as GitHub Actions would (or GitLab CI); the job's files in a temp dir. */
  async function asRunner(site: Site, options: { runner?: 'github' | 'gitlab'; task?: string; flags?: string[] } = {}) {
    const job = tempDir('attache-job-');
    const summary = path.join(job, 'summary.md');
    const outputs = path.join(job, 'outputs');
    writeFileSync(summary, '');
    writeFileSync(outputs, '');
    const env: NodeJS.ProcessEnv =
      options.runner === 'gitlab'
        ? { CI: 'true', GITLAB_CI: 'true', GITHUB_ACTIONS: '' }
        : { CI: 'true', GITHUB_ACTIONS: 'true', GITHUB_STEP_SUMMARY: summary, GITHUB_OUTPUT: outputs, GITHUB_WORKSPACE: site.cwd };
    const child = startGulpChild({ cwd: site.cwd, task: options.task, flags: options.flags, env });
    const { code } = await child.exited;
    return {
      code,
      lines: child.lines,
      log: child.lines.join('\n'),
      summary: () => readFileSync(summary, 'utf8'),
      outputs: () => readFileSync(outputs, 'utf8'),
    };
  }

  it('groups every step, writes the job summary and the outputs, and obeys no command a hook prints', async () => {
    const site = createSite({
      target,
      server: { scripts: { build: [], 'after-clone': ["echo '::error::fake'", "echo 'at the end of a line ##[error]fake too'"] } },
    });
    const run = await asRunner(site);
    assert.equal(run.code, 0, run.log);
    const commands = runnerReads(run.lines);
    assert.deepEqual(
      commands.filter((c) => c.name === 'error' || c.name === 'warning'),
      [],
      `the runner would annotate a hook's output:\n${run.log}`,
    );
    assert.ok(
      run.lines.some((line) => line.includes('::error::fake')),
      run.log,
    );

    // A group per step that ran, each closed before the next opens.
    const groups = commands.filter((c) => c.name === 'group' || c.name === 'endgroup');
    const finished = run.lines.flatMap((line) => /\] (\S+) done in /.exec(line)?.[1] ?? []);
    for (const step of ['connect', 'clone', 'composer', 'unlock']) assert.ok(finished.includes(step), `${step} ran:\n${run.log}`);
    assert.ok(
      groups.some((g) => g.name === 'group' && g.message === 'rollout'),
      `the swap, OPcache reset and health check are one group:\n${run.log}`,
    );
    for (const step of finished) {
      assert.ok(
        groups.some((g) => g.name === 'group' && (g.message === step || g.message.startsWith(`${step} (`))),
        `no group for ${step}:\n${run.log}`,
      );
    }
    groups.forEach((g, i) => assert.equal(g.name, i % 2 === 0 ? 'group' : 'endgroup', `groups nest or stay open:\n${run.log}`));
    assert.equal(groups.length % 2, 0);

    const id = site.liveId()!;
    const commit = site.marker(id).commit!;
    const summary = run.summary();
    assert.match(summary, new RegExp(`gulp-attache deploy: deployed \`${id}\``), summary);
    assert.match(summary, new RegExp(`\\| production \\| deployed \\| \`${commit.slice(0, 12)}\` \\|`), summary);
    assert.match(summary, /Step times/);
    assert.ok(Buffer.byteLength(summary) < 64 * 1024);
    assert.match(run.outputs(), new RegExp(`^release=${id}$`, 'm'));
    assert.match(run.outputs(), new RegExp(`^commit=${commit}$`, 'm'));
    assert.match(run.outputs(), /^result=deployed$/m);
  });

  it('a failing deploy is one annotation with its cause and fix, and the summary says what was undone', async () => {
    const site = createSite({ target, server: { scripts: { build: [], 'after-clone': ['echo "the hook broke here" >&2; exit 3'] } } });
    const run = await asRunner(site);
    assert.notEqual(run.code, 0);
    const errors = runnerReads(run.lines).filter((c) => c.name === 'error');
    assert.equal(errors.length, 1, run.log);
    assert.match(errors[0].properties.title, /gulp-attache deploy: after-clone failed on production|clone failed on production/, run.log);
    assert.match(errors[0].message, /the hook broke here/);
    const summary = run.summary();
    assert.match(summary, /gulp-attache deploy: failed/);
    assert.match(summary, /\*\*Cause:\*\* .*the hook broke here/);
    assert.match(summary, /\*\*production\*\* undone: remove \S+\/releases\/\d{14}/, summary);
    assert.match(run.outputs(), /^result=failed$/m);
    assert.equal(site.releases().length, 0);
  });

  it('a config error is annotated at its line in .attache.json', async () => {
    const site = createSite({ target, server: { parallel: 'many' } });
    const text = readFileSync(site.configFile, 'utf8');
    const line = text.split('\n').findIndex((l) => l.includes('"parallel"')) + 1;
    const run = await asRunner(site);
    assert.notEqual(run.code, 0);
    const errors = runnerReads(run.lines).filter((c) => c.name === 'error');
    assert.equal(errors.length, 1, run.log);
    assert.equal(errors[0].properties.file, '.attache.json', run.log);
    assert.equal(errors[0].properties.line, String(line), run.log);
    assert.ok(Number(errors[0].properties.col) > 0);
    assert.match(run.summary(), /\*\*Cause:\*\* .*parallel/);
  });

  it('--silent still prints the cause of a failure, and its fix', async () => {
    const site = createSite({ target, server: { scripts: { build: [], 'after-clone': ['echo "the hook broke here" >&2; exit 3'] } } });
    const run = await asRunner(site, { flags: ['--silent'] });
    assert.notEqual(run.code, 0);
    assert.ok(
      run.lines.some((line) => /gulp-attache deploy failed: .*the hook broke here/.test(line)),
      run.log,
    );
  });

  it('a server that cannot be reached is in the table and in --report, with why', async () => {
    const site = createSite({ target: { host: '127.0.0.1', port: await closedPort(), user: 'root' } });
    const run = await asRunner(site, { flags: ['--silent', '--report=report.json'] });
    assert.notEqual(run.code, 0);
    assert.ok(
      run.lines.some((line) => /^(\[\d\d:\d\d:\d\d\] )?\s*production\s+failed\s.*\(not reached\)/.test(line)),
      run.log,
    );
    assert.ok(
      run.lines.some((line) => /production: .*(refused|ECONNREFUSED)/i.test(line)),
      run.log,
    );
    const report = JSON.parse(readFileSync(path.join(site.cwd, 'report.json'), 'utf8'));
    assert.equal(report.result, 'failed');
    assert.equal(report.servers.length, 1);
    assert.equal(report.servers[0].server, 'production');
    assert.equal(report.servers[0].result, 'failed');
    assert.match(report.servers[0].error, /refused/i);
    assert.match(run.summary(), /\| production \| failed \|/);
  });

  it('GitLab CI: a collapsible section per step', async () => {
    const site = createSite({ target });
    const run = await asRunner(site, { runner: 'gitlab' });
    assert.equal(run.code, 0, run.log);
    const starts = run.lines.filter((line) => /\x1b\[0Ksection_start:\d+:attache_\d+_clone/.test(line));
    const ends = run.lines.filter((line) => /\x1b\[0Ksection_end:\d+:attache_\d+_/.test(line));
    assert.equal(starts.length, 1, run.log);
    assert.ok(ends.length >= 5, run.log);
    assert.equal(run.lines.filter((line) => line.includes('section_start:')).length, ends.length, 'every section is closed');
    assert.ok(!run.lines.some((line) => line.startsWith('::')), 'no GitHub commands on GitLab');
  });
});
