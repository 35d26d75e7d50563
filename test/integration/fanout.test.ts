import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { appendFileSync, chmodSync, existsSync, lstatSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { DeployReport } from '../../src/release/lifecycle/report';
import { createHome, startSshd, type SshServer, type TestHome } from '../../support/sshd';
import { tempDir } from '../support/fixtures';
import { createFleet, stopWithSessions, type Fleet } from '../support/fleet';
import { startGulpChild } from '../support/gulp-child';
import { startRelay, type Relay } from '../support/relay';
import { sha256, waitFor } from '../support/streams';
import { createDeployUser, userDirectory, type DeployUser } from '../support/users';

/**
 * The fan-out on three real sshd servers on loopback, each with `peerAddress` 127.0.0.1:<its sshd
 * port>, each reached from here through a TCP relay that counts the bytes we send it. The first
 * server (web1) is the seed: the release's bytes go to it once, and web2 and web3 take them from it
 * with their own ssh. Every deploy goes to fresh roots, so that every byte of the release must travel.
 *
 * The seed's sshd puts a `cat` of the test's first on the PATH: as the fan-out's forced command
 * runs `cat -- <the tar>`, the test can alter what a receiver reads, or hold it, at exactly that
 * moment (a control file says which), with no timing involved.
 */

const NAMES = ['web1', 'web2', 'web3'];
const PAYLOAD = 2 * 1024 * 1024;
const MARK = 'FANOUT-ORIGINAL';

describe('fan-out: a release sent once to a fleet, passed on by its servers', () => {
  let home: TestHome;
  let user: DeployUser;
  let fleet: Fleet;
  let control: string;
  const sshds: Record<string, SshServer> = {};
  const relays: Record<string, Relay> = {};
  let deploys = 0;
  let roots: Record<string, string> = {};

  before(async () => {
    home = createHome();
    user = createDeployUser(home, `attache-fo${process.pid}`, '/bin/sh');
    control = tempDir('attache-fanout-control-');
    chmodSync(control, 0o777);
    const bin = tempDir('attache-fanout-bin-');
    chmodSync(bin, 0o755);
    writeFileSync(
      path.join(bin, 'cat'),
      [
        '#!/bin/sh',
        'case "$2" in',
        '  */.attache-fanout-*/bytes.tar)',
        `    mode=$(/bin/cat ${control}/mode 2>/dev/null)`,
        `    if [ "$mode" = tamper ]; then /bin/cat "$@" | LC_ALL=C sed 's/${MARK}/FANOUT-TAMPERED/'; exit 0; fi`,
        `    if [ "$mode" = hold ]; then : > ${control}/held; while [ ! -f ${control}/go ]; do sleep 0.1; done; exit 1; fi`,
        '    ;;',
        'esac',
        'exec /bin/cat "$@"',
      ].join('\n') + '\n',
      { mode: 0o755 },
    );
    for (const name of NAMES) {
      sshds[name] = await startSshd(home, { name, ...(name === 'web1' && { setEnv: { PATH: `${bin}:/usr/local/bin:/usr/bin:/bin` } }) });
      relays[name] = await startRelay(sshds[name].port);
      appendFileSync(home.knownHosts, `[127.0.0.1]:${relays[name].port} ${sshds[name].hostKey}\n`);
    }
    fleet = createFleet({ servers: sshds });
    // The deploy user clones the test's repository: let it read it, and let its git trust it.
    chmodSync(path.dirname(fleet.repo.bare), 0o755);
    writeFileSync(path.join(user.home, '.gitconfig'), '[safe]\n\tdirectory = *\n');
    // Bytes enough to tell one copy from three: random, so that no compression hides them.
    writeFileSync(path.join(fleet.cwd, 'public/js/fanout-payload.bin'), randomBytes(PAYLOAD));
    writeFileSync(path.join(fleet.cwd, 'public/js/fanout.txt'), `${MARK}\n`);
  });
  after(async () => {
    await Promise.all(Object.values(relays).map((relay) => relay.close()));
    await Promise.all(Object.values(sshds).map((sshd) => stopWithSessions(sshd)));
    user?.remove();
  });

  /** Writes the config for a deploy to fresh roots; `peer` gives each server its peerAddress (or none). */
  const configure = (strategy: 'clone' | 'artifact', peer: Record<string, string | undefined>, extra: Record<string, object> = {}) => {
    deploys++;
    roots = Object.fromEntries(NAMES.map((name) => [name, path.join(userDirectory(user, 'sites', `${deploys}-${name}`), 'root')]));
    fleet.configure(
      Object.fromEntries(
        NAMES.map((name) => [
          name,
          {
            port: relays[name].port,
            user: user.name,
            root: roots[name],
            strategy,
            skip: ['composer', 'artisan'],
            restart: [],
            ...(peer[name] !== undefined && { peerAddress: peer[name] }),
            ...extra[name],
          },
        ]),
      ),
    );
  };
  const peers = (): Record<string, string> => Object.fromEntries(NAMES.map((name) => [name, `127.0.0.1:${sshds[name].port}`]));
  const sentTo = () => Object.fromEntries(NAMES.map((name) => [name, relays[name].bytesUp]));
  const since = (before: Record<string, number>) => Object.fromEntries(NAMES.map((name) => [name, relays[name].bytesUp - before[name]]));
  const liveRelease = (name: string) => path.join(roots[name], readlinkSync(path.join(roots[name], 'live')));
  const reportFile = () => path.join(fleet.scratch, `report-${deploys}.json`);
  const deploy = async () => {
    const file = reportFile();
    const { lines } = await fleet.run('deploy', ['--server=all', `--report=${file}`]);
    return { lines, report: JSON.parse(readFileSync(file, 'utf8')) as DeployReport };
  };

  /** Nothing of the fan-out is left: no key line of ours, no fan-out directory in any root; the test's own key still there. */
  const assertNothingLeft = () => {
    const keys = readFileSync(path.join(user.home, '.ssh/authorized_keys'), 'utf8');
    assert.doesNotMatch(keys, /attache-fanout/, `the one-time key lines are gone:\n${keys}`);
    assert.ok(keys.includes(home.publicKey), 'the other lines of authorized_keys are kept');
    for (const name of NAMES) {
      const left = existsSync(roots[name]) ? readdirSync(roots[name]).filter((entry) => entry.startsWith('.attache-fanout')) : [];
      assert.deepEqual(left, [], `${name}: no fan-out directory (key pair, tar) is left in its root`);
    }
  };

  for (const strategy of ['artifact', 'clone'] as const) {
    describe(`the ${strategy} strategy`, () => {
      const direct: Record<string, Map<string, string>> = {};
      const directBytes: Record<string, number> = {};

      before(async () => {
        configure(strategy, {});
        const before = sentTo();
        await deploy();
        Object.assign(directBytes, since(before));
        for (const name of NAMES) direct[name] = tree(liveRelease(name));
      });

      it('sends the bytes from here once, to the seed; the others take them from it, and every release is the direct deploy’s, byte for byte', async () => {
        configure(strategy, peers());
        const before = sentTo();
        const { lines, report } = await deploy();
        const sent = since(before);
        const log = lines.join('\n');
        for (const name of NAMES)
          assert.ok(directBytes[name] > PAYLOAD, `a direct deploy sends ${name} the payload (${directBytes[name]} bytes)`);
        assert.ok(sent.web1 > PAYLOAD, `the seed got the payload from here: ${JSON.stringify(sent)}`);
        for (const name of ['web2', 'web3']) {
          assert.ok(
            sent[name] < PAYLOAD / 4,
            `${name} got next to nothing from here (${sent[name]} bytes, direct: ${directBytes[name]}):\n${log}`,
          );
          const row = report.servers.find((s) => s.server === name);
          assert.equal(row?.sent.bytes, 0, `${name} was sent nothing from here: ${JSON.stringify(row)}`);
          assert.equal(row?.fetched?.from, 'web1', JSON.stringify(row));
          assert.ok((row?.fetched?.bytes ?? 0) > PAYLOAD, JSON.stringify(row));
          assert.match(
            log,
            new RegExp(`\\[${name}\\] ${strategy === 'clone' ? 'assets' : 'artifact'}: \\d+ file\\(s\\), .* taken from web1 and checked`),
          );
        }
        assert.ok((report.servers.find((s) => s.server === 'web1')?.sent.bytes ?? 0) > PAYLOAD);
        assert.equal(report.result, 'deployed');
        for (const name of NAMES) assert.deepEqual(tree(liveRelease(name)), direct[name], `${name}'s release is the direct deploy's`);
        assertNothingLeft();
      });
    });
  }

  it('works one server at a time (--parallel=1): the seed starts first, and waits for nobody', async () => {
    configure('clone', peers());
    const file = reportFile();
    await fleet.run('deploy', ['--server=all', '--parallel=1', `--report=${file}`]);
    const report = JSON.parse(readFileSync(file, 'utf8')) as DeployReport;
    assert.deepEqual(
      report.servers.map((s) => s.fetched?.from ?? '-'),
      ['-', 'web1', 'web1'],
    );
    assertNothingLeft();
  });

  it('--dry-run says which server would get the bytes and which would take them from it, and changes nothing', async () => {
    configure('artifact', peers());
    const { lines } = await fleet.run('deploy', ['--server=all', '--dry-run']);
    assert.ok(
      lines.includes('[dry run] artifact: would send the bytes to web1 only; web2, web3 would take them from it (fan-out)'),
      lines.join('\n'),
    );
    for (const name of NAMES) assert.equal(existsSync(path.join(roots[name], 'releases')), false, `${name} is untouched`);
    assertNothingLeft();
  });

  it('removes the key lines, key pairs and tar when the deploy fails after them (a failing before-live hook)', async () => {
    configure('artifact', peers(), { web3: { scripts: { 'before-live': ['exit 3'] } } });
    const { error, lines } = await fleet.fail('deploy', ['--server=all']);
    assert.match(error.message, /before-live/, lines.join('\n'));
    assert.match(lines.join('\n'), /taken from web1 and checked/, 'the fan-out took place before the failure');
    assertNothingLeft();
  });

  /** A deploy started in a gulp child that is held while a receiver reads the seed's tar: `then` gets the child; the seed's cat is let go after it. */
  async function whileAReceiverReads(then: (child: ReturnType<typeof startGulpChild>) => Promise<void>): Promise<void> {
    configure('artifact', peers());
    writeFileSync(path.join(control, 'mode'), 'hold');
    rmSync(path.join(control, 'held'), { force: true });
    rmSync(path.join(control, 'go'), { force: true });
    try {
      const child = startGulpChild({ cwd: fleet.cwd, via: 'script', flags: ['--server=all'] });
      await waitFor(() => existsSync(path.join(control, 'held')), 'a receiver reads the seed’s tar', 120_000);
      const keys = readFileSync(path.join(user.home, '.ssh/authorized_keys'), 'utf8');
      assert.match(
        keys,
        /^restrict,command="cat -- .*\/\.attache-fanout-[^"]*\/bytes\.tar",from="127\.0\.0\.1" ssh-ed25519 \S+ attache-fanout-\S+$/m,
      );
      await then(child);
    } finally {
      writeFileSync(path.join(control, 'go'), '');
      writeFileSync(path.join(control, 'mode'), '');
    }
  }

  it('removes them on Ctrl-C in the middle of the fan-out, while a receiver reads the seed’s tar', async () => {
    await whileAReceiverReads(async (child) => {
      child.signal('SIGINT');
      await child.waitForLine(/SIGINT: stopping the deploy/);
      writeFileSync(path.join(control, 'go'), '');
      const exit = await child.exited;
      const out = child.lines.join('\n');
      assert.equal(exit.code, 130, out);
      // The undo removed them (the step never ended, so it could not).
      assert.match(out, /\[web1\] undone: remove the fan-out's key lines from ~\/\.ssh\/authorized_keys and \S+\/\.attache-fanout-/, out);
      for (const name of ['web2', 'web3'])
        assert.match(out, new RegExp(`\\[${name}\\] undone: remove \\S+/\\.attache-fanout-\\S+ \\(the fan-out's one-time key\\)`), out);
      assert.doesNotMatch(out, /sent from here/, 'no fallback once the deploy is stopped');
      assertNothingLeft();
    });
  });

  it('a deploy killed in the middle of the fan-out (SIGKILL): the next deploy takes its locks over and removes its key lines and directories', async () => {
    await whileAReceiverReads(async (child) => {
      child.signal('SIGKILL');
      await child.exited;
    });
    const { lines } = await fleet.run('deploy', ['--server=all']);
    assert.match(lines.join('\n'), /\[web1\] took over the stale lock/, lines.join('\n'));
    assertNothingLeft();
  });

  it('a server that cannot reach the seed gets the bytes from here, and the log says so once', async () => {
    // web3's address as the seed sees it is not the one it connects from: the seed's sshd refuses its key.
    configure('artifact', { ...peers(), web3: `127.0.0.2:${sshds.web3.port}` });
    const before = sentTo();
    const { lines, report } = await deploy();
    const sent = since(before);
    const log = lines.join('\n');
    const told = lines.filter((line) => line.includes('could not take the bytes'));
    assert.equal(told.length, 1, log);
    // ssh's own first error line, as it said it.
    assert.match(
      told[0],
      /^\[web3\] artifact: could not take the bytes from the seed web1 \(127\.0\.0\.1:\d+\), so they are sent from here: \S+@127\.0\.0\.1: Permission denied \(publickey\)\.$/,
      told[0],
    );
    assert.ok(sent.web3 > PAYLOAD, `web3 got the payload from here (${sent.web3} bytes)`);
    assert.ok(sent.web2 < PAYLOAD / 4, `web2 still took it from the seed (${sent.web2} bytes from here)`);
    assert.equal(report.servers.find((s) => s.server === 'web3')?.fetched, undefined);
    assert.equal(report.result, 'deployed');
    assertNothingLeft();
  });

  it('a byte altered on the seed is caught by the receiving server’s check, which names the file', async () => {
    configure('artifact', peers());
    writeFileSync(path.join(control, 'mode'), 'tamper');
    try {
      const { error, lines } = await fleet.fail('deploy', ['--server=all']);
      for (const name of ['web2', 'web3'])
        assert.match(
          error.message,
          new RegExp(
            `server "${name}", step "artifact".*: what the seed web1 passed on is not what was sent to it: .*do not match .*public/js/fanout\\.txt: FAILED`,
          ),
          `${error.message}\n${lines.join('\n')}`,
        );
      for (const name of NAMES) assert.equal(existsSync(path.join(roots[name], 'live')), false, `${name} has no live release`);
      assertNothingLeft();
    } finally {
      writeFileSync(path.join(control, 'mode'), '');
    }
  });
});

/** Every entry of a release but its marker (its id and time differ): files by hash and mode, links by target. */
function tree(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (relative: string) => {
    for (const name of readdirSync(path.join(dir, relative)).sort()) {
      const entry = relative ? `${relative}/${name}` : name;
      if (entry === '.attache-release.json') continue;
      const full = path.join(dir, entry);
      const st = lstatSync(full);
      if (st.isSymbolicLink()) out.set(entry, `-> ${readlinkSync(full)}`);
      else if (st.isDirectory()) {
        out.set(entry, 'dir');
        walk(entry);
      } else out.set(entry, `${sha256(readFileSync(full))} ${(st.mode & 0o7777).toString(8)}`);
    }
  };
  walk('');
  return out;
}
