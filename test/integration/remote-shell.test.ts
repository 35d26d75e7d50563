import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, statSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { AttacheError, RemoteCommandError } from '../../src/errors';
import type { Logger } from '../../src/log';
import { sh } from '../../src/remote/quote';
import { channelCount, openSession, type SshSession } from '../../src/ssh/session';
import { captureLogger } from '../support/log';
import { startRelay } from '../support/relay';
import { createHome, ensureUser, startSshd, trust, type SshServer, type TestHome } from '../../support/sshd';
import { tempDir } from '../support/fixtures';
import { createSite, type TargetSpec } from '../support/preset';

/**
 * Commands over persistent shells (src/ssh/persistent-shell.ts, shell-pool.ts) against a real
 * sshd: one `exec /bin/sh` channel carries command after command, each framed with its own nonce.
 */

const LOST = (port: number) => new RegExp(`connection to 127\\.0\\.0\\.1:${port} was lost`);

describe('commands over one persistent shell per server', () => {
  let home: TestHome;
  let server: SshServer;
  let session: SshSession;
  let lines: string[];

  before(async () => {
    home = createHome();
    server = await startSshd(home, { name: 'shell' });
    trust(home, server);
    const captured = captureLogger();
    lines = captured.lines;
    session = await open(server.port, captured.log, 'web1');
  });
  after(async () => {
    await session.close();
    await server.stop();
  });

  it('runs command after command over one channel, each with its exit code; `exit 3` yields 3 and the shell goes on', async () => {
    // The session warms three shells and opens SFTP beside them: all up before counting, so no late one is counted.
    await Promise.all([session.exec('true'), session.exec('true'), session.exec('true'), session.lstat('/')]);
    const channels = channelCount();
    assert.equal((await session.exec('exit 3', { check: false })).code, 3);
    assert.equal((await session.exec('false', { check: false })).code, 1);
    assert.equal((await session.exec('sh -c "exit 200"', { check: false })).code, 200);
    assert.equal((await session.exec('echo still here')).stdout, 'still here\n');
    await assert.rejects(session.exec('exit 4'), (error: unknown) => error instanceof RemoteCommandError && error.context.exitCode === 4);
    assert.equal(channelCount() - channels, 0, 'no new channel for any of these commands');
  });

  it('keeps stderr apart from stdout, logs both, and shows stderr in the error tail', async () => {
    const ok = await session.exec('echo out; echo warn >&2; echo out2');
    assert.equal(ok.stdout, 'out\nout2\n');
    assert.equal(ok.stderr, 'warn\n');
    assert.ok(lines.includes('[web1] warn'));
    await assert.rejects(session.exec('echo working; echo "disk is full" >&2; exit 5', { step: 'composer' }), (error: unknown) => {
      assert.ok(error instanceof RemoteCommandError);
      assert.match(error.message, /server "web1", step "composer": command exited with code 5/);
      assert.match(error.message, /command: echo working; echo "disk is full" >&2; exit 5/);
      assert.match(String(error.context.output), /disk is full/);
      return true;
    });
  });

  it('output that looks like the framing (end-marker text, a fake status line, half a marker) is just output', async () => {
    const fake = 'attache-end-0123456789abcdef0123456789abcdef';
    const script = sh`printf '%s 0\n' ${fake}; printf '%s\n' ${fake} >&2; printf 'attache-end-'; printf 'attache-en' >&2`;
    const result = await session.exec(script);
    assert.equal(result.stdout, `${fake} 0\nattache-end-`);
    assert.equal(result.stderr, `${fake}\nattache-en`);
    assert.equal((await session.exec('echo next')).stdout, 'next\n');
  });

  it('passes several MB of output whole and in order, then the next command runs normally', async () => {
    await assert.rejects(session.exec('seq 1 1000000; exit 9', { output: 'none' }), (error: unknown) => {
      assert.ok(error instanceof RemoteCommandError);
      assert.equal(error.context.exitCode, 9);
      assert.match(String(error.context.output), /999999\n1000000$/);
      return true;
    });
    const big = await session.exec('seq 1 300000', { output: 'none' });
    const expected = Array.from({ length: 300000 }, (_, i) => `${i + 1}\n`).join('');
    assert.equal(big.stdout.length, expected.length);
    assert.equal(big.stdout, expected);
    assert.equal((await session.exec('echo after')).stdout, 'after\n');
  });

  it('gives a command exactly its stdin and then EOF, text or binary; a command without stdin reads EOF; the next command still runs', async () => {
    const text = "line one\nit's $(not run) `nor this`\n\ttabs and 'quotes'\nno newline at the end";
    assert.equal((await session.exec('cat', { stdin: text })).stdout, text);
    const bytes = Buffer.from([0, 1, 2, 0x27, 0x25, 0x5c, 0x0a, 0xff, 0xfe, 0, 0x80]);
    const dump = await session.exec('od -An -v -tx1 | tr -s " \\n" " "', { stdin: bytes });
    assert.equal(dump.stdout.trim(), [...bytes].map((b) => b.toString(16).padStart(2, '0')).join(' '));
    assert.equal((await session.exec('cat; echo "[eof]"')).stdout, '[eof]\n', "no stdin: EOF at once, not the shell's own input");
    assert.equal((await session.exec('read first; echo "got $first"', { stdin: 'a\nb\nc\n' })).stdout, 'got a\n');
    assert.equal((await session.exec('echo next')).stdout, 'next\n');
  });

  it("the session's first command goes in its shell's command line (answered with the channel's opening), with its stdin and exit status; that shell then serves the next commands", async () => {
    // ssh2's own debug lines, asked of the real client: the exec requests it sent.
    const { Client } = await import('ssh2');
    const connect = Client.prototype.connect;
    const heard: string[] = [];
    Client.prototype.connect = function (this: InstanceType<typeof Client>, config: Parameters<typeof connect>[0]) {
      return connect.call(this, { ...config, debug: (line: string) => heard.push(line) });
    };
    let fresh: SshSession | undefined;
    try {
      fresh = await open(server.port, captureLogger('quiet').log, 'first');
      const first = await fresh.exec('read word; echo "got $word, it\'s here"; exit 3', { stdin: 'hello\n', check: false });
      assert.deepEqual([first.code, first.stdout], [3, "got hello, it's here\n"]);
      const execs = heard.filter((line) => /CHANNEL_REQUEST \(r:\d+, exec: /.test(line));
      assert.equal(
        execs.filter((line) => /exec: exec \/bin\/sh -c [\s\S]*read word/.test(line)).length,
        1,
        `the first command rode in one exec request:\n${execs.join('\n')}`,
      );
      const later = await Promise.all(Array.from({ length: 6 }, (_, i) => fresh!.exec(`echo ${i}`)));
      assert.deepEqual(
        later.map((r) => r.stdout),
        ['0\n', '1\n', '2\n', '3\n', '4\n', '5\n'],
      );
      assert.ok(!heard.some((line) => /exec: [\s\S]*echo [0-5]/.test(line)), 'later commands go to the shells, never in a command line');
    } finally {
      Client.prototype.connect = connect;
      await fresh?.close();
    }
  });

  it('a streamed input starts on the standby channel opened with the connection (no channel opened for it), whole, whatever its command holds; the next one gets a channel of its own', async () => {
    const fresh = await open(server.port, captureLogger('quiet').log, 'standby');
    try {
      await Promise.all([fresh.exec('true'), fresh.exec('true'), fresh.exec('true'), fresh.lstat('/')]);
      const channels = channelCount();
      const data = Buffer.from(Array.from({ length: 3 * 1024 * 1024 }, (_, i) => (i * 7 + (i >> 9)) & 0xff));
      // A command of several lines with quotes, `%`, backslashes and non-ASCII: it reaches the standby's shell as it is.
      const command = "n=$(wc -c | tr -d ' ')\nprintf '%s\\\\n' \"got $n bytes, 100% 'é'\"\nexit 3";
      const result = await fresh.exec(command, { stdin: Readable.from([data]), check: false });
      assert.equal(result.code, 3);
      assert.equal(result.stdout, `got ${data.length} bytes, 100% 'é'\\n`);
      assert.equal(channelCount() - channels, 0, 'the standby carried it');
      const hashed = await fresh.exec('sha256sum | cut -c1-64', { stdin: Readable.from([data]) });
      assert.equal(hashed.stdout.trim(), createHash('sha256').update(data).digest('hex'), 'the next streamed input arrives whole too');
      assert.equal(channelCount() - channels, 1, 'on a channel of its own');
    } finally {
      await fresh.close();
    }
  });

  it('a failing command in the middle of a `sh -e -s` script stops it', async () => {
    const dir = tempDir('attache-shell-');
    const script = [sh`echo one > ${dir}/one`, 'false', sh`echo two > ${dir}/two`].join('\n') + '\n';
    await assert.rejects(session.exec('sh -e -s', { stdin: script, step: 'assets' }), (error: unknown) => {
      assert.ok(error instanceof RemoteCommandError);
      assert.equal(error.context.exitCode, 1);
      return true;
    });
    const after = await session.exec(sh`ls ${dir}`);
    assert.equal(after.stdout, 'one\n');
  });

  it('cwd, cd, variables, set -e and traps stay inside their command', async () => {
    const dir = tempDir('attache-cwd-');
    assert.equal((await session.exec('pwd', { cwd: dir })).stdout, `${dir}\n`);
    const home = (await session.exec('pwd')).stdout;
    const umask = (await session.exec('umask')).stdout;
    await session.exec(sh`cd ${dir}; X=1; export Y=2; set -e; trap 'echo trapped' EXIT; umask 077`);
    // biome-ignore lint/suspicious/noTemplateCurlyInString: shell parameter expansions, not a template
    const next = await session.exec('pwd; echo "[${X-}][${Y-}]"; umask; false; echo "went on"', { check: false });
    assert.equal(next.stdout, `${home}[][]\n${umask}went on\n`);
  });

  it('runs several commands at once on one session, on up to 4 shells side by side, each with its own output', async () => {
    const dir = tempDir('attache-barrier-');
    // Each of four waits until all four have started: they can only all finish if they ran at once.
    const barrier = (i: number) =>
      sh`touch ${`${dir}/${i}`}; n=0; while [ "$(ls ${dir} | wc -l)" -lt 4 ]; do n=$((n+1)); [ $n -gt 200 ] && exit 1; sleep 0.05; done; echo ${`done ${i}`}`;
    const results = await Promise.all([1, 2, 3, 4].map((i) => session.exec(barrier(i))));
    assert.deepEqual(
      results.map((r) => r.stdout),
      ['done 1\n', 'done 2\n', 'done 3\n', 'done 4\n'],
    );
    const channels = channelCount();
    const many = await Promise.all(Array.from({ length: 12 }, (_, i) => session.exec(`echo ${i}; echo err${i} >&2`)));
    many.forEach((r, i) => {
      assert.equal(r.stdout, `${i}\n`);
      assert.equal(r.stderr, `err${i}\n`);
    });
    assert.equal(channelCount() - channels, 0, 'twelve commands at once wait for the four shells there are');
  });

  it('a shell killed mid-command (kill -9 of the shell) is reported as a lost connection at once; the next command gets a new shell', async () => {
    const started = Date.now();
    await assert.rejects(session.exec('echo started; kill -9 $$; sleep 30', { step: 'migrate' }), (error: unknown) => {
      assert.ok(error instanceof AttacheError);
      assert.match(error.message, LOST(server.port));
      assert.match(error.message, /step "migrate"/);
      assert.doesNotMatch(error.message, /exited with code/);
      return true;
    });
    assert.ok(Date.now() - started < 20_000, 'reported when the shell died, not when its orphaned job ended');
    assert.equal((await session.exec('echo again')).stdout, 'again\n');
  });

  it('a connection cut mid-command (the relay drops it) is reported as a lost connection, even with check: false', async () => {
    const relay = await startRelay(server.port);
    trust(home, { ...server, port: relay.port });
    const cut = await open(relay.port, captureLogger('quiet').log);
    try {
      assert.equal((await cut.exec('echo before')).stdout, 'before\n');
      const running = cut.exec('sleep 20', { check: false, step: 'composer' });
      setTimeout(() => relay.cut(), 300);
      await assert.rejects(running, (error: unknown) => {
        assert.ok(error instanceof AttacheError);
        assert.match(error.message, LOST(relay.port));
        assert.match(error.message, /step "composer"/);
        return true;
      });
      await assert.rejects(cut.exec('true'), LOST(relay.port));
    } finally {
      await cut.close();
      await relay.close();
    }
  });

  it('a server that allows only 2 sessions per connection (SFTP and one shell) still runs commands given at once, in turn', async () => {
    const tight = await startSshd(home, { name: 'tight', config: ['MaxSessions 2'] });
    trust(home, tight);
    const target = await open(tight.port, captureLogger('quiet').log);
    try {
      const results = await Promise.all(Array.from({ length: 5 }, (_, i) => target.exec(`echo ${i}`)));
      assert.deepEqual(
        results.map((r) => r.stdout),
        ['0\n', '1\n', '2\n', '3\n', '4\n'],
      );
      assert.equal(await target.readlink('/nonexistent-link'), null, 'SFTP still works beside the shell');
    } finally {
      await target.close();
      await tight.stop();
    }
  });
});

describe('commands over persistent shells on a fleet of three servers at once', () => {
  let home: TestHome;
  const servers: SshServer[] = [];
  const sessions: SshSession[] = [];

  before(async () => {
    home = createHome();
    for (const name of ['web1', 'web2', 'web3']) {
      const server = await startSshd(home, { name });
      trust(home, server);
      servers.push(server);
      sessions.push(await open(server.port, captureLogger('quiet').log, name));
    }
  });
  after(async () => {
    await Promise.all(sessions.map((s) => s.close()));
    await Promise.all(servers.map((s) => s.stop()));
  });

  it("each server's steps run at once (a script on stdin beside a long command), every output returned to its own command", async () => {
    const dirs = sessions.map(() => tempDir('attache-fleet-shell-'));
    const work = sessions.flatMap((session, s) => [
      session.exec('sh -e -s', { stdin: sh`cd ${dirs[s]}` + '\nfor i in 1 2 3; do echo "$i" > "f$i"; done\nls\n' }),
      session.exec(sh`sleep 0.2; echo ${session.name}; echo ${`${session.name} err`} >&2`),
      session.exec('seq 1 20000', { output: 'none' }),
    ]);
    const results = await Promise.all(work);
    sessions.forEach((session, s) => {
      const [script, named, counted] = results.slice(s * 3, s * 3 + 3);
      assert.equal(script.stdout, 'f1\nf2\nf3\n');
      assert.equal(named.stdout, `${session.name}\n`);
      assert.equal(named.stderr, `${session.name} err\n`);
      assert.equal(counted.stdout.split('\n').length, 20001);
    });
  });
});

describe("the deploy user's login shell only starts /bin/sh, which parses every command", () => {
  let home: TestHome;
  let server: SshServer;

  before(async () => {
    home = createHome();
    server = await startSshd(home, { name: 'shells' });
    trust(home, server);
  });
  after(() => server.stop());

  // Lines only POSIX sh answers this way: zsh does not split $x and fails on a glob with no match.
  const POSIX = 'x="a b"; set -- $x; echo "$#"; echo /no-such-dir/*';

  for (const [shell, rc] of [
    ['/usr/bin/zsh', { '.zshenv': 'echo "zshenv says hello"\necho "zshenv warns" >&2\nexport FROM_RC=zshenv\n' }],
    ['/usr/bin/dash', {}],
  ] as const) {
    it(`with ${shell} as login shell: POSIX semantics, exit codes, stdin, cwd; nothing the rc files print`, async () => {
      const user = `rshell-${shell.split('/').pop()}`;
      ensureUser(user, shell, rc);
      const session = await openSession({ host: '127.0.0.1', port: server.port, user }, captureLogger('quiet').log);
      try {
        const posix = await session.exec(POSIX);
        assert.equal(posix.stdout, '2\n/no-such-dir/*\n');
        assert.equal(posix.stderr, '');
        if (Object.keys(rc).length)
          assert.equal(
            (await session.exec('echo "$FROM_RC"')).stdout,
            'zshenv\n',
            'the rc file ran (its environment is kept), its output was dropped',
          );
        assert.equal((await session.exec('echo $0; exit 3', { check: false })).code, 3);
        assert.equal((await session.exec('sh -e -s', { stdin: 'echo one\nfalse\necho two\n', check: false })).stdout, 'one\n');
        assert.equal((await session.exec('pwd', { cwd: '/tmp' })).stdout, '/tmp\n');
        assert.equal((await session.exec('id -un')).stdout, `${user}\n`);
      } finally {
        await session.close();
      }
    });
  }

  it('the preset deploys the example app as a deploy user whose login shell is zsh (with a noisy .zshenv), hooks in POSIX sh', async () => {
    const user = 'rshell-deployer';
    ensureUser(user, '/usr/bin/zsh', { '.zshenv': 'echo "zshenv says hello"\necho "zshenv warns" >&2\n' });
    const site = createSite({
      target: { host: '127.0.0.1', port: server.port, user } as unknown as TargetSpec,
      server: {
        scripts: { build: [], 'after-clone': ['x="a b"; set -- $x; [ "$#" -eq 2 ] && echo "split into $#"; echo /no-such-dir/*'] },
      },
    });
    // The deploy user reads the repository and owns the root, as on a real server.
    for (const dir of [path.dirname(site.repo.bare), path.dirname(site.root)]) chmodSync(dir, 0o755);
    execFileSync('chown', ['-R', user, site.repo.bare, path.dirname(site.root)]);
    const { lines } = await site.run('deploy');
    const id = site.liveId();
    assert.ok(id, lines.join('\n'));
    assert.equal(statSync(site.release(id)).uid, Number(execFileSync('id', ['-u', user]).toString()));
    assert.ok(
      lines.some((line) => line.endsWith('split into 2')),
      lines.join('\n'),
    );
    assert.ok(
      lines.some((line) => line.endsWith('/no-such-dir/*')),
      lines.join('\n'),
    );
    assert.ok(!lines.some((line) => /zshenv/.test(line)), lines.join('\n'));
  });

  it('a user whose login shell refuses to run anything: the command fails saying the shell did not start, and why', async () => {
    ensureUser('rshell-nologin', '/usr/sbin/nologin');
    const session = await openSession({ host: '127.0.0.1', port: server.port, user: 'rshell-nologin' }, captureLogger('quiet').log);
    try {
      await assert.rejects(session.exec('true'), (error: unknown) => {
        assert.ok(error instanceof AttacheError);
        assert.match(
          error.message,
          /the remote shell \(exec \/bin\/sh\) did not start: it exited with code 1, saying "This account is currently not available\."/,
        );
        assert.match(error.message, /login shell of "rshell-nologin"/);
        return true;
      });
    } finally {
      await session.close();
    }
  });
});

describe('a login shell that never starts /bin/sh', () => {
  it('(its rc file hangs) fails the command after the connect timeout, saying the shell did not answer', async () => {
    const home = createHome();
    const server = await startSshd(home, { name: 'stuck' });
    trust(home, server);
    ensureUser('rshell-stuck', '/usr/bin/zsh', { '.zshenv': 'sleep 20\n' });
    const session = await openSession(
      { host: '127.0.0.1', port: server.port, user: 'rshell-stuck', connectTimeout: 1 },
      captureLogger('quiet').log,
    );
    try {
      await assert.rejects(session.exec('true', { step: 'lock' }), (error: unknown) => {
        assert.ok(error instanceof AttacheError);
        assert.match(error.message, /step "lock": the remote shell did not answer within 1 s/);
        assert.match(error.message, /login shell of "rshell-stuck"/);
        return true;
      });
    } finally {
      await session.close();
      await server.stop();
    }
  });
});

function open(port: number, log: Logger, name?: string): Promise<SshSession> {
  return openSession({ host: '127.0.0.1', port, user: 'root', name }, log);
}
