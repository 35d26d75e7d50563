import assert from 'node:assert/strict';
import childProcess from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it, mock } from 'node:test';
import { resolveServer } from '../../src/ssh/resolve';
import { tempDir } from '../support/fixtures';

/**
 * `Match exec` in an ssh config runs a local command: only from the user's own ~/.ssh/config, and
 * only when a task connects for real. The parser hands the command to a shell (spawnSync): counted here.
 */
describe('Match exec', () => {
  const config = 'Match exec "touch /tmp/attache-match-exec-ran"\n  Port 2299\n';

  function shellCalls(work: () => void): string[] {
    const spy = mock.method(childProcess, 'spawnSync', () => ({ status: 0, stderr: Buffer.alloc(0) }));
    try {
      work();
      return spy.mock.calls.map((call) => String(call.arguments[0]));
    } finally {
      spy.mock.restore();
    }
  }

  it('a file the project names (sshConfigFile) never runs its command; the block does not match', () => {
    const file = path.join(tempDir('attache-sshcfg-'), 'project-ssh-config');
    writeFileSync(file, config);
    let port = 0;
    assert.deepEqual(
      shellCalls(() => (port = resolveServer({ host: 'example.com', sshConfigFile: file }).port)),
      [],
    );
    assert.equal(port, 22);
  });

  it("the user's own ~/.ssh/config runs it when a task connects, and not when it only lists (matchExec: false)", () => {
    const home = tempDir('attache-sshhome-');
    mkdirSync(path.join(home, '.ssh'));
    writeFileSync(path.join(home, '.ssh/config'), config);
    const saved = process.env.HOME;
    process.env.HOME = home;
    try {
      assert.deepEqual(
        shellCalls(() => resolveServer({ host: 'example.com', matchExec: false })),
        [],
      );
      const calls = shellCalls(() => assert.equal(resolveServer({ host: 'example.com' }).port, 2299));
      assert.equal(calls.length, 1);
      assert.match(calls[0], /touch \/tmp\/attache-match-exec-ran/);
    } finally {
      process.env.HOME = saved;
    }
  });
});
