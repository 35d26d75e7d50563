import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

/**
 * Throwaway OpenSSH servers on loopback for the integration tests: each with its own host key,
 * config, log and pid, stopped by pid when the test (or the process) ends. A test HOME holds the
 * client key, ~/.ssh/config and known_hosts that point at them, like a user's would.
 */
const SSHD = '/usr/sbin/sshd';
const started = new Set<number>();
process.on('exit', () => {
  for (const pid of started) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {}
  }
});

export interface TestHome {
  dir: string;
  sshDir: string;
  /** Client private key (~/.ssh/id_ed25519) and its public half. */
  key: string;
  publicKey: string;
  knownHosts: string;
  config: string;
}

export interface SshServer {
  name: string;
  port: number;
  /** The address it listens on: 127.0.0.1 unless `listen` said otherwise. */
  host: string;
  pid: number;
  dir: string;
  logFile: string;
  /** The host key's public line ("ssh-ed25519 AAAA…"). */
  hostKey: string;
  hostKeyFile: string;
  /** Stops the server by pid and waits for it to go. */
  stop(): Promise<void>;
}

export function requireSshd(): void {
  if (!existsSync(SSHD)) {
    throw new Error(
      `${SSHD} is missing: the integration tests need a real OpenSSH server. Install it with: apt-get install -y openssh-server`,
    );
  }
}

/** A fresh HOME with ~/.ssh/id_ed25519 and an empty known_hosts; sets process.env.HOME to it. */
export function createHome(options: { passphrase?: string; setEnv?: boolean } = {}): TestHome {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'attache-home-'));
  const sshDir = path.join(dir, '.ssh');
  mkdirSync(sshDir, { mode: 0o700 });
  const key = path.join(sshDir, 'id_ed25519');
  keygen(key, options.passphrase ?? '');
  const home: TestHome = {
    dir,
    sshDir,
    key,
    publicKey: readFileSync(`${key}.pub`, 'utf8').trim(),
    knownHosts: path.join(sshDir, 'known_hosts'),
    config: path.join(sshDir, 'config'),
  };
  writeFileSync(home.knownHosts, '');
  writeFileSync(home.config, '');
  if (options.setEnv !== false) {
    process.env.HOME = dir;
    delete process.env.SSH_AUTH_SOCK; // the developer's own agent must not stand in for the test key
  }
  return home;
}

export function keygen(file: string, passphrase = '', type = 'ed25519'): void {
  rmSync(file, { force: true });
  rmSync(`${file}.pub`, { force: true });
  execFileSync('ssh-keygen', ['-q', '-t', type, '-N', passphrase, '-C', 'attache-test', '-f', file], { stdio: 'ignore' });
}

export interface StartOptions {
  name?: string;
  /** Public keys allowed to log in (default: the home's key). */
  authorizedKeys?: string[];
  /** Extra sshd_config lines. */
  config?: string[];
  /** Variables every session gets (sshd takes only its first SetEnv line, so they join SHLVL's), e.g. a PATH. */
  setEnv?: Record<string, string>;
  /** The address to listen on (default 127.0.0.1), e.g. one of a network namespace's. */
  listen?: string;
  /** A command that runs sshd, put before it: `['ip', 'netns', 'exec', name]` starts it inside a namespace (it execs, so the pid is sshd's). */
  wrapper?: string[];
  /**
   * The umask sshd runs with, which every session (commands, SFTP) inherits: without PAM, sshd sets
   * none of its own, so this is what pam_umask with `UMASK 077` in /etc/login.defs gives a server.
   */
  umask?: number;
}

