import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { attache } from '../../src/preset';
import { captureLogger } from '../support/log';
import { createSite, startTarget } from '../support/preset';

/**
 * A task function called bare, from a Node script or a test (`deploy(done)`), not through gulp's
 * CLI nor inside a gulp.series of the user's: no gulp task runs around its steps.
 */
describe('a task called bare', () => {
  let stop: () => Promise<void>;
  let site: ReturnType<typeof createSite>;
  before(async () => {
    const started = await startTarget('sshd');
    stop = started.stop;
    site = createSite({ target: started.target });
  });
  after(() => stop());

  it('deploy(done) runs one deployment: one connect, one summary, done called once after it', async () => {
    const { log, lines } = captureLogger('normal');
    const tasks = attache({ cwd: site.cwd, argv: ['node', 'gulp', 'deploy'], logger: log });
    let calls = 0;
    await new Promise<void>((resolve, reject) => {
      tasks.deploy((error?: Error) => {
        calls++;
        if (error) reject(error);
        else resolve();
      });
    });
    await new Promise((resolve) => setTimeout(resolve, 200)); // a second deployment would have started by now
    const log_ = lines.join('\n');
    assert.equal(calls, 1);
    assert.equal(lines.filter((line) => line === 'connect…').length, 1, log_);
    assert.equal(lines.filter((line) => line.startsWith('deploy summary')).length, 1, log_);
    assert.equal(lines.filter((line) => line === 'unlock…').length, 1, log_);
    assert.equal(site.releases().length, 1);
    assert.equal(site.liveId(), site.releases()[0]);
    assert.equal(tasks.report?.result, 'deployed');
  });
});
