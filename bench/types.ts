/**
 * The benchmark's vocabulary. A case is a named thing to time; the runner gives every case of a link
 * the same `BenchContext`: one throwaway sshd on loopback reached over that link, the test HOME whose
 * key/config/known_hosts reach it, the fixture, and fresh server roots.
 *
 * Timing contract (see run.ts): for every run the runner calls `setup()` (untimed), then `run()`
 * (timed, wall clock), then `verify()` and `teardown()` (untimed). Server roots made with
 * `ctx.freshServerRoot()` during a run are deleted by the runner after that run, so "a fresh server
 * root per run" is simply: make one in `setup()`.
 */

/**
 * The loopback sshd every case talks to, as reached over the case's link: `port` is the sshd's own
 * port on the direct loopback link, the WAN relay's port on the others (bench/wan/). The "server" is
 * this machine, so its paths are local paths too.
 */
export interface BenchServer {
  host: string;
  port: number;
  user: 'root';
  /** A Host alias in the test home's ~/.ssh/config (HostName, Port, User, IdentityFile, UserKnownHostsFile, StrictHostKeyChecking yes). */
  alias: string;
  /** `root@127.0.0.1:<port>` */
  spec: string;
  /** The server's host key line ("ssh-ed25519 AAAA…"), already in the home's known_hosts. */
  hostKey: string;
  /** sshd's log (LogLevel VERBOSE): one "Accepted publickey" per SSH login. */
  logFile: string;
}

/** The temp HOME made by support/sshd.ts createHome(); process.env.HOME points at it. */
export interface BenchHome {
  dir: string;
  sshDir: string;
  /** Client private key (~/.ssh/id_ed25519). */
  key: string;
  knownHosts: string;
  /** ~/.ssh/config (holds the `server.alias` block). */
  config: string;
}

/**
 * Command-line pieces for OpenSSH clients that reach the bench server with the home's key and
 * known_hosts (OpenSSH reads ~ from the passwd entry, not $HOME, so these are passed explicitly).
 */
export interface SshCommandLine {
  /** Options common to ssh and scp (no port): -F config -i key -o UserKnownHostsFile=… -o StrictHostKeyChecking=yes -o BatchMode=yes … */
  options: string[];
  /** `ssh` arguments up to and including the destination: [...options, '-p', port, 'root@127.0.0.1']. Append the command. */
  ssh: string[];
  /** `scp` options including the port: [...options, '-P', port]. Append sources and `root@127.0.0.1:<path>`. */
  scp: string[];
  /** The string for `rsync -e` / `--rsh`. */
  rsyncShell: string;
  /** `root@127.0.0.1` */
  destination: string;
}

export interface BenchFixture {
  dir: string;
  /** Branch deployed from both repositories. */
  branch: string;
  /** Bare repository of the Laravel-shaped app (the deploy repository). */
  appRepo: string;
  /** file:// URL of `appRepo` (a plain path would make `git clone --depth 1` a full local clone). */
  appRepoUrl: string;
  /** The app's working tree (with vendor/ from the `composer install` that made composer.lock). */
  appWorkTree: string;
  /** Local build output: `<buildDir>/public/js/*.js`, `public/css/*.css`, `public/images/**`. */
  buildDir: string;
  /** Asset paths relative to `buildDir` and to a release: public/js, public/css, public/images. */
  assetPaths: readonly string[];
  /** Every asset file relative to `buildDir`, sorted. */
  assetFiles: readonly string[];
  assetFileCount: number;
  assetBytes: number;
  /** Bare repository with a long history (for the clone-strategy measurement). */
  longHistoryRepo: string;
  longHistoryRepoUrl: string;
  longHistoryCommits: number;
  /** The app with ~100 Composer packages from a local path repository (bench/measurements/composer-vendor.ts). */
  vendorApp: {
    /** Bare repository (the app, its composer.json and composer.lock) and its file:// URL. */
    repo: string;
    repoUrl: string;
    /** The path repository's directory: one directory per package (this machine's, so the server's too). */
    packagesDir: string;
    packages: number;
    /** Files and bytes of all packages: what vendor/ holds besides what Composer writes. */
    files: number;
    bytes: number;
    /** A package's class and an autoloaded helper function: a release whose autoloader finds both is whole. */
    probe: { className: string; functionName: string };
  };
  /** Whether this run built the fixture or reused it (same parameters stamp). */
  reused: boolean;
}

export interface BenchContext {
  server: BenchServer;
  home: BenchHome;
  ssh: SshCommandLine;
  fixture: BenchFixture;
  /** bench/.work (scratch; git-ignored). */
  workDir: string;
  /** Timed runs per case on this link (loopback: BENCH_RUNS, default 5; WAN: BENCH_WAN_RUNS, default 3). */
  runs: number;
  /**
   * A new, empty deploy root on the server (absolute path; on this machine) holding only the shared
   * `.env`, as after Attaché's install step. Deleted by the runner when the current run is over.
   */
  freshServerRoot(): Promise<string>;
  /** SSH logins the server has accepted so far (the runner reports the per-run difference). */
  sshLogins(): number;
  /** Appends a line to the bench log (bench/.work/logs/bench.log), not to the console. */
  log(message: string): void;
}

export interface BenchCase {
  /** Row label in the table, e.g. "gulp-attache (redeploy, nothing changed)". */
  name: string;
  /** Untimed, before every run: make a fresh server root, do a first deploy for a redeploy case, … */
  setup?(): Promise<void>;
  /** Timed (wall clock). Throw to fail the case: its row then reads "n/a: <message>". */
  run(): Promise<void>;
  /** Untimed, after every run: check that the run did the job (throw if not). */
  verify?(): Promise<void>;
  /** Untimed, after verify. */
  teardown?(): Promise<void>;
  /** Payload bytes the last run sent over the wire, if the case knows (reported as a median). */
  bytesSent?(): number;
}
