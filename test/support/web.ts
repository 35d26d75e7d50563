import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { tempDir } from './fixtures';
import { freePort } from '../../support/sshd';

/**
 * A real nginx + php-fpm on loopback serving `root/live/public`, for the zero-downtime tests:
 * everything (configs, sockets, pids, logs, temp files) lives in one temp dir, and both are
 * stopped by pid. The server block is example/nginx/site.conf, the config docs/production.md recommends.
 */
const NGINX = '/usr/sbin/nginx';
const SITE_CONF = path.resolve(__dirname, '../../example/nginx/site.conf');
const INSTALL = 'apt-get install -y nginx-light php-fpm';
const isRoot = process.getuid?.() === 0;

const running = new Set<number>();
process.on('exit', () => {
  for (const pid of running) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {}
  }
});

export interface WebServer {
  url: string;
  port: number;
  nginxPid: number;
  fpmPid: number;
  /** The temp dir with the configs and logs (nginx-error.log, php-fpm.log); stop() removes it. */
  dir: string;
  /** php-fpm's address as `"opcache": { "fpm": … }` names it: its unix socket, or 127.0.0.1:<port> with fpmTcp. */
  socket: string;
  /** Both logs, for a failing assertion's message. */
  logs(): string;
  stop(): Promise<void>;
}

/** Debian names it after the PHP version (/usr/sbin/php-fpm8.2); take the newest. */
export function findPhpFpm(): string | undefined {
  const names = readdirSync('/usr/sbin').filter((name) => /^php-fpm\d+\.\d+$/.test(name));
  names.sort((a, b) => b.localeCompare(a, 'en', { numeric: true }));
  return names.length > 0 ? path.join('/usr/sbin', names[0]) : undefined;
}

export interface WebOptions {
  root: string;
  /** The pool's user and group (default: php-fpm's own, root in the tests); e.g. www-data. */
  fpmUser?: string;
  fpmGroup?: string;
  /** OPcache on, never revalidating by timestamp: a cached script stays until OPcache is reset. */
  opcacheNoRevalidate?: boolean;
  /** Pass the symlinked path ($document_root) to PHP instead of site.conf's $realpath_root: the wrong way. */
  symlinkedPath?: boolean;
  /** php-fpm listens on 127.0.0.1:<free port> instead of a unix socket. */
  fpmTcp?: boolean;
  /** nginx's workers' user (default root in the tests), e.g. www-data: then it must be able to read the static files too. */
  nginxUser?: string;
}