/** Starts `sshd -D` on a free loopback port and waits until it answers with its banner. */
export async function startSshd(home: TestHome, options: StartOptions = {}): Promise<SshServer> {
  requireSshd();
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  const dir = mkdtempSync(path.join(os.tmpdir(), 'attache-sshd-'));
  const hostKeyFile = path.join(dir, 'ssh_host_ed25519_key');
  keygen(hostKeyFile);
  const authorized = path.join(dir, 'authorized_keys');
  writeFileSync(authorized, (options.authorizedKeys ?? [home.publicKey]).join('\n') + '\n');
  // Readable by any account sshd logs in (ensureUser's deploy users), as ~/.ssh/authorized_keys is by its owner.
  chmodSync(dir, 0o711);
  chmodSync(authorized, 0o644);
  const port = await freePort();
  const host = options.listen ?? '127.0.0.1';
  const logFile = path.join(dir, 'sshd.log');
  const configFile = path.join(dir, 'sshd_config');
  writeFileSync(
    configFile,
    [
      `ListenAddress ${host}`,
      `Port ${port}`,
      `HostKey ${hostKeyFile}`,
      `PidFile ${path.join(dir, 'sshd.pid')}`,
      // The second file, in the user's home, is for deploy users other than root (test/support/users.ts):
      // sshd reads keys as the user, who cannot read this server's private directory.
      `AuthorizedKeysFile ${authorized} .ssh/authorized_keys`,
      `PasswordAuthentication no`,
      `KbdInteractiveAuthentication no`,
      `PermitRootLogin prohibit-password`,
      `StrictModes no`,
      `UsePAM no`,
      `LogLevel VERBOSE`,
      `MaxStartups 100`,
      `Subsystem sftp internal-sftp`,
      // bash run by sshd sources ~/.bashrc when SHLVL is unset; this machine's is slow (pyenv) and
      // would hide timing races behind ~140 ms per command. A server's clean shell is what we test.
      ['SetEnv SHLVL=1', ...Object.entries(options.setEnv ?? {}).map(([name, value]) => `${name}=${value}`)].join(' '),
      ...(options.config ?? []),
    ].join('\n') + '\n',
  );
  const command = [...(options.wrapper ?? []), SSHD, '-D', '-f', configFile, '-E', logFile];
  const child =
    options.umask === undefined
      ? spawn(command[0], command.slice(1), { stdio: 'ignore', detached: false })
      : // exec keeps the pid: stop() still ends sshd itself.
        spawn('/bin/sh', ['-c', `umask ${options.umask.toString(8).padStart(3, '0')} && exec "$0" "$@"`, ...command], {
          stdio: 'ignore',
          detached: false,
        });
  const pid = child.pid as number;
  started.add(pid);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.unref();
  await waitForBanner(host, port, logFile);
  const server: SshServer = {
    name: options.name ?? `sshd-${port}`,
    port,
    host,
    pid,
    dir,
    logFile,
    hostKey: readFileSync(`${hostKeyFile}.pub`, 'utf8').split(' ').slice(0, 2).join(' '),
    hostKeyFile,
    async stop() {
      if (!started.has(pid)) return;
      started.delete(pid);
      child.ref(); // unref'd while running so that a forgotten server never holds the test process open
      try {
        process.kill(pid, 'SIGTERM');
      } catch {}
      await exited;
    },
  };
  return server;
}

/**
 * A local account for a deploy user with the given login shell (sshd runs commands through it),
 * created once and reset on later calls: its shell, and a home with the given files (rc files).
 * The test sshd's AuthorizedKeysFile is a fixed path, so the test key logs it in too.
 */
export function ensureUser(name: string, shell: string, files: Record<string, string> = {}): string {
  if (!existsSync(shell)) throw new Error(`${shell} is missing: install it (apt-get install -y ${path.basename(shell)})`);
  const exists = spawnSync('id', ['-u', name], { stdio: 'ignore' }).status === 0;
  if (!exists) execFileSync('useradd', ['-m', name], { stdio: 'ignore' });
  // Password "*": no password login, but not locked ("!"), which sshd without PAM refuses even for keys.
  execFileSync('usermod', ['-s', shell, '-p', '*', name], { stdio: 'ignore' });
  const home = execFileSync('getent', ['passwd', name]).toString().trim().split(':')[5];
  for (const [file, contents] of Object.entries(files)) writeFileSync(path.join(home, file), contents);
  return home;
}

/** Writes `[host]:port <key>` into the home's known_hosts, as `ssh` would after "yes". */
export function trust(home: TestHome, server: SshServer): void {
  appendFileSync(home.knownHosts, `[${server.host}]:${server.port} ${server.hostKey}\n`);
}

/** Adds a Host block to ~/.ssh/config. */
export function addAlias(home: TestHome, alias: string, lines: Record<string, string | number>): void {
  const body = Object.entries(lines)
    .map(([k, v]) => `  ${k} ${v}`)
    .join('\n');
  appendFileSync(home.config, `Host ${alias}\n${body}\n`);
}

/** Accepted logins in the server's log: one per SSH handshake that authenticated. */
export function acceptedLogins(server: SshServer): number {
  return (readFileSync(server.logFile, 'utf8').match(/Accepted publickey/g) ?? []).length;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

async function waitForBanner(host: string, port: number, logFile: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect({ host, port });
      socket.once('data', (data) => {
        socket.destroy();
        resolve(data.toString().startsWith('SSH-'));
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  const log = existsSync(logFile) ? readFileSync(logFile, 'utf8') : '(no log)';
  throw new Error(`sshd on ${host} port ${port} did not start within 10 s. Its log:\n${log}`);
}
