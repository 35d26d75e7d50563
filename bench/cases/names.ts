/**
 * Every case's name, once: the runner, the tables, the measurements and the targets all refer to a
 * case by these constants, so a renamed row cannot leave a target reading "n/a".
 */
export const CASE = {
  sshTrue: 'floor: ssh true (handshake + 1 command)',
  scpFloor: 'floor: scp -r',
  rsyncFloor: 'floor: rsync -a',
  attache: 'attache method (full deploy)',
  shipit: 'shipit-deploy (full deploy)',
  startup: 'gulp-attache: gulp --tasks (start-up, no server)',
  full: 'gulp-attache: full first deploy',
  unchanged: 'gulp-attache: redeploy, nothing changed',
  oneAsset: 'gulp-attache: redeploy, one asset changed',
  onePhpFile: 'gulp-attache: redeploy, one PHP file changed',
  upload: 'gulp-attache: upload step alone',
  uploadStreaming: 'gulp-attache: upload step alone (buffer: false)',
  // "strategy": "artifact": the release tree built here and sent (the rows above are the default, clone).
  artifactFull: 'gulp-attache artifact: full first deploy',
  artifactOnePhpFile: 'gulp-attache artifact: redeploy, one PHP file changed',
} as const;

export type CaseName = (typeof CASE)[keyof typeof CASE];

/**
 * The extra measurements that take time of their own (bench/measurements/), by the names BENCH_CASES
 * can pick them with: none of these shares a word with a case's name, so a substring that picks cases
 * picks no measurement ("fleet" picks both fleet measurements, "rollout" the rollout alone, "uplink"
 * the fleet behind one shared uplink, "max sessions" the hardened sshds).
 */
export const MEASUREMENT = {
  shell: 'measurement: shell cost',
  transfer: 'measurement: transfer warm-up',
  memory: 'measurement: peak memory',
  clone: 'measurement: clone mirror',
  fleet: 'measurement: fleet sizes',
  rollout: 'measurement: fleet rollout',
  uplink: 'measurement: shared uplink',
  vendor: 'measurement: composer vendor reuse',
  maxSessions: 'measurement: max sessions',
} as const;

export type MeasurementName = (typeof MEASUREMENT)[keyof typeof MEASUREMENT];