export async function startWeb(options: WebOptions): Promise<WebServer> {
  const fpm = findPhpFpm();
  if (!existsSync(NGINX) || !fpm) {
    throw new Error(
      `nginx (${NGINX}) or php-fpm (/usr/sbin/php-fpm<version>) is missing: the zero-downtime tests need both. Install them with: ${INSTALL}`,
    );
  }
  const dir = tempDir('attache-web-');
  // Another user's workers pass through to the socket and their temp dirs (nginx makes those theirs).
  if (options.nginxUser) chmodSync(dir, 0o711);
  const port = await freePort();
  const socket = options.fpmTcp ? `127.0.0.1:${await freePort()}` : path.join(dir, 'php-fpm.sock');

  writeFileSync(
    path.join(dir, 'php-fpm.conf'),
    [
      '[global]',
      `pid = ${path.join(dir, 'php-fpm.pid')}`,
      `error_log = ${path.join(dir, 'php-fpm.log')}`,
      'daemonize = no',
      '[app]',
      `listen = ${socket}`,
      'pm = static',
      'pm.max_children = 4',
      ...(options.fpmUser ? [`user = ${options.fpmUser}`] : []),
      ...(options.fpmGroup ? [`group = ${options.fpmGroup}`] : []),
      ...(options.nginxUser ? [`listen.owner = ${options.nginxUser}`, 'listen.mode = 0600'] : []),
      ...(options.opcacheNoRevalidate ? ['php_admin_value[opcache.enable] = 1', 'php_admin_value[opcache.validate_timestamps] = 0'] : []),
      'clear_env = no',
      'catch_workers_output = yes',
    ].join('\n') + '\n',
  );

  // site.conf's `include fastcgi_params` is relative to the config dir, as in /etc/nginx.
  for (const file of ['fastcgi_params', 'mime.types']) copyFileSync(path.join('/etc/nginx', file), path.join(dir, file));
  let site = readFileSync(SITE_CONF, 'utf8')
    .replaceAll('{{listen}}', `127.0.0.1:${port}`)
    .replaceAll('{{root}}', path.resolve(options.root))
    .replaceAll('{{fastcgi_pass}}', options.fpmTcp ? socket : `unix:${socket}`);
  if (options.symlinkedPath) site = site.replaceAll('$realpath_root', '$document_root');
  writeFileSync(path.join(dir, 'site.conf'), site);
  const errorLog = path.join(dir, 'nginx-error.log');
  const temp = ['client_body', 'fastcgi', 'proxy', 'uwsgi', 'scgi'].map((kind) => `  ${kind}_temp_path ${path.join(dir, `${kind}_temp`)};`);
  writeFileSync(
    path.join(dir, 'nginx.conf'),
    [
      // Workers would otherwise drop to `nobody`, who can neither enter the 0700 temp dirs nor use the socket.
      ...(options.nginxUser ? [`user ${options.nginxUser};`] : isRoot ? ['user root;'] : []),
      'daemon off;',
      'master_process on;',
      'worker_processes 1;',
      `pid ${path.join(dir, 'nginx.pid')};`,
      `error_log ${errorLog} warn;`,
      'events { worker_connections 256; }',
      'http {',
      '  include mime.types;',
      '  default_type application/octet-stream;',
      `  access_log ${path.join(dir, 'access.log')};`,
      ...temp,
      '  include site.conf;',
      '}',
    ].join('\n') + '\n',
  );

  // As root php-fpm refuses to start a pool (no `user`, or `user = root`) unless given -R;
  // with -R the workers stay root, like the test process whose files they read.
  const ini = options.opcacheNoRevalidate ? ['-d', 'opcache.enable=1', '-d', 'opcache.validate_timestamps=0'] : [];
  const fpmChild = launch(fpm, [
    ...ini,
    '--nodaemonize',
    '--fpm-config',
    path.join(dir, 'php-fpm.conf'),
    ...(isRoot ? ['--allow-to-run-as-root'] : []),
  ]);
  // -e: nginx opens its compiled-in error log (/var/log/nginx) before reading the config otherwise.
  const nginxChild = launch(NGINX, ['-p', `${dir}/`, '-c', path.join(dir, 'nginx.conf'), '-e', errorLog]);

  const stop = async () => {
    await Promise.all([halt(nginxChild, 'SIGQUIT'), halt(fpmChild, 'SIGQUIT')]);
    rmSync(dir, { recursive: true, force: true });
  };
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitUntil(() => (options.fpmTcp ? listening(socket) : existsSync(socket)), 'php-fpm to create its socket', [fpmChild], dir);
    await waitUntil(async () => (await httpGet(url).catch(() => undefined)) !== undefined, 'nginx to answer', [fpmChild, nginxChild], dir);
  } catch (error) {
    await stop();
    throw error;
  }
  return { url, port, nginxPid: nginxChild.pid as number, fpmPid: fpmChild.pid as number, dir, socket, logs: () => logs(dir), stop };
}

function listening(address: string): Promise<boolean> {
  const [host, port] = address.split(':');
  return new Promise((resolve) => {
    const probe = net.connect(Number(port), host);
    probe.once('connect', () => (probe.destroy(), resolve(true)));
    probe.once('error', () => resolve(false));
  });
}

/** A GET on a fresh connection (no keep-alive pool to hold the servers or the test open). */
export function httpGet(url: string): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const request = http.get(url, { agent: false, timeout: 5000 }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () =>
        resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), headers: response.headers }),
      );
      response.on('error', reject);
    });
    request.on('timeout', () => request.destroy(new Error(`GET ${url} timed out`)));
    request.on('error', reject);
  });
}

function launch(binary: string, args: string[]): ChildProcess {
  const child = spawn(binary, args, { stdio: 'ignore' });
  running.add(child.pid as number);
  child.unref(); // a forgotten server must not hold the test process open; the exit hook ends it
  return child;
}

/** Graceful stop by pid (SIGQUIT lets requests in flight finish), SIGKILL after 5 s. */
async function halt(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  const pid = child.pid as number;
  if (!running.delete(pid) || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.ref();
  try {
    process.kill(pid, signal);
  } catch {} // already gone; its exit event is on its way
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

async function waitUntil(ready: () => boolean | Promise<boolean>, what: string, children: ChildProcess[], dir: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const dead = children.find((child) => child.exitCode !== null || child.signalCode !== null);
    if (dead) throw new Error(`${dead.spawnfile} exited (${dead.exitCode ?? dead.signalCode}) while waiting for ${what}.\n${logs(dir)}`);
    if (await ready()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`Timed out after 10 s waiting for ${what}.\n${logs(dir)}`);
}

function logs(dir: string): string {
  return ['nginx-error.log', 'php-fpm.log']
    .map((name) => {
      const file = path.join(dir, name);
      return `--- ${name}\n${existsSync(file) ? readFileSync(file, 'utf8') : '(none)'}`;
    })
    .join('\n');
}
