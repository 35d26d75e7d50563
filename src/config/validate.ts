import { AttacheError, type ErrorContext } from '../errors';
import { describe, isObject, type MergedServer, type Problem, type Segment } from './merge';
import { SSH_OPTION_NAMES } from '../ssh/options';
import { assetRemote, BRANCH_RULES, branchProblem, controlProblem, fpmProblem, hasDotDot, pathProblem, remoteProblem, rootPath, rootProblem, trimPath, urlProblem } from './rules';
import { closest } from './suggest';
import { checkTags, type TagSite } from './tag-syntax';
import {
  COMPOSER_INSTALLER,
  HOOK_NAMES,
  SKIPPABLE_STEPS,
  type SkippableStep,
  type AssetMapping,
  type ConfigWarning,
  type HealthCheck,
  type HookName,
  type ReleaseStrategy,
  type ServerConfig,
} from './types';

/** From the one list in ssh/options.ts. */
const SSH_KEYS = SSH_OPTION_NAMES;

export const SERVER_KEYS = [
  'name',
  'host',
  'port',
  'user',
  'root',
  'repository',
  'branch',
  'paths',
  'php',
  'composer',
  'assets',
  'migrate',
  'scripts',
  'build',
  'keep',
  'healthcheck',
  'secrets',
  'skip',
  'strategy',
  'ssh',
  'passphrase',
  ...SSH_KEYS,
  // Ours, issue 14 (laravelKeys below).
  'shared',
  'webUser',
  'writable',
  'optimize',
  'restart',
  'opcache',
];

const NESTED_KEYS: Record<string, readonly string[]> = {
  php: ['bin'],
  composer: ['bin', 'dev', 'local', 'installer'],
  healthcheck: ['url', 'status', 'contains', 'header', 'timeout', 'retries'],
  shared: ['dirs', 'files'],
  opcache: ['fpm'],
  ssh: [...SSH_KEYS, 'passphrase'],
};

const DEFAULT_PATHS = { releases: 'releases', serve: 'live', storage: 'storage', env: '.env' };
const DEFAULT_ASSETS = ['public/js', 'public/css', 'public/mix-manifest.json'];
const DEFAULT_BUILD = ['yarn prod'];
const SCRIPT_KEYS: readonly string[] = [...HOOK_NAMES, 'build'];

/** Checks a branch name given outside the file (a --branch flag); returns it. */
export function validateBranch(name: string, context: ErrorContext = {}): string {
  const problem = typeof name === 'string' ? branchProblem(name) : 'it is not a string';
  if (problem) {
    throw new AttacheError(`${JSON.stringify(name)} is not a usable branch name: ${problem}`, { hint: BRANCH_RULES, ...context });
  }
  return name;
}

/**
 * A merged server to a ServerConfig with defaults. Problems are pushed onto `problems` rather than
 * thrown, so that one error can list them all; the returned value is only meaningful without them.
 */
