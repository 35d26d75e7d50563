import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import {
  authorizedKeyLine,
  fetchCommand,
  grantScript,
  keyPairScript,
  revokeScript,
  stageCommand,
  sweepScript,
} from '../../src/remote/fanout';

/** The fan-out's command lines (src/remote/fanout.ts): what they say, and the authorized_keys edits run by /bin/sh in a scratch HOME. */

const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGl0LWlzLW5vdC1hLXJlYWwta2V5LWp1c3QtYS10ZXN0';
const COMMENT = 'attache-fanout-20260102030405-artifact-0a1b2c3d';

describe('the fan-out commands', () => {
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'attache-fanout-unit-'));
  after(() => rmSync(scratch, { recursive: true, force: true }));
  let homes = 0;
  /** A HOME with ~/.ssh/authorized_keys holding `text` (mode 0644, as some servers keep it). */
  const homeWith = (text: string) => {
    const home = path.join(scratch, `home-${++homes}`);
    mkdirSync(path.join(home, '.ssh'), { recursive: true });
    writeFileSync(path.join(home, '.ssh/authorized_keys'), text);
    chmodSync(path.join(home, '.ssh/authorized_keys'), 0o644);
    return home;
  };
  const run = (home: string, script: string) =>
    execFileSync('/bin/sh', ['-e', '-s'], { input: script + '\n', env: { ...process.env, HOME: home } });
  const keys = (home: string) => readFileSync(path.join(home, '.ssh/authorized_keys'), 'utf8');

  it('the key line lets one key run `cat` of one file, from the given addresses, without a pty or forwarding', () => {
    const line = authorizedKeyLine({
      file: '/srv/my app/.attache-fanout-x/bytes.tar',
      from: ['10.0.0.2'],
      publicKey: `${KEY} root@web2\n`,
      comment: COMMENT,
    });
    assert.equal(line, `restrict,command="cat -- '/srv/my app/.attache-fanout-x/bytes.tar'",from="10.0.0.2" ${KEY} ${COMMENT}`);
  });

  it('the key line refuses what would change its meaning: a quote in the path, an odd address, another kind of key', () => {
    const ok = { file: '/srv/app/x.tar', from: ['10.0.0.2'], publicKey: KEY, comment: COMMENT };
    assert.throws(() => authorizedKeyLine({ ...ok, file: '/srv/a"b/x.tar' }), /double quote/);
    assert.throws(() => authorizedKeyLine({ ...ok, file: '/srv/a\nb/x.tar' }), /line break/);
    assert.throws(() => authorizedKeyLine({ ...ok, from: ['10.0.0.2",no-restrict'] }), /from=/);
    assert.throws(() => authorizedKeyLine({ ...ok, from: [] }), /at least one/);
    assert.throws(() => authorizedKeyLine({ ...ok, publicKey: 'ssh-rsa AAAAB3Nza' }), /ed25519/);
    assert.throws(() => authorizedKeyLine({ ...ok, comment: 'a b' }), /comment/);
  });

  it('the grant appends the line on a line of its own, even after a last line without a line break', () => {
    const home = homeWith('ssh-ed25519 AAAAother admin@laptop');
    run(home, grantScript(`restrict ${KEY} ${COMMENT}`));
    assert.equal(keys(home), `ssh-ed25519 AAAAother admin@laptop\nrestrict ${KEY} ${COMMENT}\n`);
  });

  it('the grant makes ~/.ssh and the file when the user has none, private to the user', () => {
    const home = path.join(scratch, `home-${++homes}`);
    mkdirSync(home);
    run(home, grantScript(`restrict ${KEY} ${COMMENT}`));
    assert.equal(keys(home), `restrict ${KEY} ${COMMENT}\n`);
    assert.equal(statSync(path.join(home, '.ssh/authorized_keys')).mode & 0o777, 0o600);
  });

  it('the removal takes out exactly the lines with this comment, keeps every other line (added meanwhile too) and the mode, and leaves no temporary file', () => {
    const home = homeWith(
      [
        'ssh-ed25519 AAAAfirst admin@laptop',
        `restrict,command="cat -- /a" ${KEY} ${COMMENT}`,
        `restrict,command="cat -- /b" ${KEY} ${COMMENT}-2`, // another deploy's: its comment only starts the same
        `# a note mentioning ${COMMENT}`,
        `restrict,command="cat -- /c" ${KEY} ${COMMENT}`,
        'ssh-ed25519 AAAAadded-meanwhile ci@runner',
        '',
      ].join('\n'),
    );
    run(home, revokeScript(COMMENT));
    assert.equal(
      keys(home),
      [
        'ssh-ed25519 AAAAfirst admin@laptop',
        `restrict,command="cat -- /b" ${KEY} ${COMMENT}-2`,
        `# a note mentioning ${COMMENT}`,
        'ssh-ed25519 AAAAadded-meanwhile ci@runner',
        '',
      ].join('\n'),
    );
    assert.equal(statSync(path.join(home, '.ssh/authorized_keys')).mode & 0o777, 0o644);
    assert.deepEqual(readdirSync(path.join(home, '.ssh')), ['authorized_keys']);
  });

  it('the removal changes nothing, and succeeds, when no line of ours is there or there is no file', () => {
    const home = homeWith('ssh-ed25519 AAAAfirst admin@laptop\n');
    const before = statSync(path.join(home, '.ssh/authorized_keys'));
    run(home, revokeScript(COMMENT));
    assert.equal(keys(home), 'ssh-ed25519 AAAAfirst admin@laptop\n');
    assert.equal(statSync(path.join(home, '.ssh/authorized_keys')).ino, before.ino, 'not rewritten');
    const empty = path.join(scratch, `home-${++homes}`);
    mkdirSync(empty);
    run(empty, revokeScript(COMMENT));
  });

  it("the sweep after a dead deploy removes this root's fan-out directories and the lines serving them, and nothing of another root's", () => {
    for (const root of [path.join(scratch, `root-${++homes}`), path.join(scratch, `my app root ${++homes}`)]) {
      const other = `${root}-other`;
      const line = (dir: string, token: string) =>
        authorizedKeyLine({
          file: `${dir}/.attache-fanout-${token}/bytes.tar`,
          from: ['10.0.0.2'],
          publicKey: KEY,
          comment: `attache-fanout-${token}`,
        });
      const home = homeWith(['ssh-ed25519 AAAAfirst admin@laptop', line(root, 't1'), line(other, 't2'), line(root, 't3'), ''].join('\n'));
      for (const dir of [root, other]) mkdirSync(path.join(dir, '.attache-fanout-t1'), { recursive: true });
      writeFileSync(path.join(root, 'keep'), '');
      run(home, sweepScript(`${root}/.attache-fanout-`));
      assert.equal(keys(home), ['ssh-ed25519 AAAAfirst admin@laptop', line(other, 't2'), ''].join('\n'));
      assert.deepEqual(readdirSync(root), ['keep']);
      assert.deepEqual(readdirSync(other), ['.attache-fanout-t1'], "another root's stays");
    }
  });

  it("the receiver's ssh uses only its one-time key and the pinned host key, never asks, and reads no config of the server's user", () => {
    const command = fetchCommand('/srv/my app/.attache-fanout-x', { host: '10.0.0.1', port: 2222, user: 'deploy' }, 20);
    assert.match(command, /^\(cd -- '\/srv\/my app\/\.attache-fanout-x' && exec ssh -n -T -F \/dev\/null /);
    for (const option of [
      'BatchMode=yes',
      'StrictHostKeyChecking=yes',
      'UserKnownHostsFile=./known_hosts',
      'GlobalKnownHostsFile=/dev/null',
      'HostKeyAlias=attache-seed',
      'IdentitiesOnly=yes',
      'IdentityFile=./key',
      'IdentityAgent=none',
      'ConnectTimeout=20',
    ])
      assert.ok(command.includes(` -o ${option} `), `${option} in ${command}`);
    assert.match(command, / -p 2222 -l deploy -- 10\.0\.0\.1\)$/);
  });

  it('the key pair is made in a private directory, the seed pinned under its alias, the private key never printed', () => {
    const script = keyPairScript('/srv/app/.attache-fanout-x', 'ssh-ed25519 AAAAhost', COMMENT);
    assert.match(script, /^umask 077\nmkdir -m 700 -- \/srv\/app\/\.attache-fanout-x\n/);
    assert.match(script, /ssh-keygen -q -t ed25519 -N '' -C attache-fanout-\S+ -f \/srv\/app\/\.attache-fanout-x\/key/);
    assert.match(script, /printf '%s\\n' 'attache-seed ssh-ed25519 AAAAhost' > \/srv\/app\/\.attache-fanout-x\/known_hosts/);
    assert.match(script, /cat -- \/srv\/app\/\.attache-fanout-x\/key\.pub$/);
    // Only the key's type and body reach known_hosts: nothing after them can add a line of its own.
    const pinned = keyPairScript('/x', 'ssh-ed25519 AAAAhost\n@cert-authority * ssh-rsa AAAAother', COMMENT);
    assert.match(pinned, /'attache-seed ssh-ed25519 AAAAhost' >/);
    assert.doesNotMatch(pinned, /cert-authority/);
    assert.throws(() => keyPairScript('/x', "ssh-ed25519 AAAA'$(reboot)'", COMMENT), /not a host key/);
  });

  it("the seed's tar holds exactly the names it is given, from the upload's directory, in a private directory", () => {
    const from = path.join(scratch, 'release');
    mkdirSync(path.join(from, 'public/js'), { recursive: true });
    writeFileSync(path.join(from, 'public/js/app.js'), 'app');
    writeFileSync(path.join(from, 'public/js/other.js'), 'not asked for');
    writeFileSync(path.join(from, '-a name with spaces.txt'), 'odd');
    const dir = path.join(scratch, '.attache-fanout-t');
    execFileSync('/bin/sh', ['-c', stageCommand(dir, from)], { input: 'public/js/app.js\0-a name with spaces.txt\0' });
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    const listed = execFileSync('tar', ['-t', '-f', path.join(dir, 'bytes.tar')], { encoding: 'utf8' });
    assert.deepEqual(listed.trim().split('\n').sort(), ['-a name with spaces.txt', 'public/js/app.js']);
  });
});
