import assert from 'node:assert/strict';
import { appendFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../../src/log';
import { createFleet, type Fleet } from '../support/fleet';
import { startRelay, type Relay } from '../support/relay';
import { createHome, startSshd, trust, type SshServer, type TestHome } from '../../support/sshd';

/**
 * A fleet of three (one sshd, three roots) where web2 is reached through a relay that cuts its
 * connection in the middle of the deploy: no server is swapped, and every server, web2 included
 * (over a fresh connection), is left as it was; a plain deploy then succeeds everywhere.
 */
const NAMES = ['web1', 'web2', 'web3'];

describe("a fleet of 3 where one server's connection is cut mid-deploy", () => {
  let home: TestHome;
  let sshd: SshServer;
  let relay: Relay;
  let fleet: Fleet;
  let was: ReturnType<Fleet['state']>;
  let failure: { error: Error; lines: string[] };

  before(async () => {
    home = createHome();
    sshd = await startSshd(home);
    trust(home, sshd);
    relay = await startRelay(sshd.port);
    appendFileSync(home.knownHosts, `[127.0.0.1]:${relay.port} ${sshd.hostKey}\n`);
    fleet = createFleet({ servers: { web1: sshd, web2: sshd, web3: sshd } });
    fleet.configure({ web2: { port: relay.port } });
    await fleet.run('deploy', ['--server=all']);
    was = fleet.state();
    fleet.configure({ web2: { port: relay.port, scripts: { build: [], 'after-clone': ['sleep 3'] } } });
    const lines: string[] = [];
    let cut = false;
    const logger = createLogger({
      verbosity: 'normal',
      interactive: false,
      write: (line) => {
        lines.push(line);
        if (!cut && line.includes('[web2] after-clone: sleep 3')) {
          cut = true;
          setTimeout(() => relay.cut(), 300);
        }
      },
    });
    const { error } = await fleet.fail('deploy', ['--server=all'], { logger });
    failure = { error, lines };
    assert.ok(cut, lines.join('\n'));
  });
  after(async () => {
    await relay.close();
    await sshd.stop();
  });

  it('fails naming web2 and its lost connection', () => {
    assert.match(failure.error.message, /server "web2", step "after-clone"/, failure.error.message);
    assert.match(failure.error.message, /was lost/);
  });

  it('no server was swapped, and all three are as they were: no lock, no new release (web2 undone over a fresh connection)', () => {
    const log = failure.lines.join('\n');
    assert.match(log, /\[web2\] reconnected/, log);
    assert.doesNotMatch(log, /could not (remove|free|point|undo)/, log);
    assert.deepEqual(fleet.state(), was);
    for (const name of NAMES) assert.ok(!fleet.locked(name), `${name} is unlocked`);
  });

  it('a plain deploy then succeeds on every server', async () => {
    fleet.configure({ web2: { port: relay.port } });
    await fleet.run('deploy', ['--server=all']);
    const ids = NAMES.map((name) => fleet.liveId(name));
    assert.ok(ids[0] && !was.web1.releases.includes(ids[0]));
    assert.deepEqual(ids, [ids[0], ids[0], ids[0]], 'one release id, live everywhere');
  });
});
