import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { attache, type TaskFunction } from '../../src/preset';
import { captureLogger } from '../support/log';
import { startGulpChild } from '../support/gulp-child';
import { createSite, exists, startTarget, type Site, type TargetSpec } from '../support/preset';
import { gulp, runTask } from '../support/streams';

/**
 * The life of a deploy around its steps, as a gulpfile author meets it (real sshd): presets
 * exported under names of their own, hooks that follow their steps (and `skip`), a custom build
 * task that gets the build hooks, custom series with and without unlock, and config checked before
 * any build runs.
 */
describe('the deploy lifecycle in gulpfiles of your own (real sshd)', () => {
  let target: TargetSpec;
  let stop: () => Promise<void>;

  before(async () => {
    ({ target, stop } = await startTarget('sshd'));
  });
  after(() => stop());

  /** Lines a hook appended to root/hooks.log on the server. */
  const hookLog = (site: Site) =>
    exists(path.join(site.root, 'hooks.log')) ? readFileSync(path.join(site.root, 'hooks.log'), 'utf8').trim().split('\n') : [];
  const logging = (...hooks: string[]) => Object.fromEntries(hooks.map((hook) => [hook, [`echo ${hook} >> @root/hooks.log`]]));

  it('two presets exported as deployStaging and deployProduction each run under their own name with their own config', async () => {
    const site = createSite({ target });
    const productionRoot = path.join(path.dirname(site.root), 'production-root');
    writeFileSync(path.join(site.cwd, 'staging.json'), readFileSync(site.configFile));
    writeFileSync(
      path.join(site.cwd, 'production.json'),
      readFileSync(site.configFile, 'utf8').replace(JSON.stringify(site.root), JSON.stringify(productionRoot)),
    );
    const gulpfile =
      `const { attache } = require(ATTACHE);\n` +
      `exports.deployStaging = attache({ cwd: ${JSON.stringify(site.cwd)}, config: 'staging.json' }).deploy;\n` +
      `exports.deployProduction = attache({ cwd: ${JSON.stringify(site.cwd)}, config: 'production.json' }).deploy;\n`;
    for (const task of ['deployStaging', 'deployProduction']) {
      const child = startGulpChild({ cwd: site.cwd, gulpfile, task });
      const { code } = await child.exited;
      assert.equal(code, 0, child.lines.join('\n'));
      assert.ok(
        child.lines.some((line) => line.includes(`Finished '${task}'`)),
        `gulp ran the task under its export name:\n${child.lines.join('\n')}`,
      );
    }
    assert.ok(exists(path.join(site.root, 'live')), "staging.json's root was deployed");
    assert.ok(exists(path.join(productionRoot, 'live')), "production.json's root was deployed");

    const listing = startGulpChild({ cwd: site.cwd, gulpfile, task: '--tasks' });
    await listing.exited;
    const out = listing.lines.join('\n');
    for (const task of ['deployStaging', 'deployProduction']) assert.match(out, new RegExp(`${task}\\s+deploy a new release`), out);
  });

  it('with skip: ["composer", "artisan"], before-deploy and after-deploy each run once', async () => {
    const site = createSite({
      target,
      server: {
        skip: ['composer', 'artisan'],
        scripts: { build: [], ...logging('before-deploy', 'after-deploy', 'before-composer', 'after-composer') },
      },
    });
    await site.run('deploy');
    assert.deepEqual(hookLog(site), ['before-deploy', 'after-deploy'], "the deploy hooks ran once each; the skipped step's hooks did not");
  });

  it('a custom build task gets before-build and after-build; skip: ["build"] skips it and its hooks', async () => {
    const local = (site: Site) => path.join(site.cwd, 'local-hooks.log');
    const build = (site: Site): TaskFunction =>
      Object.assign(async () => writeFileSync(local(site), readLocal(site) + 'build\n'), { displayName: 'my-build' });
    const readLocal = (site: Site) => (existsSync(local(site)) ? readFileSync(local(site), 'utf8') : '');
    const hooks = { 'before-build': ['echo before-build >> local-hooks.log'], 'after-build': ['echo after-build >> local-hooks.log'] };

    const site = createSite({ target, server: { scripts: { build: [], ...hooks } } });
    await site.run('deploy', [], { build: build(site) });
    assert.deepEqual(readLocal(site).trim().split('\n'), ['before-build', 'build', 'after-build']);

    const skipping = createSite({ target, server: { skip: ['build'], scripts: { build: [], ...hooks } } });
    await skipping.run('deploy', [], { build: build(skipping) });
    assert.equal(readLocal(skipping), '', 'neither the build task nor its hooks ran');
    assert.ok(skipping.liveId(), 'the deploy went on without the build');
  });

  it('steps.build in a custom series runs the custom build task', async () => {
    const site = createSite({ target });
    const marker = path.join(site.cwd, 'custom-build-ran');
    const { log } = captureLogger('quiet');
    const tasks = attache({ cwd: site.cwd, argv: ['node', 'gulp'], logger: log, build: async () => writeFileSync(marker, 'yes') });
    const { steps } = tasks;
    await runTask(
      gulp.series(steps.build, steps.connect, steps.lock, steps.release, steps.clone, steps.shared, steps.live, steps.unlock) as never,
    );
    assert.ok(existsSync(marker), 'the custom build ran, not yarn prod');
    assert.equal(tasks.report?.result, 'deployed');
  });

  it('a custom series without steps.unlock ends with the lock freed, the connection closed and the summary printed', async () => {
    const site = createSite({ target });
    const gulpfile =
      `const { series } = require('gulp');\n` +
      `const { attache } = require(ATTACHE);\n` +
      `const { steps } = attache({ cwd: ${JSON.stringify(site.cwd)} });\n` +
      `exports.ship = series(steps.connect, steps.lock, steps.release, steps.clone, steps.shared, steps.live);\n`;
    const child = startGulpChild({ cwd: site.cwd, gulpfile, task: 'ship' });
    const { code } = await child.exited; // exiting by itself at all means the connection was closed
    const out = child.lines.join('\n');
    assert.equal(code, 0, out);
    assert.match(out, /deploy summary \([\d.]+ s\): deployed \d{14}/, out);
    assert.equal(exists(path.join(site.root, '.attache-lock')), false, 'the lock was freed');
    assert.ok(site.liveId(), 'live was swapped');
  });

  it('an invalid config fails before a build task runs', async () => {
    const site = createSite({ target });
    const marker = path.join(site.cwd, 'build-ran');
    const valid = readFileSync(site.configFile);
    writeFileSync(
      site.configFile,
      JSON.stringify({ repository: 'x', servers: { production: { ...site.server, migrations: true, root: 'relative' } } }),
    );
    const { error } = await site.fail('deploy', [], { build: async () => writeFileSync(marker, 'built') });
    assert.match(error.message, /root/);
    assert.equal(existsSync(marker), false, 'the build task never ran');
    writeFileSync(site.configFile, valid);
    const unknownServer = await site.fail('deploy', ['--server=nope'], { build: async () => writeFileSync(marker, 'built') });
    assert.match(unknownServer.error.message, /no server or group named "nope"/);
    assert.equal(existsSync(marker), false, 'the build task never ran');
  });
});
