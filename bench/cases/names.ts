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
  upload: 'gulp-attache: upload step alone',
  uploadStreaming: 'gulp-attache: upload step alone (buffer: false)',
} as const;

export type CaseName = (typeof CASE)[keyof typeof CASE];
