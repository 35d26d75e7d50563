/**
 * Where the artifact strategy's deploys spend their time (loopback): the package step (the tree
 * built here: export, composer install, assets copied, hashing; then the server's PHP checked) and
 * the artifact step (hard links from the live release, the rest sent), with what was sent and reused.
 */
import { CASE } from '../cases/names';
import { fmt, median, type Section } from '../report';
import type { DeployOutcome } from '../user-project';
import { stepSeconds, timed, type MeasurementInput } from './common';

export function artifactStrategy(input: MeasurementInput): Section {
  const { ctx, observations } = input;
  const rows: string[][] = [];
  const data: Record<string, unknown> = {};
  const cases: Array<[string, DeployOutcome[]]> = [
    [CASE.artifactFull, timed(observations.artifactFull, ctx.runs)],
    [CASE.artifactOnePhpFile, timed(observations.artifactOnePhpFile, ctx.runs)],
  ];
  for (const [name, runs] of cases) {
    const skipped = input.skipped(name);
    if (skipped) {
      rows.push([name, skipped, '', '', '', '', '']);
      data[name] = { skipped };
      continue;
    }
    const per = runs.map((o) => {
      const row = o.report.servers[0];
      // The report times a step's per-server part; the package step's build runs before it, once
      // for all servers, so its wall time comes from its "package…" and "package done in" lines.
      const pack = o.steps.package;
      return {
        deploy: o.seconds,
        package: pack ? (pack.end - pack.start) / 1000 : NaN,
        artifact: stepSeconds(o, 'artifact'),
        sentBytes: row?.sent.bytes ?? NaN,
        reusedBytes: row?.reused.bytes ?? NaN,
        sentFiles: row?.sent.files ?? NaN,
      };
    });
    const m = (key: keyof (typeof per)[number]) => median(per.map((p) => p[key]));
    const share = m('sentBytes') / (m('sentBytes') + m('reusedBytes'));
    rows.push([
      name,
      fmt(m('deploy')),
      fmt(m('package')),
      fmt(m('artifact')),
      String(m('sentFiles')),
      fmt(m('sentBytes') / 1024, 1),
      Number.isFinite(share) ? `${(share * 100).toFixed(3)}%` : 'n/a',
    ]);
    data[name] = per;
  }
  return {
    key: 'artifactStrategy',
    title: 'The artifact strategy: where its deploys spend their time (loopback)',
    header: ['case', 'deploy s', 'package s (build here)', 'artifact s (send)', 'files sent', 'KiB sent', 'sent ÷ tree'],
    rows,
    notes: [
      'Medians of the timed loopback runs. deploy: the whole `gulp deploy` process. package: from its "package…" line to "package done in", as they arrived (the local build, once for all servers, and the server\'s PHP check). artifact: the step\'s time from the report (mkdir, the hard-link script, the tar batches, the listing).',
      'sent ÷ tree: bytes sent over the bytes of the whole tree (sent + hard-linked from the live release).',
    ],
    data,
  };
}
