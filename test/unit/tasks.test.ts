import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import type { Step } from '../../src/release/lifecycle/context';
import { stepsOf } from '../../src/release/lifecycle/series';
import { TASKS, type ReleaseTask, type ServerTask } from '../../src/release/tasks';
import { parseFlags } from '../../src/cli/flags';
import type { Plan } from '../../src/release/lifecycle/plan';

const releaseTask = (name: string) => TASKS.find((task): task is ReleaseTask => task.kind === 'release' && task.name === name)!;
const serverTask = (name: string) => TASKS.find((task): task is ServerTask => task.kind === 'servers' && task.name === name)!;
const names = (steps: readonly Step[]) => steps.map((step) => step.name);
/** A step that does something on a server (not only once, locally, for the whole deploy). */
const onServers = (step: Step) => step.run !== undefined || step.hooks !== undefined;

describe('the task list', () => {
  const deploy = stepsOf(releaseTask('deploy').plan);
  const install = stepsOf(releaseTask('install').plan);

  it("install's series has every step of deploy's that runs on a server, in the same order (permissions, optimize, opcache and restart too)", () => {
    const deployOnServers = deploy.filter(onServers);
    assert.ok(['permissions', 'optimize', 'opcache', 'restart', 'health', 'live'].every((name) => names(deployOnServers).includes(name)));
    // preflight runs beside the build in a deploy, before it in install: the rest keeps deploy's order.
    const inOrder = (steps: readonly Step[]) => names(steps).filter((name) => name !== 'preflight');
    assert.deepEqual(inOrder(install.filter((step) => deployOnServers.includes(step))), inOrder(deployOnServers));
    assert.ok(names(install).indexOf('preflight') < names(install).indexOf('build'));
  });

  it('install checks the server before it builds, and generates the key after artisan and before optimize caches the config', () => {
    const order = names(install);
    assert.ok(order.indexOf('connect') < order.indexOf('check'));
    assert.ok(order.indexOf('check') < order.indexOf('build'));
    assert.ok(order.indexOf('artisan') < order.indexOf('key'));
    assert.ok(order.indexOf('key') < order.indexOf('optimize'));
    assert.deepEqual(names(install.filter((step) => !deploy.includes(step))), ['check', 'key']);
  });

  it('rollback and activate run the after-swap steps of a deploy (OPcache reset, health check, restart) after their swap, under the lock', () => {
    const flags = parseFlags(['node', 'gulp', 'activate', '--release=latest'], 'activate');
    const plan = { selected: [] } as unknown as Plan;
    for (const [task, swap] of [
      ['rollback', 'rollback'],
      ['activate', 'activate'],
    ] as const) {
      const series = names(serverTask(task).series(flags, plan));
      assert.deepEqual(series, ['lock', swap, 'opcache', 'health', 'restart', 'unlock'], task);
    }
    const afterLive = names(deploy.slice(deploy.findIndex((step) => step.name === 'live') + 1));
    for (const step of ['opcache', 'health', 'restart']) assert.ok(afterLive.includes(step), `deploy runs ${step} after the swap too`);
  });

  it("the README's task table lists exactly the tasks of the list", () => {
    const readme = readFileSync('README.md', 'utf8');
    const section = readme.slice(readme.indexOf('## Tasks and flags')).split('\n');
    const table = section.slice(section.findIndex((line) => line.startsWith('| task ')));
    const rows = table
      .slice(
        0,
        table.findIndex((line) => !line.startsWith('|')),
      )
      .filter((line) => line.startsWith('| `'));
    const listed = rows.flatMap((row) => [...row.split('|')[1].matchAll(/`([a-z]+)`/g)].map((m) => m[1]));
    assert.deepEqual([...listed].sort(), TASKS.map((task) => task.name).sort());
  });
});
