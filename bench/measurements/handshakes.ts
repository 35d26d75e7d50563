/** SSH logins per run (loopback): the bench sshd's "Accepted publickey" lines during each timed run of every case. */
import { CASE } from '../cases/names';
import { median, type Section } from '../report';
import { timed, type MeasurementInput } from './common';

export function handshakes(input: MeasurementInput): Section {
  const { ctx, observations, results } = input;
  const rows: string[][] = [];
  const data: Record<string, unknown> = {};
  const of = (name: string) => results.find((r) => r.name === name);
  // handshakeCount() is only known for what runs in this process: the upload cases. The deploys are `gulp deploy` processes.
  const inProcess: Partial<Record<string, number[]>> = {
    [CASE.upload]: timed(observations.upload, ctx.runs).map((o) => o.handshakes),
    [CASE.uploadStreaming]: timed(observations.uploadStreaming, ctx.runs).map((o) => o.handshakes),
  };
  const order = [
    CASE.full,
    CASE.unchanged,
    CASE.oneAsset,
    CASE.onePhpFile,
    CASE.artifactFull,
    CASE.artifactOnePhpFile,
    CASE.upload,
    CASE.uploadStreaming,
    CASE.attache,
    CASE.shipit,
  ];
  const entries = order.map((name) => [name, inProcess[name]] as const);
  for (const [name, inProcess] of entries) {
    const skipped = input.skipped(name);
    if (skipped) {
      rows.push([name, skipped, '', '']);
      data[name] = { skipped };
      continue;
    }
    const r = of(name);
    const logins = r && !r.error ? r.sshLogins : [];
    const range = (v: number[]) => (v.length ? `${Math.min(...v)}–${Math.max(...v)}` : 'n/a');
    rows.push([
      name,
      logins.length ? String(median(logins)) : 'n/a',
      range(logins),
      inProcess ? (inProcess.length ? range(inProcess) : 'n/a') : '(other process)',
    ]);
    data[name] = { sshdAcceptedPerRun: logins, handshakeCountPerRun: inProcess ?? null };
  }
  return {
    key: 'handshakes',
    title: 'SSH logins per run',
    header: ['case', 'sshd logins (median)', 'sshd logins (min–max)', 'handshakeCount() (min–max)'],
    rows,
    notes: [
      'sshd logins: "Accepted publickey" lines the bench sshd logged during each timed run (LogLevel VERBOSE).',
      'handshakeCount(): SSH handshakes the upload plugin made in the bench process during the run (src/ssh/session.ts); every other case is a process of its own.',
    ],
    data,
  };
}
