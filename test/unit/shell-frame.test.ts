import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { PersistentShell, type ShellChannel } from '../../src/ssh/persistent-shell';
import { MarkerSplitter } from '../../src/ssh/shell-frame';
import { printfBytes } from '../../src/remote/quote';

/** Feeds `stream` to a splitter in pieces cut at `cuts`, expecting `markers` in order. */
function split(stream: string, markers: string[], cuts: number[]): { outputs: string[]; trailers: string[]; stray: string } {
  let stray = '';
  const splitter = new MarkerSplitter((chunk) => (stray += chunk.toString('latin1')));
  const outputs = markers.map(() => '');
  const trailers: string[] = [];
  markers.forEach((marker, i) =>
    splitter.expect(
      marker,
      (chunk) => (outputs[i] += chunk.toString('latin1')),
      (trailer) => trailers.push(trailer),
    ),
  );
  const bytes = Buffer.from(stream, 'latin1');
  let from = 0;
  for (const cut of [...cuts, bytes.length]) {
    splitter.push(bytes.subarray(from, cut));
    from = cut;
  }
  return { outputs, trailers, stray };
}

describe("the persistent shell's end markers", () => {
  const A = 'attache-end-aaaa';
  const B = 'attache-end-bbbb';
  const stream = `one\nattache-end-aaab attache-end-aa${A} 0\ntwo, no newline${B} 7\nlate`;

  it('cut at every byte boundary, the stream gives each command exactly its output and status', () => {
    for (let cut = 0; cut <= stream.length; cut++) {
      const got = split(stream, [A, B], [cut]);
      assert.deepEqual(got.outputs, ['one\nattache-end-aaab attache-end-aa', 'two, no newline'], `cut at ${cut}`);
      assert.deepEqual(got.trailers, [' 0', ' 7'], `cut at ${cut}`);
      assert.equal(got.stray, 'late', `cut at ${cut}`);
    }
  });

  it('fed one byte at a time, gives the same', () => {
    const got = split(
      stream,
      [A, B],
      Array.from({ length: stream.length }, (_, i) => i),
    );
    assert.deepEqual(got.outputs, ['one\nattache-end-aaab attache-end-aa', 'two, no newline']);
    assert.deepEqual(got.trailers, [' 0', ' 7']);
  });

  it('passes output on as it arrives, holding back only what could begin the marker', () => {
    const seen: string[] = [];
    const splitter = new MarkerSplitter();
    splitter.expect(
      A,
      (chunk) => seen.push(chunk.toString()),
      () => undefined,
    );
    splitter.push(Buffer.from('progress 10%\n'));
    splitter.push(Buffer.from('progress 20%\nattache-e'));
    assert.deepEqual(seen, ['progress 10%\n', 'progress 20%\n']);
    splitter.push(Buffer.from('ager\n'));
    assert.deepEqual(seen, ['progress 10%\n', 'progress 20%\n', 'attache-eager\n']);
  });

  it('printfBytes quotes any bytes: printable ASCII as it is, the rest (quote, backslash, %, NUL) as octal escapes', () => {
    assert.equal(
      printfBytes(Buffer.from([0, 0x27, 0xff, 0x41, 0x5c, 0x25, 0x0a, 0x37, 0x00, 0x30])).text,
      `'\\0\\47\\377A\\134\\45\\0127\\0000'`,
    );
  });

  it('printfBytes: what printf prints is the bytes, in dash, bash and zsh', () => {
    const bytes = Buffer.concat([
      Buffer.from(Array.from({ length: 256 }, (_, i) => i)),
      Buffer.from('%s %% \\n \\0 \'"$(x)` 0\u0000123\n7'),
      randomBytes(4096),
    ]);
    for (const shell of ['/bin/sh', 'bash', 'zsh'].filter((s) => spawnSync(s, ['-c', 'true']).status === 0)) {
      const printed = spawnSync(shell, ['-c', `printf ${printfBytes(bytes).text}`]);
      assert.equal(printed.status, 0, `${shell}: ${printed.stderr}`);
      assert.ok(printed.stdout.equals(bytes), `${shell} printed other bytes`);
    }
  });
});

describe('a persistent shell over a local /bin/sh (the same framing the SSH session uses)', () => {
  function localShell(): { shell: PersistentShell; kill(): void } {
    const child = spawn('/bin/sh', [], { stdio: ['pipe', 'pipe', 'pipe'] });
    const ended = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
      child.on('exit', (code, signal) => resolve({ code, signal })),
    );
    const channel: ShellChannel = { input: child.stdin, stdout: child.stdout, stderr: child.stderr, ended, close: () => child.kill() };
    return { shell: new PersistentShell(channel, 5000), kill: () => child.kill('SIGKILL') };
  }

  const collect = async (running: ReturnType<PersistentShell['run']>) => {
    let stdout = '';
    let stderr = '';
    running.stdout.on('data', (c: Buffer) => (stdout += c));
    running.stderr.on('data', (c: Buffer) => (stderr += c));
    const status = await running.exited;
    return { ...status, stdout, stderr };
  };

  it('runs commands one after another with exit codes, stdin and a syntax error that does not break the stream', async () => {
    const { shell } = localShell();
    try {
      await shell.ready;
      assert.deepEqual(await collect(shell.run('echo hi; exit 3', undefined)), { code: 3, signal: null, stdout: 'hi\n', stderr: '' });
      const broken = await collect(shell.run('echo )', undefined));
      assert.equal(broken.code, 2);
      assert.match(broken.stderr, /syntax error/i);
      assert.equal((await collect(shell.run('tr a-z A-Z', 'quiet\n'))).stdout, 'QUIET\n');
      assert.equal((await collect(shell.run('wc -c', Buffer.alloc(100_000, 0)))).stdout.trim(), '100000');
      assert.equal((await collect(shell.run('echo "$0 still"', undefined))).stdout, '/bin/sh still\n');
    } finally {
      shell.close();
    }
  });

  it('a shell killed mid-command fails that command at once, and every one after it', async () => {
    const { shell, kill } = localShell();
    const running = shell.run('echo started; sleep 1', undefined);
    await shell.ready;
    kill();
    await assert.rejects(running.exited, /the remote shell was killed by SIGKILL during the command/);
    assert.equal(shell.alive, false);
    await assert.rejects(shell.run('true', undefined).exited, /killed by SIGKILL/);
  });
});
