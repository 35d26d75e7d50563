import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { finished } from 'node:stream/promises';
import { after, before, describe, it } from 'node:test';
import Vinyl from 'vinyl';
import { exec } from '../../src/plugins/exec';
import { upload } from '../../src/plugins/upload';
import { sh } from '../../src/remote/quote';
import { tempDir } from '../support/fixtures';
import { captureLogger } from '../support/log';
import { createHome, startSshd, trust, type SshServer } from '../../support/sshd';
import { fromFiles } from '../support/streams';

/**
 * A pipeline that ends in a plugin, with nothing reading what it passes on (a script's
 * `src.pipe(upload(…))`, not run by gulp, which drains a task's stream itself): the plugin's output
 * flows anyway, so more files than a stream buffers (16) get through and the flush runs.
 */
describe('a plugin at the end of a pipeline nobody reads', () => {
  let server: SshServer;
  before(async () => {
    const home = createHome();
    server = await startSshd(home);
    trust(home, server);
  });
  after(() => server.stop());

  const web1 = () => ({ host: '127.0.0.1', port: server.port, user: 'root', name: 'web1' });
  const files = (count: number) =>
    Array.from(
      { length: count },
      (_, i) => new Vinyl({ cwd: '/', base: '/src', path: `/src/f${i}.txt`, contents: Buffer.from(`file ${i}\n`) }),
    );

  it('upload of 60 files finishes and every file arrives', { timeout: 30_000 }, async () => {
    const dest = path.join(tempDir('attache-drain-'), 'out');
    const stream = fromFiles(files(60)).pipe(upload({ server: web1(), dest, logger: captureLogger('quiet').log }));
    await finished(stream);
    assert.equal(readdirSync(dest).length, 60);
  });

  it('exec after 60 files runs its command at the end', { timeout: 30_000 }, async () => {
    const marker = path.join(tempDir('attache-drain-'), 'ran');
    const stream = fromFiles(files(60)).pipe(exec(sh`touch ${marker}`, { server: web1(), logger: captureLogger('quiet').log }));
    await finished(stream);
    assert.ok(existsSync(marker));
  });
});
