/** Overlap: the asset upload runs beside shared → composer → artisan; their sum against the wall time of that part. */
import { CASE } from '../cases/names';
import { fmt, median, type Section } from '../report';
import type { DeployOutcome } from '../user-project';
import { stepSeconds, timed, type MeasurementInput } from './common';

export function overlap(input: MeasurementInput): Section {
  const { ctx, observations } = input;
  const rows: string[][] = [];
  const data: Record<string, unknown> = {};
  const cases: Array<[string, DeployOutcome[]]> = [
    [CASE.full, timed(observations.full, ctx.runs)],
    [CASE.unchanged, timed(observations.unchanged, ctx.runs)],
    [CASE.oneAsset, timed(observations.oneAsset, ctx.runs)],
  ];
  for (const [name, runs] of cases) {
    const skipped = input.skipped(name);
    if (skipped) {
      rows.push([name, skipped, '', '', '', '', '']);
      data[name] = { skipped };
      continue;
    }
    const per = runs.map((o) => {
      const chain = ['shared', 'composer', 'artisan'].reduce((sum, s) => sum + stepSeconds(o, s), 0);
      const assets = stepSeconds(o, 'assets');
      const start = Math.min(o.steps.shared?.start ?? NaN, o.steps.assets?.start ?? NaN);
      const end = Math.max(o.steps.artisan?.end ?? NaN, o.steps.assets?.end ?? NaN);
      const wall = (end - start) / 1000;
      return { chain, assets, serial: chain + assets, wall, saved: chain + assets - wall, steps: o.report.servers[0]?.steps ?? {} };
    });
    const m = (key: 'chain' | 'assets' | 'serial' | 'wall' | 'saved') => median(per.map((p) => p[key]));
    rows.push([
      name,
      fmt(m('chain')),
      fmt(m('assets')),
      fmt(m('serial')),
      fmt(m('wall')),
      fmt(m('saved')),
      m('serial') > 0 ? `${((m('saved') / Math.min(m('chain'), m('assets'))) * 100).toFixed(0)}%` : 'n/a',
    ]);
    data[name] = per;
  }
  return {
    key: 'overlap',
    title: 'Overlap: the asset upload runs beside shared → composer → artisan',
    header: ['case', 'shared+composer+artisan s', 'assets s', 'sum s', 'wall of that part s', 'saved s', 'shorter branch hidden'],
    rows,
    notes: [
      `Medians of the timed loopback runs. Step times from the deploy's report (its summary, 0.1 s resolution, where the preset wrote no report).`,
      'wall of that part: from the arrival of the first of the "shared…"/"assets…" log lines to the last of "artisan done"/"assets done", read from the `gulp deploy` process\'s output as it came. saved = sum − wall; "shorter branch hidden" = saved / the shorter of the two branches (100% = fully overlapped).',
    ],
    data,
  };
}
