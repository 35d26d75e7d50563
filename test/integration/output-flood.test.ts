import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { tempDir } from '../support/fixtures';
import { startGulpChild, type GulpChild } from '../support/gulp-child';
import { createSite, type Site } from '../support/preset';
import { createHome, startSshd, trust, type SshServer } from '../../support/sshd';

/**
 * A hook that floods its output, deployed through the real gulp CLI with the CLI's output in a pipe
 * (as in CI, or `| tee`): the deploying process's peak memory (VmHWM, read by the process itself as
 * it exits) stays under 300 MB, the deploy succeeds, and the log says what it left out.
 */

const MB = 1024 * 1024;
const PEAK_LIMIT = 300 * MB;
/** Past this, the child is killed at once: a flood buffered without limit fails the test quickly. */
const WATCHDOG = 1024 * MB;

/** A gulpfile exporting the preset's tasks that writes the process's peak resident memory (bytes) to $PEAK_FILE as it exits. */
const gulpfile = (cwd: string) =>
  [
    `const { readFileSync, writeFileSync } = require('node:fs');`,
    `process.on('exit', () => {`,
    `  const kb = /VmHWM:\\s*(\\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))[1];`,
    `  writeFileSync(process.env.PEAK_FILE, String(Number(kb) * 1024));`,
    `});`,
    `const { attache } = require(ATTACHE);`,
    `module.exports = attache({ cwd: ${JSON.stringify(cwd)} });`,
    `delete module.exports.steps;`,
  ].join('\n') + '\n';

function residentBytes(pid: number): number {
  try {
    const kb = /VmRSS:\s*(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb ? Number(kb) * 1024 : 0;
  } catch {
    return 0; // exited
  }
}

interface Flooded {
  run: GulpChild;
  exit: { code: number | null; signal: NodeJS.Signals | null };
  /** VmHWM as the process exited (bytes). */
  peak: number;
  out: string;
}

describe('a hook that floods its output, through the gulp CLI with its output in a pipe', () => {
  let sshd: SshServer;
  const children: GulpChild[] = [];

  before(async () => {
    const home = createHome();
    sshd = await startSshd(home);
    trust(home, sshd);
  });
  after(async () => {
    for (const child of children) if (child.child.exitCode === null && child.child.signalCode === null) child.child.kill('SIGKILL');
    await sshd.stop();
  });

  /**
   * Deploys with `hook` as after-clone through the gulp CLI. With `stallReaderUntil`, the test stops
   * reading the CLI's output until that file appears in the server's root (the hook has printed
   * everything): a reader that falls behind, as a slow CI log does.
   */
  async function deployWith(hook: string, options: { stallReaderUntil?: string } = {}): Promise<Flooded & { site: Site }> {
    const site = createSite({
      target: { host: '127.0.0.1', port: sshd.port, user: 'root' },
      server: { scripts: { build: [], 'after-clone': [hook] } },
    });
    const peakFile = path.join(tempDir('attache-peak-'), 'peak');
    const run = startGulpChild({
      cwd: site.cwd,
      gulpfile: gulpfile(site.cwd),
      env: { PEAK_FILE: peakFile },
      // The flood itself is not kept: only the lines that are not the hook's repeated output.
      keep: (line) => line.length < 20_000 && !line.includes('flood line'),
    });
    children.push(run);
    let watchdog = 0;
    const timer = setInterval(() => {
      watchdog = Math.max(watchdog, residentBytes(run.pid));
      if (watchdog > WATCHDOG) run.child.kill('SIGKILL');
    }, 100);
    if (options.stallReaderUntil) {
      run.child.stdout?.pause();
      const printed = path.join(site.root, options.stallReaderUntil);
      while (!existsSync(printed) && run.child.exitCode === null) await new Promise((r) => setTimeout(r, 100));
      run.child.stdout?.resume();
    }
    // A safety net, not a measure: a deploy that never ends fails the test instead of hanging it.
    const deadline = setTimeout(() => run.child.kill('SIGKILL'), 120_000);
    const exit = await run.exited;
    clearInterval(timer);
    clearTimeout(deadline);
    const out = run.lines.join('\n');
    assert.ok(watchdog <= WATCHDOG, `the process grew past ${WATCHDOG / MB} MB and was killed:\n${out}`);
    assert.ok(existsSync(peakFile), `the process died without exiting normally (${JSON.stringify(exit)}):\n${out}`);
    return { site, run, exit, peak: Number(readFileSync(peakFile, 'utf8')), out };
  }

  /** The two things every flood must leave true: the deploy went through, and the process stayed small. */
  function succeedsWithinMemory(flooded: () => Flooded & { site: Site }): void {
    it('the deploy succeeds and the release is live', () => {
      const result = flooded();
      assert.equal(result.exit.code, 0, result.out);
      const id = result.site.liveId();
      assert.ok(id && result.site.marker(id).status === 'ready', result.out);
    });

    it(`the process's peak memory stays under ${PEAK_LIMIT / MB} MB`, (t) => {
      const result = flooded();
      t.diagnostic(`peak resident memory (VmHWM): ${(result.peak / MB).toFixed(0)} MB`);
      assert.ok(result.peak < PEAK_LIMIT, `peak ${(result.peak / MB).toFixed(0)} MB`);
    });
  }

  describe('200 MB of lines, the pipe read slower than the hook prints', () => {
    let result: Flooded & { site: Site };
    before(async () => {
      // 200 MB of 100-byte lines, then one last line, then a mark for the test.
      const hook =
        `yes 'flood line: the same hundred bytes again and again, as a chatty tool prints them ..........' | head -c ${200 * MB}; ` +
        `echo 'the flood is over'; touch flood-printed`;
      result = await deployWith(hook, { stallReaderUntil: 'flood-printed' });
    });

    succeedsWithinMemory(() => result);

    it('the log says how many lines of the output it left out, and why', (t) => {
      const said = /\[production\] \.\.\. (\d+) lines? \(([\d.]+ [KMG]?B)\) of output not shown: the log could not keep up/.exec(
        result.out,
      );
      assert.ok(said, result.out);
      t.diagnostic(said[0]);
      assert.ok(Number(said[1]) > 0);
    });
  });

  describe('one 60 MB line without a newline', () => {
    let result: Flooded & { site: Site };
    before(async () => {
      const hook = `printf 'HEAD-'; head -c ${60 * MB} /dev/zero | tr '\\0' x; printf -- '-TAIL'`;
      result = await deployWith(hook);
    });

    succeedsWithinMemory(() => result);

    it('the line reaches the log with its head and its tail, saying how much of it was cut', (t) => {
      const line = result.run.lines.find((l) => l.includes('[production] HEAD-'));
      assert.ok(line, result.out);
      t.diagnostic(line.replace(/x{20,}/g, (x) => `x{${x.length}}`));
      assert.match(line, /\[production\] HEAD-x+ \.\.\. \[([\d.]+ MB) cut from this line\] \.\.\. x+-TAIL$/);
      assert.ok(line.length < 16 * 1024, `the line is ${line.length} characters long`);
    });
  });
});
