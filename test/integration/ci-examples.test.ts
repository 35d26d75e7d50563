import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { tempDir } from '../support/fixtures';
import { createSite, type Site } from '../support/preset';
import { createHome, startSshd, type SshServer, type TestHome } from '../../support/sshd';

/**
 * The example CI jobs, run here as their runner would run them: each command of the job (but
 * `npm ci`: this repository's installed packages are linked into the project instead, since the
 * test has no registry to install from) in the project directory, with the variables the runner
 * sets, the secrets as the job's `env:` maps them, an empty HOME (no ~/.ssh, no agent) and no TTY.
 * A runner itself cannot run here; what it reads of the log is checked in ci-runner.test.ts.
 */
const REPO_ROOT = path.resolve(__dirname, '../..');

/** The `run:` commands of a GitHub Actions job and the `env:` each maps, from the example's plain YAML. */
function githubSteps(yaml: string): Array<{ run: string; env: Record<string, string> }> {
  const steps: Array<{ run: string; env: Record<string, string> }> = [];
  let inEnv = false;
  for (const line of yaml.split('\n')) {
    if (/^\s*- /.test(line)) inEnv = false;
    const run = /^\s*(?:- )?(?:id: \S+\s*)?run: (.+)$/.exec(line);
    if (run) steps.push({ run: run[1], env: {} });
    else if (/^\s+env:\s*$/.test(line) && steps.length) inEnv = true;
    else if (inEnv) {
      const entry = /^\s+([A-Z_]+): \$\{\{ secrets\.([A-Z_]+) \}\}$/.exec(line);
      if (entry) steps.at(-1)!.env[entry[1]] = entry[2];
    }
  }
  return steps;
}

/** The `script:` lines of a GitLab CI job. */
function gitlabScript(yaml: string): string[] {
  const lines = yaml.split('\n');
  const start = lines.findIndex((line) => /^\s+script:\s*$/.test(line));
  const script: string[] = [];
  for (const line of lines.slice(start + 1)) {
    const item = /^\s+- (.+)$/.exec(line);
    if (!item) break;
    script.push(item[1]);
  }
  return script;
}

describe('the example CI jobs', () => {
  let sshd: SshServer;
  let home: TestHome;
  let secrets: Record<string, string>;
  before(async () => {
    home = createHome({ setEnv: false });
    sshd = await startSshd(home);
    secrets = {
      DEPLOY_KEY: readFileSync(home.key, 'utf8'),
      DEPLOY_KNOWN_HOSTS: `[127.0.0.1]:${sshd.port} ${sshd.hostKey}\n`,
    };
  });
  after(() => sshd.stop());

  /** A project as the job checks it out: .attache.json naming the secrets, the gulpfile of the README, its packages. */
  function project(): Site {
    const site = createSite({
      target: { host: '127.0.0.1', port: sshd.port, user: 'root' },
      server: { identityEnv: 'DEPLOY_KEY', knownHostsEnv: 'DEPLOY_KNOWN_HOSTS' },
    });
    writeFileSync(
      path.join(site.cwd, 'gulpfile.mjs'),
      "import { attache } from 'gulp-attache';\n\nexport const { deploy, rollback } = attache();\n",
    );
    const modules = path.join(site.cwd, 'node_modules');
    mkdirSync(modules);
    for (const name of readdirSync(path.join(REPO_ROOT, 'node_modules')))
      symlinkSync(path.join(REPO_ROOT, 'node_modules', name), path.join(modules, name));
    symlinkSync(REPO_ROOT, path.join(modules, 'gulp-attache'));
    return site;
  }

  function runJob(site: Site, commands: Array<{ run: string; env: Record<string, string> }>, runnerEnv: Record<string, string>) {
    const emptyHome = tempDir('attache-runner-home-');
    const results = [];
    for (const { run, env } of commands) {
      if (/^npm ci\b/.test(run)) continue;
      const result = spawnSync('/bin/sh', ['-e', '-c', run], {
        cwd: site.cwd,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
        env: {
          PATH: process.env.PATH,
          HOME: emptyHome,
          ...runnerEnv,
          ...Object.fromEntries(Object.entries(env).map(([name, secret]) => [name, secrets[secret]])),
        },
        timeout: 120_000,
      });
      results.push({ run, ...result, log: `${result.stdout}\n${result.stderr}` });
    }
    return results;
  }

  it('GitHub Actions: the job deploys with its secrets in the environment, and leaves the summary and the outputs', () => {
    const yaml = readFileSync(path.join(REPO_ROOT, 'example/ci/github-actions.yml'), 'utf8');
    assert.match(yaml, /concurrency:\n\s+group: /, 'two deploys never race');
    const steps = githubSteps(yaml);
    assert.ok(
      steps.some((s) => /npx gulp deploy/.test(s.run) && s.env.DEPLOY_KEY && s.env.DEPLOY_KNOWN_HOSTS),
      JSON.stringify(steps),
    );
    const site = project();
    const job = tempDir('attache-github-job-');
    const files = { GITHUB_STEP_SUMMARY: path.join(job, 'summary.md'), GITHUB_OUTPUT: path.join(job, 'output') };
    for (const file of Object.values(files)) writeFileSync(file, '');
    const results = runJob(site, steps, {
      CI: 'true',
      GITHUB_ACTIONS: 'true',
      GITHUB_WORKSPACE: site.cwd,
      RUNNER_TEMP: job,
      GITHUB_REF_NAME: 'main',
      ...files,
    });
    for (const result of results) assert.equal(result.status, 0, `${result.run}:\n${result.log}`);
    const log = results.map((r) => r.log).join('\n');
    // What the runner shows: its commands (the masks among them) are read, not printed.
    const shown = log.split('\n').filter((line) => !line.startsWith('::'));
    const keyLine = secrets.DEPLOY_KEY.split('\n')[2];
    assert.ok(!shown.some((line) => line.includes(keyLine)), 'the key is not in the log');
    assert.ok(log.split('\n').includes(`::add-mask::${keyLine}`), 'the runner is told to mask it');
    const id = site.liveId();
    assert.ok(id, log);
    assert.match(readFileSync(files.GITHUB_OUTPUT, 'utf8'), new RegExp(`^release=${id}$`, 'm'));
    assert.match(readFileSync(files.GITHUB_STEP_SUMMARY, 'utf8'), /\| production \| deployed \|/);
    assert.equal(JSON.parse(readFileSync(path.join(site.cwd, 'deploy-report.json'), 'utf8')).result, 'deployed');
  });

  it('GitLab CI: the job deploys with its variables, in collapsed sections', () => {
    const yaml = readFileSync(path.join(REPO_ROOT, 'example/ci/gitlab-ci.yml'), 'utf8');
    assert.match(yaml, /resource_group: /, 'two deploys never race');
    const site = project();
    const results = runJob(
      site,
      gitlabScript(yaml).map((run) => ({ run, env: {} })),
      {
        CI: 'true',
        GITLAB_CI: 'true',
        CI_COMMIT_BRANCH: 'main',
        DEPLOY_KEY: secrets.DEPLOY_KEY,
        DEPLOY_KNOWN_HOSTS: secrets.DEPLOY_KNOWN_HOSTS,
      },
    );
    assert.ok(results.some((r) => /npx gulp deploy/.test(r.run)));
    for (const result of results) assert.equal(result.status, 0, `${result.run}:\n${result.log}`);
    assert.match(results.map((r) => r.stdout).join('\n'), /section_start:\d+:attache_\d+_clone/);
    assert.ok(site.liveId());
  });
});
