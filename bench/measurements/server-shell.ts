/**
 * The server's shell: what one remote command costs on the bench sshd, and on one without its
 * setting (why the bench sshd gets `SetEnv SHLVL=1`).
 */
import { readFileSync, rmSync } from 'node:fs';
import { createLogger } from '../../src/log';
import { openSession } from '../../src/ssh/session';
import { startSshd, trust, type TestHome } from '../../support/sshd';
import { fmt, median, type Section } from '../report';
import { failureNotes, retrying, type MeasurementInput } from './common';

async function commandLatency(port: number, count = 12): Promise<number> {
  const log = createLogger({ verbosity: 'quiet', interactive: false, write: () => undefined });
  const session = await openSession({ host: '127.0.0.1', port, user: 'root' }, log);
  try {
    const times: number[] = [];
    for (let i = 0; i < count; i++) {
      const t0 = performance.now();
      await session.exec('true');
      times.push(performance.now() - t0);
    }
    return median(times.slice(2));
  } finally {
    await session.close();
  }
}

export async function shellCost(input: MeasurementInput): Promise<Section> {
  const { ctx } = input;
  const home: TestHome = { ...ctx.home, publicKey: readFileSync(`${ctx.home.key}.pub`, 'utf8').trim() };
  const plain = await startSshd(home, { name: 'bench-plain' });
  trust(home, plain);
  const failures: string[] = [];
  try {
    const configured = await retrying('command latency (bench sshd)', failures, input, () => commandLatency(ctx.server.port));
    const unchanged = await retrying('command latency (plain sshd)', failures, input, () => commandLatency(plain.port));
    const setting = input.sshdConfig.length ? input.sshdConfig.join('; ') : '(none)';
    return {
      key: 'serverShell',
      title: 'One remote command (`true` on an open connection) on the bench sshd',
      header: ['sshd', 'ms per command (median)'],
      rows: [
        [`the bench sshd (extra sshd_config: ${setting})`, fmt(configured, 1)],
        ['the same sshd without extra settings', fmt(unchanged, 1)],
      ],
      notes: [
        "sshd runs every command through the user's shell; bash sources ~/.bashrc when started by sshd. This machine's /root/.bashrc runs `pyenv init -` and `pyenv virtualenv-init -` (~100–200 ms per command), which a deploy user's non-interactive shell normally skips.",
        'So the bench sshd gets `SetEnv SHLVL=1` (bash then acts as a nested shell and skips ~/.bashrc) unless BENCH_SERVER_BASHRC=1. It applies to every case alike: the floors, both peers and gulp-attache talk to the same server.',
        ...failureNotes(failures),
      ],
      data: { settings: input.sshdConfig, configuredMs: configured, withoutSettingsMs: unchanged },
    };
  } finally {
    await plain.stop();
    rmSync(plain.dir, { recursive: true, force: true });
  }
}