export function validateServer(server: MergedServer, problems: Problem[], warnings: ConfigWarning[] = []): ServerConfig {
  const { raw } = server;
  const report = (keys: readonly Segment[], message: string) => problems.push({ key: server.where(keys), message });
  const warn = (keys: readonly Segment[], message: string) => warnings.push({ key: server.where(keys), message });
  const expected = (keys: readonly Segment[], what: string, value: unknown) => report(keys, `expected ${what}, got ${describe(value)}`);
  const get = (keys: readonly Segment[]): unknown =>
    keys.reduce<unknown>((value, key) => (value as Record<Segment, unknown> | undefined)?.[key], raw);

  checkKeys(raw, [], SERVER_KEYS, report);
  for (const [key, known] of Object.entries(NESTED_KEYS)) if (isObject(raw[key])) checkKeys(raw[key], [key], known, report);
  // Attaché 0.7 names an object-form server by its key and ignores a "name" inside it (its own `init` wrote one).
  if (!server.prefix.startsWith('servers[') && typeof raw.name === 'string' && raw.name !== server.name) {
    warn(['name'], `ignored, as Attaché ignores it: the server is called "${server.name}" (its key in "servers")`);
  }

  // Strings: present, non-empty, and free of NUL (and, where `rule` says so, of more).
  const text = (keys: readonly Segment[], what: string, rule?: (s: string) => string | undefined): string | undefined => {
    const value = get(keys);
    if (value === undefined) return undefined;
    if (typeof value !== 'string' || value === '') return void expected(keys, what, value);
    const problem = value.includes('\0') ? 'it contains a NUL byte' : rule?.(value);
    if (problem) return void report(keys, `expected ${what}, got ${describe(value)}: ${problem}`);
    return value;
  };
  const required = (keys: readonly Segment[], what: string, rule?: (s: string) => string | undefined): string => {
    if (get(keys) === undefined) expected(keys, what, undefined);
    return text(keys, what, rule) ?? '';
  };
  const bool = (keys: readonly Segment[], fallback: boolean): boolean => {
    const value = get(keys);
    if (value === undefined) return fallback;
    if (typeof value !== 'boolean') return expected(keys, 'true or false', value), fallback;
    return value;
  };
  const number = (keys: readonly Segment[], what: string, ok: (n: number) => boolean, digits = false): number | undefined => {
    const given = get(keys);
    if (given === undefined) return undefined;
    // Attaché casts the port to a number, so "2222" is a port there too: `digits` accepts a string of digits.
    const value = digits && typeof given === 'string' && /^\d+$/.test(given) ? Number(given) : given;
    if (typeof value !== 'number' || !ok(value)) return void expected(keys, what, given);
    return value;
  };
  const object = (keys: readonly Segment[]): Record<string, unknown> => {
    const value = get(keys);
    if (value === undefined) return {};
    if (!isObject(value)) return expected(keys, 'an object', value), {};
    return value;
  };

  const noSpaceOrDash = (s: string) =>
    /[\s\u0000-\u001f\u007f]/.test(s) ? 'it contains a space or control character' : s.startsWith('-') ? 'it starts with "-"' : undefined;
  const host = required(['host'], 'a host name, an ~/.ssh/config alias, or "local"', noSpaceOrDash);
  const port = number(['port'], 'a port number (a whole number from 1 to 65535)', (n) => Number.isInteger(n) && n >= 1 && n <= 65535, true);
  const user = text(['user'], 'a user name', noSpaceOrDash);
  const root = rootPath(required(['root'], 'an absolute path on the server, e.g. "/var/www/app"', rootProblem));
  const repository = required(['repository'], 'a git repository URL (set at the top level, in common or on the server)', (s) =>
    s.startsWith('-') ? 'it starts with "-", so git would read it as an option' : controlProblem(s),
  );
  const branch = text(['branch'], 'a git branch name', (s) => (branchProblem(s) ? `${branchProblem(s)}. ${BRANCH_RULES}` : undefined)) ?? 'master';

  // Names besides the four are the user's own, for @path:<name> (as in Attaché); one near a known name is a typo.
  const pathKeys = Object.keys(object(['paths']));
  for (const key of pathKeys) {
    const guess = Object.hasOwn(DEFAULT_PATHS, key) ? undefined : closest(key, Object.keys(DEFAULT_PATHS));
    if (guess) report(['paths', key], `unknown key "${key}": did you mean "${guess}"? Valid keys here: ${Object.keys(DEFAULT_PATHS).join(', ')}, or a name of your own for @path:<name>`);
  }
  const paths: ServerConfig['paths'] = { ...DEFAULT_PATHS };
  for (const key of new Set([...Object.keys(DEFAULT_PATHS), ...pathKeys])) {
    const value = text(['paths', key], 'a path, relative to root or absolute', pathProblem);
    if (value !== undefined) paths[key] = trimPath(value);
  }
  const taken = new Map<string, string>();
  for (const [key, value] of Object.entries(paths).filter(([key]) => Object.hasOwn(DEFAULT_PATHS, key))) {
    const other = taken.get(value);
    if (other) report(['paths', key], `expected a path different from paths.${other}, got ${JSON.stringify(value)} for both`);
    taken.set(value, key);
  }

  object(['php']);
  object(['composer']);
  const php = { bin: text(['php', 'bin'], 'the PHP command, e.g. "php" or "/usr/bin/php8.3"', controlProblem) ?? 'php' };
  const composer = {
    bin: text(['composer', 'bin'], 'the Composer command, e.g. "composer"', controlProblem) ?? 'composer',
    dev: bool(['composer', 'dev'], false),
    local: bool(['composer', 'local'], false),
    installer: text(['composer', 'installer'], "the URL of Composer's installer", urlProblem) ?? COMPOSER_INSTALLER,
  };
  if (composer.local) {
    const bin = composer.bin;
    if (bin.startsWith('/') || hasDotDot(bin) || /\s/.test(bin)) {
      report(['composer', 'bin'], `expected a file name inside root for composer.local (e.g. "composer.phar"), got ${describe(bin)}`);
    }
  }

  const keep = number(['keep'], 'a whole number of releases to keep, at least 2 (the live release and the one before it are never pruned)', (n) => Number.isInteger(n) && n >= 2) ?? 5;

  if (raw.passphrase !== undefined || (isObject(raw.ssh) && raw.ssh.passphrase !== undefined)) {
    const keys = raw.passphrase !== undefined ? ['passphrase'] : ['ssh', 'passphrase'];
    // A gulpfile may pass a passphrase it read from somewhere safe; the config file may not hold one.
    if (!server.where(keys).startsWith('overrides.')) {
      report(keys, 'expected no passphrase in the config file: put it in an environment variable and name that variable in "passphraseEnv"');
    }
  }

  return {
    name: server.name,
    host,
    ...(port !== undefined && { port }),
    ...(user !== undefined && { user }),
    root,
    repository,
    branch,
    paths,
    php,
    composer,
    assets: assets(),
    migrate: bool(['migrate'], false),
    build: build(),
    scripts: scripts(),
    keep,
    ssh: ssh(),
    ...healthcheck(),
    secrets: strings(['secrets'], 'an array of strings') ?? [],
    skip: skip(),
    strategy: strategy(),
    ...laravelKeys(),
  };

  function strategy(): ReleaseStrategy {
    const value = get(['strategy']);
    if (value === undefined || value === 'clone' || value === 'artifact') return (value as ReleaseStrategy | undefined) ?? 'clone';
    return expected(['strategy'], '"clone" (git and composer on the server) or "artifact" (built here, sent as files)', value), 'clone';
  }

  /** Issue 14's keys: shared paths, webUser/writable, optimize, restart, opcache. */
  function laravelKeys(): Pick<ServerConfig, 'shared' | 'writable' | 'optimize' | 'restart'> & Partial<Pick<ServerConfig, 'webUser' | 'opcache'>> {
    object(['shared']);
    const inRelease = (keys: readonly Segment[]) => assetRemote(text(keys, 'a path inside the release', remoteProblem) ?? '');
    const list = (keys: readonly Segment[]) => (strings(keys, 'an array of paths inside the release') ?? []).map((_, i) => inRelease([...keys, i]));
    const dirs = list(['shared', 'dirs']);
    const files = list(['shared', 'files']);
    // Never nested: one shared path inside another (or inside storage, or .env) would be linked twice.
    const claimed: Array<[string, readonly Segment[]]> = [['storage', []], ['.env', []]];
    [...dirs.map((p, i) => [p, ['shared', 'dirs', i]] as const), ...files.map((p, i) => [p, ['shared', 'files', i]] as const)].forEach(([p, keys]) => {
      if (p === '') return;
      const clash = claimed.find(([other]) => p === other || p.startsWith(other + '/') || other.startsWith(p + '/'));
      if (clash) report(keys, `expected a shared path that is not inside another one, got ${JSON.stringify(p)}, which overlaps ${clash[1].length ? `shared ${JSON.stringify(clash[0])}` : `the shared ${clash[0]}`}`);
      else claimed.push([p, keys]);
    });
    const webUser = text(['webUser'], 'a user name on the server, e.g. "www-data"', (s) => (/^[A-Za-z_][A-Za-z0-9_.-]*\$?$/.test(s) ? undefined : 'a user name has letters, digits, "_", "." and "-" only'));
    const restart = strings(['restart'], 'an array of artisan commands, e.g. ["queue:restart"]') ?? [];
    restart.forEach((command, i) => {
      if (command.startsWith('-')) report(['restart', i], `expected an artisan command, got ${JSON.stringify(command)}: it starts with "-"`);
      else if (controlProblem(command)) report(['restart', i], `expected an artisan command, got ${JSON.stringify(command)}: ${controlProblem(command)}`);
    });
    object(['opcache']);
    const fpm = get(['opcache']) === undefined ? undefined : required(['opcache', 'fpm'], 'php-fpm\'s socket path (e.g. "/run/php/php8.2-fpm.sock") or host:port', fpmProblem);
    return {
      shared: { dirs, files },
      ...(webUser !== undefined && { webUser }),
      writable: list(['writable']),
      optimize: bool(['optimize'], false),
      restart,
      ...(fpm !== undefined && { opcache: { fpm } }),
    };
  }

  function skip(): SkippableStep[] {
    const names = strings(['skip'], `an array of step names (${SKIPPABLE_STEPS.join(', ')})`) ?? [];
    return names.filter((name, i): name is SkippableStep => {
      if ((SKIPPABLE_STEPS as readonly string[]).includes(name)) return true;
      report(['skip', i], `expected one of ${SKIPPABLE_STEPS.join(', ')}, got ${JSON.stringify(name)}`);
      return false;
    });
  }

  function strings(keys: readonly Segment[], what: string, single = false): string[] | undefined {
    const value = get(keys);
    if (value === undefined) return undefined;
    if (single && typeof value === 'string') return [text(keys, 'a non-empty command') ?? ''];
    if (!Array.isArray(value)) return void expected(keys, what, value);
    return value.map((_, i) => text([...keys, i], 'a non-empty string') ?? '');
  }

  /**
   * As in Attaché (its ServerTest), the configured assets are added to the three defaults; an
   * entry for a default's local path, or aimed at a default's remote path, takes its place.
   */
  function assets(): AssetMapping[] {
    const custom = customAssets();
    const given = get(['assets']);
    const dropped = (p: string) => isObject(given) && (given[p] === false || given[p] === null);
    const defaults = DEFAULT_ASSETS.filter((p) => !dropped(p) && !custom.some((a) => a.local === p || a.remote === p)).map((p) => ({ local: p, remote: p }));
    return [...defaults, ...custom];
  }

  function customAssets(): AssetMapping[] {
    const value = get(['assets']);
    if (value === undefined) return [];
    const local = (keys: readonly Segment[]) => text(keys, 'a local path (a file or directory in the project)') ?? '';
    const remote = (keys: readonly Segment[]) => assetRemote(text(keys, 'a path inside the release', remoteProblem) ?? '');
    if (isObject(value)) {
      // Ours: `"public/js": false` (or null) drops a default, which Attaché has no way to do.
      const dropped = Object.keys(value).filter((key) => value[key] === false || value[key] === null);
      for (const key of dropped) if (!DEFAULT_ASSETS.includes(key)) report(['assets', key], `expected a path inside the release (false drops a default: ${DEFAULT_ASSETS.join(', ')}), got ${describe(value[key])}`);
      return Object.keys(value).filter((key) => !dropped.includes(key)).map((key) => {
        if (key === '') report(['assets'], 'expected a local path as each key, got ""');
        return { local: key, remote: remote(['assets', key]) };
      });
    }
    if (!Array.isArray(value)) {
      return expected(['assets'], 'an object { "local": "remote" }, an array of paths, or an array of { "local", "remote" }', value), [];
    }
    return value.map((item, i): AssetMapping => {
      if (typeof item === 'string') {
        const same = text(['assets', i], 'a path (the same locally and inside the release)', remoteProblem);
        return { local: same ?? '', remote: assetRemote(same ?? '') };
      }
      if (!isObject(item)) return expected(['assets', i], 'a path or { "local": …, "remote": … }', item), { local: '', remote: '' };
      if (item.local === undefined) return expected(['assets', i, 'local'], 'a local path', undefined), { local: '', remote: '' };
      if (item.remote !== undefined) return { local: local(['assets', i, 'local']), remote: remote(['assets', i, 'remote']) };
      // { "local": "x" } alone means the same path on both sides.
      const same = text(['assets', i, 'local'], 'a path (the same locally and inside the release)', remoteProblem);
      return { local: same ?? '', remote: assetRemote(same ?? '') };
    });
  }

  function build(): string[] {
    const fromScripts = isObject(raw.scripts) && raw.scripts.build !== undefined;
    if (fromScripts && raw.build !== undefined) report(['build'], 'expected either "build" or "scripts.build", got both');
    const keys = fromScripts ? ['scripts', 'build'] : ['build'];
    const commands = strings(keys, 'an array of commands ([] skips the build)', true);
    commands?.forEach((line, i) => tags(Array.isArray(get(keys)) ? [...keys, i] : keys, line, 'build'));
    return commands ?? DEFAULT_BUILD;
  }

  /** Every tag mistake is found here, when the file is loaded, never when a hook is about to run. */
  function tags(keys: readonly Segment[], line: string, site: TagSite): void {
    for (const problem of checkTags(line, site)) report(keys, problem);
  }

  function scripts(): Partial<Record<HookName, string[]>> {
    const out: Partial<Record<HookName, string[]>> = {};
    for (const key of Object.keys(object(['scripts']))) {
      if (!SCRIPT_KEYS.includes(key)) {
        const guess = closest(key, SCRIPT_KEYS);
        report(['scripts', key], `unknown hook "${key}"${guess ? `: did you mean "${guess}"?` : '.'} Valid names: ${SCRIPT_KEYS.join(', ')}`);
      } else if (key !== 'build') {
        const lines = strings(['scripts', key], 'an array of commands', true) ?? [];
        lines.forEach((line, i) => tags(Array.isArray(get(['scripts', key])) ? ['scripts', key, i] : ['scripts', key], line, key as HookName));
        out[key as HookName] = lines;
      }
    }
    return out;
  }

  function ssh(): ServerConfig['ssh'] {
    const grouped = object(['ssh']);
    const pick = (key: (typeof SSH_KEYS)[number]): Segment[] => (raw[key] !== undefined || grouped[key] === undefined ? [key] : ['ssh', key]);
    const out: ServerConfig['ssh'] = {};
    const set = <K extends keyof ServerConfig['ssh']>(key: K, value: ServerConfig['ssh'][K] | undefined) => {
      if (value !== undefined) out[key] = value;
    };
    const acceptNew = pick('acceptNewHostKeys');
    if (get(acceptNew) !== undefined) set('acceptNewHostKeys', bool(acceptNew, false));
    const forward = pick('forwardAgent');
    if (get(forward) !== undefined) set('forwardAgent', bool(forward, false));
    set('knownHostsFile', text(pick('knownHostsFile'), 'a known_hosts file path', controlProblem));
    set('sshConfigFile', text(pick('sshConfigFile'), 'an ssh config file path', controlProblem));
    set('proxyJump', text(pick('proxyJump'), 'a jump host: an alias or user@host:port (comma-separated for a chain)', noSpaceOrDash));
    set('passphraseEnv', text(pick('passphraseEnv'), 'the name of an environment variable', (s) =>
      /^[A-Za-z_][A-Za-z0-9_]*$/.test(s) ? undefined : 'a variable name has letters, digits and "_" only',
    ));
    set('connectTimeout', number(pick('connectTimeout'), 'a positive number of seconds', (n) => Number.isFinite(n) && n > 0));
    const identity = pick('identityFile');
    const files = get(identity);
    if (typeof files === 'string') set('identityFile', text(identity, 'a private key file path', controlProblem));
    else if (files !== undefined) {
      const list = strings(identity, 'a private key file path, or an array of them');
      if (list?.length === 0) expected(identity, 'at least one private key file path', files);
      set('identityFile', list);
    }
    const agent = pick('agent');
    if (get(agent) === false) set('agent', false);
    else set('agent', text(agent, 'an SSH agent socket path, or false', controlProblem));
    const passphrase = raw.passphrase ?? grouped.passphrase;
    if (typeof passphrase === 'string') set('passphrase', passphrase);
    return out;
  }

  function healthcheck(): { healthcheck?: HealthCheck } {
    const value = get(['healthcheck']);
    if (value === undefined) return {};
    if (typeof value === 'string') {
      const url = text(['healthcheck'], 'an http:// or https:// URL', urlProblem) ?? '';
      return { healthcheck: { url, status: 200, timeout: 5, retries: 3 } };
    }
    if (!isObject(value)) return expected(['healthcheck'], 'a URL or { "url": …, "status": …, "contains": …, "timeout": …, "retries": … }', value), {};
    const url = required(['healthcheck', 'url'], 'an http:// or https:// URL', urlProblem);
    const contains = text(['healthcheck', 'contains'], 'text the response body must contain');
    const headerText = text(['healthcheck', 'header'], 'a response header, "Name: value" (the value may use @release)', (s) =>
      /^[!#$%&'*+.^_`|~0-9A-Za-z-]+:\s*\S/.test(s) ? undefined : 'it is not "Name: value"',
    );
    const colon = headerText?.indexOf(':') ?? -1;
    const header = headerText !== undefined && colon > 0 ? { name: headerText.slice(0, colon).trim(), value: headerText.slice(colon + 1).trim() } : undefined;
    return {
      healthcheck: {
        url,
        status: number(['healthcheck', 'status'], 'an HTTP status code (100 to 599)', (n) => Number.isInteger(n) && n >= 100 && n <= 599) ?? 200,
        ...(contains !== undefined && { contains }),
        ...(header !== undefined && { header }),
        timeout: number(['healthcheck', 'timeout'], 'a positive number of seconds', (n) => Number.isFinite(n) && n > 0) ?? 5,
        retries: number(['healthcheck', 'retries'], 'a whole number of attempts, at least 1', (n) => Number.isInteger(n) && n >= 1) ?? 3,
      },
    };
  }
}

/**
 * An unknown key is refused, with the keys valid at that place: a key that does nothing is a
 * setting the user believes in that never happens (`"migrations": true` for `migrate`).
 */
export function checkKeys(
  value: Record<string, unknown>,
  keys: readonly Segment[],
  known: readonly string[],
  report: (keys: readonly Segment[], message: string) => void,
): void {
  for (const key of Object.keys(value)) {
    if (known.includes(key)) continue;
    const guess = closest(key, known);
    report([...keys, key], `unknown key "${key}"${guess ? `: did you mean "${guess}"?` : '.'} Valid keys here: ${known.join(', ')}`);
  }
}
