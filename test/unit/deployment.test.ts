import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { LocalTarget } from '../../src/remote/local';
import type { ServerRun, Step } from '../../src/release/lifecycle/context';
import { Deployment } from '../../src/release/lifecycle/deployment';
import { Layout } from '../../src/release/model/layout';
import { makePlan } from '../../src/release/lifecycle/plan';
import { UndoLog } from '../../src/release/lifecycle/undo-log';
import { captureLogger } from '../support/log';

/**
 * The life of a deploy without gulp or a server: steps that record what they do and what they
 * would undo, run through a Deployment.
 */
function setup(servers = ['one', 'two'], entry: Record<string, unknown> = {}) {
  const cwd = mkdtempSync(path.join(os.tmpdir(), 'attache-life-'));
  const entries = Object.fromEntries(servers.map((name) => [name, { host: 'local', root: `/srv/${name}`, ...entry }]));
  writeFileSync(path.join(cwd, '.attache.json'), JSON.stringify({ repository: 'x', servers: entries, groups: { all2: servers } }));
  const { log, lines } = captureLogger('normal');
  const plan = makePlan('deploy', { cwd, logger: log, argv: ['node', 'gulp', `--server=${servers.join(',')}`] });
  const events: string[] = [];
  const connect: Step = {
    name: 'connect',
    description: 'fake connections',
    async once(deploy) {
      deploy.servers = deploy.selected.map(
        (server): ServerRun => ({
          server,
          layout: new Layout(server),
          target: Object.assign(new LocalTarget(server.name, log), { close: async () => void events.push(`close ${server.name}`) }),
          log,
          liveBefore: null,
          undo: new UndoLog(),
          running: new Set<string>(),
          timings: {},
          uploaded: { files: 0, bytes: 0 },
          skipped: { files: 0, bytes: 0 },
        }),
      );
    },
  };
  const changes = (name: string, kind: 'lock' | 'release' | 'live' = 'release', extra: Partial<Step> = {}): Step => ({
    name,
    description: name,
    async run(run) {
      events.push(`${name} ${run.server.name}`);
      run.undo.push(kind, `undo ${name}`, async () => void events.push(`undo ${name} ${run.server.name}`));
    },
    ...extra,
  });
  const failing = (name: string, on: string): Step => ({
    name,
    description: name,
    async run(run) {
      if (run.server.name === on) throw new Error(`${name} broke on ${on}`);
      events.push(`${name} ${run.server.name}`);
    },
  });
  const deployment = new Deployment(plan, { connect, printReport: true });
  return { deployment, events, lines, changes, failing };
}

describe('Deployment: the life of a deploy', () => {
  it('a failure undoes every step on every server, newest first, then closes and reports', async () => {
    const { deployment, events, changes, failing } = setup();
    await deployment.runStep(changes('lock', 'lock'));
    await deployment.runStep(changes('clone'));
    await assert.rejects(deployment.runStep(failing('composer', 'two')), /composer broke on two/);
    const undone = (server: string) => events.filter((e) => e.startsWith('undo') && e.endsWith(server));
    assert.deepEqual(undone('one'), ['undo clone one', 'undo lock one']);
    assert.deepEqual(undone('two'), ['undo clone two', 'undo lock two']);
    assert.deepEqual(events.slice(-2).sort(), ['close one', 'close two'], 'closed after the undo');
    const report = deployment.report();
    assert.equal(report?.result, 'failed');
    assert.deepEqual(
      report?.servers.map((s) => s.result),
      ['untouched', 'failed'],
    );
  });

  it('ends exactly once: a second failure waits for the first undo and adds no second one', async () => {
    const { deployment, events, changes, failing } = setup();
    await deployment.runStep(changes('clone'));
    const first = deployment.runStep(failing('a', 'one')).catch((e: Error) => e);
    const second = first.then(() => deployment.fail(new Error('another failure')));
    assert.match(String(await first), /a broke on one/, 'the first failure is what the user is told');
    await second;
    assert.equal(events.filter((e) => e === 'undo clone one').length, 1, 'undone once');
    assert.equal(events.filter((e) => e === 'close one').length, 1, 'closed once');
    await deployment.finish(); // after the end, finishing is the same end, not a new one
    assert.equal(events.filter((e) => e === 'close one').length, 1);
  });

  it('a step that commits drops every undo but the lock; the end frees the lock', async () => {
    const { deployment, events, changes, failing } = setup(['one']);
    await deployment.runStep(changes('lock', 'lock'));
    await deployment.runStep(changes('clone'));
    await deployment.runStep(changes('live', 'live'));
    await deployment.runStep({ ...changes('health'), commits: true });
    await assert.rejects(deployment.runStep(failing('prune', 'one')), /prune broke/);
    const undone = events.filter((e) => e.startsWith('undo'));
    assert.deepEqual(undone, ['undo lock one'], 'nothing before the commit (the commit step included) is undone, the lock is freed');
  });

  it('finish on success commits, frees what is still held (a series without unlock) and reports', async () => {
    const { deployment, events, changes, lines } = setup(['one']);
    await deployment.runStep(changes('lock', 'lock'));
    await deployment.runStep(changes('clone'));
    await deployment.finish();
    assert.deepEqual(
      events.filter((e) => e.startsWith('undo')),
      ['undo lock one'],
      'the lock is freed, the release kept',
    );
    assert.ok(
      lines.some((l) => l.startsWith('deploy summary')),
      lines.join('\n'),
    );
  });

  it('Ctrl-C undoes like a failure, and the steps still running end quietly instead of failing', async (t) => {
    const { deployment, events, changes } = setup(['one']);
    const exit = t.mock.method(process, 'exit', () => undefined as never);
    await deployment.runStep(changes('clone'));
    let release!: () => void;
    const slow: Step = {
      name: 'slow',
      description: 'slow',
      run: () => new Promise<void>((resolve) => (release = resolve)),
    };
    const running = deployment.runStep(slow);
    await new Promise((r) => setImmediate(r));
    process.emit('SIGINT', 'SIGINT');
    release();
    await running; // resolves: the interrupt is reported by the exit code, not as a step failure
    assert.deepEqual(
      events.filter((e) => e.startsWith('undo')),
      ['undo clone one'],
    );
    assert.equal(deployment.report()?.result, 'interrupted');
    assert.equal(process.exitCode, 130);
    process.exitCode = 0;
    exit.mock.restore();
  });

  it('a step beside the one that makes the release runs its server hooks once the release is made; one without hooks starts at once', async () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'attache-life-root-'));
    const { deployment, events } = setup(['one'], {
      root,
      scripts: { 'before-composer': [`echo hook >> ${path.join(root, 'hook.log')}`] },
    });
    let made = () => {};
    const tree: Step = {
      name: 'clone',
      description: 'clone',
      makesReleaseTree: true,
      run: () => new Promise<void>((resolve) => (made = () => (events.push('release made'), resolve()))),
    };
    const withHooks: Step = { name: 'composer', description: 'composer', hooks: 'composer', run: async () => void events.push('composer') };
    const withoutHooks: Step = { name: 'assets', description: 'assets', run: async () => void events.push('assets') };
    const steps = [deployment.runStep(tree), deployment.runStep(withHooks), deployment.runStep(withoutHooks)];
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.deepEqual(events, ['assets'], 'the hooked step waits, the other does not');
    made();
    await Promise.all(steps);
    assert.deepEqual(events, ['assets', 'release made', 'composer']);
  });
});
