import { MIX_ASSETS, SSR_BUNDLE, VITE_ASSETS } from './project';
import { SSH_OPTION_NAMES } from '../ssh/options';
import { describe, isObject, type Segment } from './merge';
import type { Reader, Rule } from './reader';
import {
  assetRemote,
  BRANCH_RULES,
  branchProblem,
  controlProblem,
  fpmProblem,
  hasDotDot,
  noSpaceOrDash,
  peerAddress,
  peerAddressProblem,
  pathProblem,
  remoteProblem,
  rootPath,
  rootProblem,
  trimPath,
  urlProblem,
} from './rules';
import { closest } from './suggest';
import {
  COMPOSER_INSTALLER,
  HEALTHCHECK_FROM,
  HOOK_NAMES,
  SKIPPABLE_STEPS,
  type AssetMapping,
  type HealthCheck,
  type HookName,
  type ReleaseStrategy,
  type RolloutConfig,
  type ServerConfig,
  type SkippableStep,
} from './types';

/**
 * The configuration's keys, written once: each with its type, default and one line of docs (what
 * docs/configuration.md is generated from, `npm run docs:config`) and, for a server's keys, the read
 * that checks it and gives ServerConfig's field of the same name. validateServer runs the rows in
 * this order (so a server's problems are listed in it), and "Valid keys here" lists them in it.
 */

/** A key as the docs show it. Texts are Markdown, taken from the README's reference. */
export interface KeyDoc {
  /** The value's JSON type(s), for the docs. */
  type: string;
  /** The value a server gets when the key is absent (config-schema.test.ts checks it is); the docs show it unless `shown` is given. */
  default?: unknown;
  /** What the docs say instead of the default's value: "required", "from `~/.ssh/config`, …". */
  shown?: string;
  doc: string;
}

/** A key of a server (or of `common`). */
export interface ServerKey extends KeyDoc {
  /** The keys valid inside it, when it is an object; anything else there is refused as unknown. */
  keys?: Readonly<Record<string, KeyDoc>>;
  /** `keys` are the documented ones, but names of the user's own are allowed too (the read checks them). */
  ownNames?: true;
  /** Reads and checks the value; the result (when not undefined) is ServerConfig's field of this name. */
  read?(r: Reader, key: string): unknown;
  /** Checks a key that is not a field of its own (it is read with another, or refused). */
  check?(r: Reader): void;
}

type Field<T> = ServerKey & { read(r: Reader, key: string): T };
type SshKey = (typeof SSH_OPTION_NAMES)[number];

/** Every field of ServerConfig but `name` has its row (tsc says which is missing or of the wrong type). */
export type ServerSchema = { readonly [K in Exclude<keyof ServerConfig, 'name'>]-?: Field<ServerConfig[K]> } & {
  readonly name: ServerKey;
  readonly passphrase: ServerKey;
} & { readonly [K in SshKey]: KeyDoc };

export const DEFAULT_PATHS = { releases: 'releases', serve: 'live', storage: 'storage', env: '.env' };
export const SCRIPT_KEYS: readonly string[] = [...HOOK_NAMES, 'build'];
/** Any default may be dropped with `false`, whichever kind of project this is (a config may serve both). */
const KNOWN_DEFAULT_ASSETS = [...MIX_ASSETS, ...VITE_ASSETS, SSR_BUNDLE];

// Row makers for the plain kinds of value: the default is written once, for the read and the docs.
const flag = (doc: string): Field<boolean> => ({ type: '`true` or `false`', default: false, doc, read: (r, key) => r.bool([key], false) });
const text = (what: string, rule: Rule | undefined, doc: string): Field<string | undefined> => ({
  type: 'string',
  doc,
  read: (r, key) => r.text([key], what, rule),
});

/** The SSH options, also accepted grouped in `"ssh": { … }` (see ssh/resolve.ts for what each does). */
const SSH_TEXTS: { readonly [K in SshKey]: KeyDoc } = {
  acceptNewHostKeys: {
    type: '`true` or `false`',
    default: false,
    doc: "like OpenSSH's `StrictHostKeyChecking=accept-new`: trust and record an unknown host's key on first use; a changed key is always refused",
  },
  knownHostsFile: { type: 'string', shown: '`~/.ssh/known_hosts`', doc: 'the known_hosts file host keys are checked against' },
  knownHostsEnv: {
    type: 'string',
    doc: 'the name of an environment variable holding known_hosts lines (a CI secret: plain, hashed or `[host]:port`), checked beside `knownHostsFile` as OpenSSH checks two files (a key either holds is known; `@revoked` in either refuses); unset or empty is an error. With `acceptNewHostKeys`, a new key is recorded in `knownHostsFile`',
  },
  identityFile: {
    type: 'string or array of strings',
    shown: "`~/.ssh/config`'s, then `~/.ssh/id_ed25519`, `id_ecdsa`, `id_rsa`",
    doc: "private key files, tried in order after the agent and `identityEnv`'s key; a missing file named here is an error, one named by `~/.ssh/config` a warning",
  },
  identityEnv: {
    type: 'string',
    doc: "the name of an environment variable holding a private key's text (a CI secret: OpenSSH or PEM, encrypted with `passphraseEnv`'s passphrase or not), tried after the agent and before the files; never written to disk nor printed. Unset or empty is an error; literal `\\n` in it are read as line breaks",
  },
  passphraseEnv: {
    type: 'string',
    doc: "the name of an environment variable holding the passphrase of an encrypted key (a file's or `identityEnv`'s; a passphrase itself is refused in the file)",
  },
  forwardAgent: {
    type: '`true` or `false`',
    shown: "`~/.ssh/config`'s `ForwardAgent`",
    doc: 'forward the agent, so that `git clone` on the server can use your key',
  },
  connectTimeout: {
    type: 'number',
    shown: "`~/.ssh/config`'s `ConnectTimeout`, else 20",
    doc: 'seconds to wait for the TCP connection and the handshake',
  },
  proxyJump: { type: 'string', doc: 'a jump host (`ProxyJump`): an alias or `user@host:port`; comma-separated for a chain' },
  agent: { type: 'string or `false`', shown: '`$SSH_AUTH_SOCK`', doc: 'the SSH agent socket; `false` turns the agent off' },
  sshConfigFile: {
    type: 'string',
    shown: '`~/.ssh/config`',
    doc: 'the ssh config file; its `Match exec` blocks never match (their commands do not run): only your own `~/.ssh/config` runs them, and not for `servers` or a dry run',
  },
};
/** In ssh/options.ts's order, the one "Valid keys here" lists. */
const SSH_DOCS = Object.fromEntries(SSH_OPTION_NAMES.map((key) => [key, SSH_TEXTS[key]])) as typeof SSH_TEXTS;

const PASSPHRASE: ServerKey = {
  type: 'string',
  doc: 'refused in the file: put the passphrase in an environment variable and name that variable in `passphraseEnv` (a gulpfile may pass one in its overrides)',
  check: passphraseOnlyInOverrides,
};

export const SERVER_SCHEMA: ServerSchema = {
  name: {
    type: 'string',
    doc: 'the server\'s name, in the older array form of `servers` only; in the object form the key is the name (a different `"name"` inside loads with a warning: Attaché ignores it too)',
    check: nameIsTheKey,
  },
  host: {
    type: 'string',
    shown: 'required',
    doc: 'host name, `~/.ssh/config` alias, or `local`',
    read: (r, key) => r.required([key], 'a host name, an ~/.ssh/config alias, or "local"', noSpaceOrDash),
  },
  port: {
    type: 'number',
    shown: 'from `~/.ssh/config`, then 22',
    doc: 'may be written as a string of digits (`"2222"`), as Attaché casts it',
    read: (r, key) =>
      r.number([key], 'a port number (a whole number from 1 to 65535)', (n) => Number.isInteger(n) && n >= 1 && n <= 65535, true),
  },
  user: { ...text('a user name', noSpaceOrDash, 'the SSH user'), shown: 'from `~/.ssh/config`, then your user' },
  root: {
    type: 'string',
    shown: 'required',
    doc: 'absolute path on the server; spaces, quotes and non-ASCII letters are fine',
    read: (r, key) => rootPath(r.required([key], 'an absolute path on the server, e.g. "/var/www/app"', rootProblem)),
  },
  repository: {
    type: 'string',
    shown: 'required',
    doc: 'the git repository URL; usually written once at the top level (or in `common`)',
    read: (r, key) =>
      r.required([key], 'a git repository URL (set at the top level, in common or on the server)', (s) =>
        s.startsWith('-') ? 'it starts with "-", so git would read it as an option' : controlProblem(s),
      ),
  },
  branch: {
    type: 'string',
    default: 'master',
    doc: 'the branch to deploy; `--branch=<name>` overrides it',
    read: (r, key) =>
      r.text([key], 'a git branch name', (s) => (branchProblem(s) ? `${branchProblem(s)}. ${BRANCH_RULES}` : undefined)) ?? 'master',
  },
  paths: {
    type: 'object',
    default: DEFAULT_PATHS,
    doc: 'each relative to `root`, or absolute; other names are your own, for `@path:<name>`',
    keys: {
      releases: { type: 'string', default: DEFAULT_PATHS.releases, doc: 'the releases, one directory each' },
      serve: {
        type: 'string',
        default: DEFAULT_PATHS.serve,
        doc: 'the symlink to the live release (point the web server at `live/public`)',
      },
      storage: { type: 'string', default: DEFAULT_PATHS.storage, doc: "Laravel's storage, shared by every release" },
      env: { type: 'string', default: DEFAULT_PATHS.env, doc: 'the `.env` file, shared by every release' },
    },
    ownNames: true,
    read: readPaths,
  },
  php: {
    type: 'object',
    doc: 'the PHP command',
    keys: { bin: { type: 'string', default: 'php', doc: 'one command (a name on the PATH or a path), not a command line' } },
    read: (r) => (
      r.object(['php']), { bin: r.text(['php', 'bin'], 'the PHP command, e.g. "php" or "/usr/bin/php8.3"', controlProblem) ?? 'php' }
    ),
  },
  composer: {
    type: 'object',
    doc: 'Composer: which one, and how it installs',
    keys: {
      bin: {
        type: 'string',
        default: 'composer',
        doc: "the Composer command (on the PATH, or a path); with `local`, the file name of root's own copy",
      },
      dev: { type: '`true` or `false`', default: false, doc: '`install --no-dev` unless `dev`' },
      local: {
        type: '`true` or `false`',
        default: false,
        doc: "as Attaché: keep Composer in `root/<bin>` (e.g. `composer.phar`), downloaded with Composer's official installer when missing, `self-update`d on later deploys, run as `<php.bin> root/<bin>`",
      },
      reuseVendor: {
        type: '`true` or `false`',
        default: true,
        doc: "ours: when `composer.lock` (holding no Composer plugin, which may write into `vendor/`), PHP's version, the Composer command and the install's flags are the live release's, `vendor/` starts as hard links to the live release's packages (what Composer writes, `vendor/composer/`, `autoload.php`, `bin/`, copied), then `composer install` finds nothing to install and only dumps the autoloader and runs the scripts; when `composer.json` and the autoloaded file names are the live release's too, Composer is not run, only the install's scripts; `false` always installs from scratch",
      },
      installer: {
        type: 'string',
        default: COMPOSER_INSTALLER,
        doc: "where `composer.local` downloads the installer from (on the server, with `curl`): a mirror, or a test's local server",
      },
    },
    read: readComposer,
  },
  assets: {
    type: 'object or array',
    default: 'found from the project',
    doc: '**added to** the defaults, as in Attaché: in a Vite app (a `vite.config.*` beside `package.json`) `public/build`, and `bootstrap/ssr` when the build makes an SSR bundle; otherwise Attaché\'s three, `public/js`, `public/css`, `public/mix-manifest.json`. `{ "local": "remote" }`, a list of paths, or `[{ "local", "remote" }]`; an entry for a default\'s local path, or aimed at its remote path, replaces that default; `"public/js": false` drops a default; a missing local path is skipped with a warning; a directory\'s contents land in the target directory, never one level deeper. Files under `public/` that git does not track and no mapping covers (say `public/images` from the build) are named in a warning: the release will not have them',
    read: readAssets,
  },
  migrate: flag('run `php artisan migrate --force`'),
  scripts: {
    type: 'object',
    default: {},
    doc: 'hooks: `before-`/`after-` × `build`, `deploy`, `clone`, `prepcomposer`, `install`, `symlinks`, `composer`, `migrate`, `assets`, `live`, plus `build`; each a command or an array of commands (see [Hooks](#hooks))',
    read: readScripts,
  },
  build: {
    type: 'string or array of strings',
    default: 'found from the project',
    doc: 'the local build, run in the project directory: by default the package manager of the lockfile (bun, pnpm, yarn, npm; yarn without one) runs `build` in a Vite app, `prod` where package.json has it (Mix), else `yarn prod` as in Attaché (once for a fleet); `[]` skips it; the same as `scripts.build` (write one of the two)',
    read: readBuild,
  },
  keep: {
    type: 'number',
    default: 5,
    doc: 'releases kept by prune (at least 2)',
    read: (r, key) =>
      r.number(
        [key],
        'a whole number of releases to keep, at least 2 (the live release and the one before it are never pruned)',
        (n) => Number.isInteger(n) && n >= 2,
      ) ?? 5,
  },
  oldAssets: {
    type: 'number',
    default: 1,
    doc: "ours: a new release also serves the content-hashed build files (`…/build/assets/*`, Vite's) of this many releases before it that its own build no longer has, hard-linked from the live release, so pages already open keep their CSS and lazy chunks after the swap; `0` keeps none",
    read: (r, key) => r.number([key], 'a whole number of releases, 0 or more', (n) => Number.isInteger(n) && n >= 0) ?? 1,
  },
  healthcheck: {
    type: 'string or object',
    doc: 'ours: checked after the swap, a failure swaps back; `{ "url", "from": "local", "status": 200, "contains", "header", "timeout": 5, "retries": 3 }` or just a URL; `contains` and `header` (`"X-Release: @release"`) may use `@release`',
    keys: {
      url: { type: 'string', shown: 'required', doc: 'an `http://` or `https://` URL' },
      from: {
        type: 'string',
        default: 'local',
        doc: 'where it is fetched: `"local"`, from the machine that deploys (Node\'s fetch); `"server"`, on the server over the SSH connection (its `curl`, else GNU `wget`, else `php`), for a URL that only resolves or answers inside the server\'s network (an internal name, `127.0.0.1`) when deploying from outside it, e.g. a hosted CI runner',
      },
      status: { type: 'number', default: 200, doc: 'the HTTP status expected' },
      contains: { type: 'string', doc: 'text the body must contain (may use `@release`)' },
      header: { type: 'string', doc: 'a response header that must be present, `"Name: value"` (the value may use `@release`)' },
      timeout: { type: 'number', default: 5, doc: 'seconds per attempt' },
      retries: { type: 'number', default: 3, doc: 'attempts before giving up' },
    },
    read: readHealthcheck,
  },
  secrets: {
    type: 'array of strings',
    default: [],
    doc: 'values never printed; key passphrases and the secrets of `.env` are never printed either',
    read: (r, key) => r.strings([key], 'an array of strings') ?? [],
  },
  skip: {
    type: 'array of strings',
    default: [],
    doc: `steps switched off, said aloud in the log: ${SKIPPABLE_STEPS.map((s) => `\`${s}\``).join(', ')}`,
    read: readSkip,
  },
  strategy: {
    type: 'string',
    default: 'clone',
    doc: "`clone` (git and composer on the server, Attaché's way) or `artifact`: build the release here and send it",
    read: (r, key) => {
      const value = r.get([key]);
      if (value === undefined || value === 'clone' || value === 'artifact') return (value as ReleaseStrategy | undefined) ?? 'clone';
      return (r.expected([key], '"clone" (git and composer on the server) or "artifact" (built here, sent as files)', value), 'clone');
    },
  },
  ssh: {
    type: 'object',
    doc: 'the SSH options below, grouped: `"ssh": { "identityFile": … }`; a key given directly on the server wins',
    keys: { ...SSH_DOCS, passphrase: PASSPHRASE },
    read: readSsh,
  },
  passphrase: PASSPHRASE,
  ...SSH_DOCS,
  // Ours, for Laravel: shared paths beyond storage and .env, the web server's access, caches, restarts.
  shared: {
    type: 'object',
    default: { dirs: [], files: [] },
    doc: 'ours: more shared paths (relative to the release), e.g. `{ "dirs": ["public/uploads"], "files": ["auth.json"] }`; each lives at `root/shared/<path>`, created from the first release\'s copy when missing, linked into every release, never overwritten; none may be inside another, `storage` or `.env`',
    keys: {
      dirs: { type: 'array of strings', default: [], doc: 'shared directories' },
      files: { type: 'array of strings', default: [], doc: 'shared files' },
    },
    read: readShared,
  },
  webUser: text(
    'a user name on the server, e.g. "www-data"',
    (s) => (/^[A-Za-z_][A-Za-z0-9_.-]*\$?$/.test(s) ? undefined : 'a user name has letters, digits, "_", "." and "-" only'),
    "ours: the web server's user, e.g. `www-data`: `storage`, `bootstrap/cache` and `writable` become writable for it and `.env` readable by it (ACLs with `setfacl`, else its group with setgid directories), on every deploy",
  ),
  writable: {
    type: 'array of strings',
    default: [],
    doc: 'ours: more paths inside the release the web server writes (created if missing)',
    read: (r, key) => releasePaths(r, [key]),
  },
  optimize: flag(
    'ours: `php artisan optimize` (+ `view:cache`, `event:cache` before Laravel 11) in the new release before the swap; a failure stops the deploy with live untouched',
  ),
  restart: {
    type: 'array of strings',
    default: 'found from the project',
    doc: "ours: artisan commands run in the new release after a healthy swap (and after rollback and activate). By default what composer.lock's Laravel packages need: `reload` from Laravel 12.41 (its output is read: a FAIL line is a failure), before it `queue:restart`, `schedule:interrupt` (10+), and `horizon:terminate`, `pulse:restart`, `reverb:restart`, `octane:stop`, `inertia:stop-ssr` (with an SSR bundle) where installed; none without Laravel. `[]` runs none. On a fleet `queue:restart`, `schedule:interrupt` and `cache:clear` run once (shared cache), the rest on every server; a failure is a warning",
    read: readRestart,
  },
  rollout: {
    type: 'object',
    default: 'all servers at once',
    doc: 'ours: how a fleet swaps, once every server is prepared: `{ "batches": [1, "25%"], "maxFailures": 0, "pause": 30 }`; each server of a batch is drained (`drain` hooks), swapped, OPcache-reset, health-checked and undrained; a failed server is swapped back at once; past `maxFailures` every switched server is swapped back (see [rollouts.md](rollouts.md)). Without it every server swaps together',
    keys: {
      batches: {
        type: 'array',
        default: '["100%"]',
        doc: 'the size of each batch, servers or a percentage of the fleet; the last repeats',
      },
      maxFailures: { type: 'number or string', default: 0, doc: 'servers (or a percentage) that may fail before the rollout stops' },
      pause: { type: 'number', default: 0, doc: 'seconds between two batches (Enter skips it on a terminal)' },
    },
    read: readRollout,
  },
  opcache: {
    type: 'object',
    doc: 'ours: `{ "fpm": "/run/php/php8.2-fpm.sock" }` (or `"127.0.0.1:9000"`): reset that php-fpm pool\'s OPcache right after the swap, over the SSH connection; nothing to install on the server',
    keys: { fpm: { type: 'string', shown: 'required', doc: "php-fpm's socket path or `host:port`" } },
    read: (r) => {
      r.object(['opcache']);
      if (r.get(['opcache']) === undefined) return undefined;
      return { fpm: r.required(['opcache', 'fpm'], 'php-fpm\'s socket path (e.g. "/run/php/php8.2-fpm.sock") or host:port', fpmProblem) };
    },
  },
  peerAddress: {
    type: 'string',
    doc: "ours: `host[:port]` (port 22 by default) at which the **other** servers of the fleet reach this server's sshd: the servers of a deploy that have one form a network, the deploying machine sends a release's bytes to one of them and the others take them from it with their own `ssh` (see [fanout.md](fanout.md)); without it nothing changes",
    read: (r, key) => peerAddress(r.text([key], 'host or host:port, as the other servers reach this one', peerAddressProblem)),
  },
};

/** The keys a server may have, in the table's order. */
export const SERVER_KEYS: readonly string[] = Object.keys(SERVER_SCHEMA);

/** The keys valid inside each server key that is an object with a fixed set of keys. */
export const NESTED_KEYS: Readonly<Record<string, readonly string[]>> = Object.fromEntries(
  Object.entries(SERVER_SCHEMA as Record<string, ServerKey>).flatMap(([key, row]) =>
    row.keys && !row.ownNames ? [[key, Object.keys(row.keys)]] : [],
  ),
);

/** The file's top level (read in load.ts). */
export const TOP_SCHEMA: Readonly<Record<string, KeyDoc>> = {
  repository: { type: 'string', doc: 'the git repository URL, for every server (a server or `common` may set its own)' },
  servers: {
    type: 'object or array',
    shown: 'required',
    doc: "the servers, an object keyed by name (or Attaché's older array of objects with `name`); see [Server keys](#server-keys)",
  },
  default: { type: 'string', doc: 'the server or group a task uses without `--server`' },
  rollout: { type: 'object', doc: 'ours: how the fleet swaps, for every server (see the server key `rollout`)' },
  common: { type: 'object', default: {}, doc: 'server keys shared by every server, deep-merged under each one (what a server says wins)' },
  groups: { type: 'object', default: {}, doc: 'ours: named groups of servers, `{ "web": ["web1", "web2"] }`, used as `--server=web`' },
  secrets: { type: 'array of strings', default: [], doc: "values never printed, for every server (added to each server's `secrets`)" },
  $schema: { type: 'string', doc: 'ignored: for editors that read a JSON schema' },
};

/** When each hook runs: `before-<step>` just before the step, `after-<step>` just after it. */
export const HOOK_DOCS: { readonly [S in HookName extends `before-${infer Step}` ? Step : never]: string } = {
  build: 'the local build (in the project directory, before the release id is chosen: no `@release`)',
  deploy: 'the whole server part: `before-deploy` first of all on the server, `after-deploy` after migrate',
  clone: 'the clone of the repository into the new release (or, with `"strategy": "artifact"`, the release made from the artifact)',
  prepcomposer: "`composer.local`'s download or self-update (the `deploy:prepcomposer` step)",
  install: 'the shared storage and `.env` (on every deploy, as in Attaché)',
  symlinks: 'the links of storage, `.env` and the `shared` paths into the new release',
  composer: '`composer install`',
  migrate: '`php artisan migrate --force`',
  assets: 'the upload of the built assets (run locally, in the project directory)',
  live: 'the swap of `live` to the new release',
};

// ---- Checks of more than one value, and the reads too long for the table.

/** Attaché 0.7 names an object-form server by its key and ignores a "name" inside it (its own `init` wrote one). */
function nameIsTheKey(r: Reader): void {
  const { server, raw } = r;
  if (!server.prefix.startsWith('servers[') && typeof raw.name === 'string' && raw.name !== server.name) {
    r.warn(['name'], `ignored, as Attaché ignores it: the server is called "${server.name}" (its key in "servers")`);
  }
}

/** A gulpfile may pass a passphrase it read from somewhere safe; the config file may not hold one. */
function passphraseOnlyInOverrides(r: Reader): void {
  const { raw } = r;
  if (raw.passphrase === undefined && !(isObject(raw.ssh) && raw.ssh.passphrase !== undefined)) return;
  const keys = raw.passphrase !== undefined ? ['passphrase'] : ['ssh', 'passphrase'];
  if (!r.server.where(keys).startsWith('overrides.')) {
    r.report(
      keys,
      'expected no passphrase in the config file: put it in an environment variable and name that variable in "passphraseEnv"',
    );
  }
}

/** Names besides the four are the user's own, for @path:<name> (as in Attaché); one near a known name is a typo. */
function readPaths(r: Reader): ServerConfig['paths'] {
  const known = Object.keys(DEFAULT_PATHS);
  const pathKeys = Object.keys(r.object(['paths']));
  for (const key of pathKeys) {
    const guess = Object.hasOwn(DEFAULT_PATHS, key) ? undefined : closest(key, known);
    if (guess)
      r.report(
        ['paths', key],
        `unknown key "${key}": did you mean "${guess}"? Valid keys here: ${known.join(', ')}, or a name of your own for @path:<name>`,
      );
  }
  const paths: ServerConfig['paths'] = { ...DEFAULT_PATHS };
  for (const key of new Set([...known, ...pathKeys])) {
    const value = r.text(['paths', key], 'a path, relative to root or absolute', pathProblem);
    if (value !== undefined) paths[key] = trimPath(value);
  }
  distinctPaths(r, paths);
  return paths;
}

/** Two of releases, serve, storage and env at one path would overwrite each other. */
function distinctPaths(r: Reader, paths: ServerConfig['paths']): void {
  const taken = new Map<string, string>();
  for (const [key, value] of Object.entries(paths).filter(([key]) => Object.hasOwn(DEFAULT_PATHS, key))) {
    const other = taken.get(value);
    if (other) r.report(['paths', key], `expected a path different from paths.${other}, got ${JSON.stringify(value)} for both`);
    taken.set(value, key);
  }
}

function readComposer(r: Reader): ServerConfig['composer'] {
  r.object(['composer']);
  const composer = {
    bin: r.text(['composer', 'bin'], 'the Composer command, e.g. "composer"', controlProblem) ?? 'composer',
    dev: r.bool(['composer', 'dev'], false),
    local: r.bool(['composer', 'local'], false),
    reuseVendor: r.bool(['composer', 'reuseVendor'], true),
    installer: r.text(['composer', 'installer'], "the URL of Composer's installer", urlProblem) ?? COMPOSER_INSTALLER,
  };
  localComposerBin(r, composer);
  return composer;
}

/** With composer.local, `bin` is a file Composer is downloaded to, inside root. */
function localComposerBin(r: Reader, { bin, local }: ServerConfig['composer']): void {
  if (local && (bin.startsWith('/') || hasDotDot(bin) || /\s/.test(bin))) {
    r.report(['composer', 'bin'], `expected a file name inside root for composer.local (e.g. "composer.phar"), got ${describe(bin)}`);
  }
}

/**
 * As in Attaché (its ServerTest), the configured assets are added to the three defaults; an
 * entry for a default's local path, or aimed at a default's remote path, takes its place.
 */
function readAssets(r: Reader): AssetMapping[] {
  const custom = customAssets(r);
  const given = r.get(['assets']);
  const dropped = (p: string) => isObject(given) && (given[p] === false || given[p] === null);
  const covers = (a: AssetMapping, p: string) => a.local === p || a.remote === p || (p.startsWith(`${a.local}/`) && a.remote === a.local);
  const defaults = r.project.assets
    .filter((p) => !dropped(p) && !custom.some((a) => covers(a, p)))
    .map((p) => ({
      local: p,
      remote: p,
    }));
  return [...defaults, ...custom];
}

function customAssets(r: Reader): AssetMapping[] {
  const value = r.get(['assets']);
  if (value === undefined) return [];
  const local = (keys: readonly Segment[]) => r.text(keys, 'a local path (a file or directory in the project)') ?? '';
  const remote = (keys: readonly Segment[]) => assetRemote(r.text(keys, 'a path inside the release', remoteProblem) ?? '');
  const same = (keys: readonly Segment[]): AssetMapping => {
    const path = r.text(keys, 'a path (the same locally and inside the release)', remoteProblem);
    return { local: path ?? '', remote: assetRemote(path ?? '') };
  };
  if (isObject(value)) {
    // Ours: `"public/js": false` (or null) drops a default, which Attaché has no way to do.
    const dropped = Object.keys(value).filter((key) => value[key] === false || value[key] === null);
    for (const key of dropped)
      if (!KNOWN_DEFAULT_ASSETS.includes(key))
        r.report(
          ['assets', key],
          `expected a path inside the release (false drops a default: ${r.project.assets.join(', ')}), got ${describe(value[key])}`,
        );
    return Object.keys(value)
      .filter((key) => !dropped.includes(key))
      .map((key) => {
        if (key === '') r.report(['assets'], 'expected a local path as each key, got ""');
        return { local: key, remote: remote(['assets', key]) };
      });
  }
  if (!Array.isArray(value)) {
    return (r.expected(['assets'], 'an object { "local": "remote" }, an array of paths, or an array of { "local", "remote" }', value), []);
  }
  return value.map((item, i): AssetMapping => {
    if (typeof item === 'string') return same(['assets', i]);
    if (!isObject(item)) return (r.expected(['assets', i], 'a path or { "local": …, "remote": … }', item), { local: '', remote: '' });
    if (item.local === undefined) return (r.expected(['assets', i, 'local'], 'a local path', undefined), { local: '', remote: '' });
    if (item.remote !== undefined) return { local: local(['assets', i, 'local']), remote: remote(['assets', i, 'remote']) };
    return same(['assets', i, 'local']); // { "local": "x" } alone means the same path on both sides
  });
}

function readScripts(r: Reader): ServerConfig['scripts'] {
  const out: ServerConfig['scripts'] = {};
  for (const key of Object.keys(r.object(['scripts']))) {
    if (!SCRIPT_KEYS.includes(key)) {
      const guess = closest(key, SCRIPT_KEYS);
      r.report(
        ['scripts', key],
        `unknown hook "${key}"${guess ? `: did you mean "${guess}"?` : '.'} Valid names: ${SCRIPT_KEYS.join(', ')}`,
      );
    } else if (key !== 'build') {
      const lines = r.strings(['scripts', key], 'an array of commands', true) ?? [];
      lines.forEach((line, i) =>
        r.tags(Array.isArray(r.get(['scripts', key])) ? ['scripts', key, i] : ['scripts', key], line, key as HookName),
      );
      out[key as HookName] = lines;
    }
  }
  return out;
}

/** `build` and `scripts.build` are one setting written two ways: one of them, not both. */
function readBuild(r: Reader): string[] {
  const fromScripts = isObject(r.raw.scripts) && r.raw.scripts.build !== undefined;
  if (fromScripts && r.raw.build !== undefined) r.report(['build'], 'expected either "build" or "scripts.build", got both');
  const keys = fromScripts ? ['scripts', 'build'] : ['build'];
  const commands = r.strings(keys, 'an array of commands ([] skips the build)', true);
  commands?.forEach((line, i) => r.tags(Array.isArray(r.get(keys)) ? [...keys, i] : keys, line, 'build'));
  return commands ?? r.project.build;
}

/** A percentage as `rollout` writes it: "25%", 0 to 100. */
function isPercentage(value: unknown): value is string {
  return typeof value === 'string' && /^(100|\d{1,2}(\.\d+)?)%$/.test(value);
}

function readRollout(r: Reader): RolloutConfig | undefined {
  r.object(['rollout']);
  if (r.get(['rollout']) === undefined) return undefined;
  const size = (value: unknown) =>
    (typeof value === 'number' && Number.isInteger(value) && value >= 1) || (isPercentage(value) && Number.parseFloat(value) > 0);
  const batches = r.get(['rollout', 'batches']) ?? ['100%'];
  if (!Array.isArray(batches) || batches.length === 0 || !batches.every(size)) {
    r.expected(
      ['rollout', 'batches'],
      'a non-empty array of batch sizes: whole numbers of servers (1 or more) or percentages ("25%")',
      batches,
    );
    return undefined;
  }
  const maxFailures = r.get(['rollout', 'maxFailures']) ?? 0;
  if (!((typeof maxFailures === 'number' && Number.isInteger(maxFailures) && maxFailures >= 0) || isPercentage(maxFailures))) {
    r.expected(['rollout', 'maxFailures'], 'a whole number of servers (0 or more) or a percentage ("10%")', maxFailures);
    return undefined;
  }
  const pause = r.number(['rollout', 'pause'], 'seconds, 0 or more', (n) => Number.isFinite(n) && n >= 0) ?? 0;
  return { batches: batches as Array<number | string>, maxFailures: maxFailures as number | string, pause };
}

function readHealthcheck(r: Reader): HealthCheck | undefined {
  const value = r.get(['healthcheck']);
  if (value === undefined) return undefined;
  if (typeof value === 'string')
    return {
      url: r.text(['healthcheck'], 'an http:// or https:// URL', urlProblem) ?? '',
      from: 'local',
      status: 200,
      timeout: 5,
      retries: 3,
    };
  if (!isObject(value))
    return void r.expected(['healthcheck'], 'a URL or { "url": …, "status": …, "contains": …, "timeout": …, "retries": … }', value);
  const url = r.required(['healthcheck', 'url'], 'an http:// or https:// URL', urlProblem);
  const contains = r.text(['healthcheck', 'contains'], 'text the response body must contain');
  const headerText = r.text(['healthcheck', 'header'], 'a response header, "Name: value" (the value may use @release)', (s) =>
    /^[!#$%&'*+.^_`|~0-9A-Za-z-]+:\s*\S/.test(s) ? undefined : 'it is not "Name: value"',
  );
  const colon = headerText?.indexOf(':') ?? -1;
  const header =
    headerText !== undefined && colon > 0
      ? { name: headerText.slice(0, colon).trim(), value: headerText.slice(colon + 1).trim() }
      : undefined;
  return {
    url,
    from: readFrom(r),
    status:
      r.number(['healthcheck', 'status'], 'an HTTP status code (100 to 599)', (n) => Number.isInteger(n) && n >= 100 && n <= 599) ?? 200,
    ...(contains !== undefined && { contains }),
    ...(header !== undefined && { header }),
    timeout: r.number(['healthcheck', 'timeout'], 'a positive number of seconds', (n) => Number.isFinite(n) && n > 0) ?? 5,
    retries: r.number(['healthcheck', 'retries'], 'a whole number of attempts, at least 1', (n) => Number.isInteger(n) && n >= 1) ?? 3,
  };
}

function readFrom(r: Reader): HealthCheck['from'] {
  const value = r.get(['healthcheck', 'from']);
  if (value === undefined) return 'local';
  if ((HEALTHCHECK_FROM as readonly unknown[]).includes(value)) return value as HealthCheck['from'];
  r.expected(
    ['healthcheck', 'from'],
    '"local" (fetched from the machine that deploys, the default) or "server" (fetched on the server, over SSH)',
    value,
  );
  return 'local';
}

function readSkip(r: Reader): SkippableStep[] {
  const names = r.strings(['skip'], `an array of step names (${SKIPPABLE_STEPS.join(', ')})`) ?? [];
  return names.filter((name, i): name is SkippableStep => {
    if ((SKIPPABLE_STEPS as readonly string[]).includes(name)) return true;
    r.report(['skip', i], `expected one of ${SKIPPABLE_STEPS.join(', ')}, got ${JSON.stringify(name)}`);
    return false;
  });
}

/** Each SSH option from the server itself, else from its `ssh` group. */
function readSsh(r: Reader): ServerConfig['ssh'] {
  const { raw } = r;
  const grouped = r.object(['ssh']);
  const pick = (key: SshKey): Segment[] => (raw[key] !== undefined || grouped[key] === undefined ? [key] : ['ssh', key]);
  const out: ServerConfig['ssh'] = {};
  const set = <K extends keyof ServerConfig['ssh']>(key: K, value: ServerConfig['ssh'][K] | undefined) => {
    if (value !== undefined) out[key] = value;
  };
  const acceptNew = pick('acceptNewHostKeys');
  if (r.get(acceptNew) !== undefined) set('acceptNewHostKeys', r.bool(acceptNew, false));
  const forward = pick('forwardAgent');
  if (r.get(forward) !== undefined) set('forwardAgent', r.bool(forward, false));
  set('knownHostsFile', r.text(pick('knownHostsFile'), 'a known_hosts file path', controlProblem));
  set('sshConfigFile', r.text(pick('sshConfigFile'), 'an ssh config file path', controlProblem));
  set('proxyJump', r.text(pick('proxyJump'), 'a jump host: an alias or user@host:port (comma-separated for a chain)', noSpaceOrDash));
  set('passphraseEnv', readVariableName(r, pick('passphraseEnv'), 'the passphrase'));
  set('identityEnv', readVariableName(r, pick('identityEnv'), "a private key's text"));
  set('knownHostsEnv', readVariableName(r, pick('knownHostsEnv'), 'known_hosts lines'));
  set(
    'connectTimeout',
    r.number(pick('connectTimeout'), 'a positive number of seconds', (n) => Number.isFinite(n) && n > 0),
  );
  const identity = pick('identityFile');
  const files = r.get(identity);
  if (typeof files === 'string') set('identityFile', r.text(identity, 'a private key file path', controlProblem));
  else if (files !== undefined) {
    const list = r.strings(identity, 'a private key file path, or an array of them');
    if (list?.length === 0) r.expected(identity, 'at least one private key file path', files);
    set('identityFile', list);
  }
  const agent = pick('agent');
  if (r.get(agent) === false) set('agent', false);
  else set('agent', r.text(agent, 'an SSH agent socket path, or false', controlProblem));
  const passphrase = raw.passphrase ?? grouped.passphrase;
  if (typeof passphrase === 'string') set('passphrase', passphrase);
  return out;
}

/**
 * The name of an environment variable (passphraseEnv, identityEnv, knownHostsEnv). What the
 * variable should hold, written into the file instead, is refused without being quoted: a private
 * key's text in an error message would be a leak.
 */
function readVariableName(r: Reader, keys: readonly Segment[], holds: string): string | undefined {
  const what = 'the name of an environment variable';
  const name = /^[A-Za-z_][A-Za-z0-9_]*$/;
  const value = r.get(keys);
  const refuse = (got: string) => void r.report(keys, `expected ${what}, got ${got}`);
  if (typeof value !== 'string' || value === '' || name.test(value)) {
    return r.text(keys, what, (s) => (name.test(s) ? undefined : 'a variable name has letters, digits and "_" only'));
  }
  if (/PRIVATE KEY/.test(value)) refuse(`a private key's text (not shown): ${inVariable(holds)}`);
  else if (/\s(ssh-|ecdsa-|sk-)\S+\s+AAAA/.test(value))
    refuse(`a known_hosts line: ${inVariable(holds)}, or put the lines in a file named by knownHostsFile`);
  else if (/[\r\n]/.test(value) || value.length > 100) refuse(`a long or multi-line text (not shown): ${inVariable(holds)}`);
  else if (/^\$\{?[A-Za-z_][A-Za-z0-9_]*\}?$/.test(value))
    refuse(`${JSON.stringify(value)}: write the name without "$" (gulp-attache reads the variable itself)`);
  else {
    const shown =
      holds === 'the passphrase' ? 'a value that is no variable name (not shown: it may be the passphrase itself)' : JSON.stringify(value);
    refuse(`${shown}: a variable name has letters, digits and "_" only`);
  }
  return undefined;
}

function inVariable(holds: string): string {
  return `put ${holds} in an environment variable (in CI, a secret passed to the job's env) and name that variable here`;
}

/** An array of paths inside the release, normalised. */
function releasePaths(r: Reader, keys: readonly Segment[]): string[] {
  const inRelease = (at: readonly Segment[]) => assetRemote(r.text(at, 'a path inside the release', remoteProblem) ?? '');
  return (r.strings(keys, 'an array of paths inside the release') ?? []).map((_, i) => inRelease([...keys, i]));
}

function readShared(r: Reader): ServerConfig['shared'] {
  r.object(['shared']);
  const shared = { dirs: releasePaths(r, ['shared', 'dirs']), files: releasePaths(r, ['shared', 'files']) };
  sharedNotNested(r, shared);
  return shared;
}

/** Never nested: one shared path inside another (or inside storage, or .env) would be linked twice. */
/**
 * Checks across keys, on the whole server once every key is read. An asset mapping that lands in a
 * path of `shared` would write into the one directory every release links (the live release's
 * too), and the asset reuse would trust a manifest whose files live elsewhere. (The shared storage
 * stays allowed: Attaché's own docs map assets into storage/app/public.)
 */
export const SERVER_CHECKS: ReadonlyArray<(r: Reader, server: ServerConfig) => void> = [assetsOutsideShared];

function assetsOutsideShared(r: Reader, { assets, shared }: ServerConfig): void {
  const overlaps = (remote: string, p: string) => remote === p || remote.startsWith(`${p}/`) || p.startsWith(`${remote}/`);
  for (const { local, remote } of assets) {
    if (remote === '') continue;
    const inside = [...shared.dirs, ...shared.files].find((p) => p !== '' && overlaps(remote, p));
    if (inside) {
      r.report(
        ['assets'],
        `expected asset mappings outside the shared paths, got ${JSON.stringify(local)} -> ${JSON.stringify(remote)}, which overlaps the shared ${JSON.stringify(inside)}: shared paths are the same directory in every release, so the assets of one release would overwrite another's`,
      );
    }
  }
}

function sharedNotNested(r: Reader, { dirs, files }: ServerConfig['shared']): void {
  const claimed: Array<[string, readonly Segment[]]> = [
    ['storage', []],
    ['.env', []],
  ];
  [...dirs.map((p, i) => [p, ['shared', 'dirs', i]] as const), ...files.map((p, i) => [p, ['shared', 'files', i]] as const)].forEach(
    ([p, keys]) => {
      if (p === '') return;
      const clash = claimed.find(([other]) => p === other || p.startsWith(other + '/') || other.startsWith(p + '/'));
      if (clash)
        r.report(
          keys,
          `expected a shared path that is not inside another one, got ${JSON.stringify(p)}, which overlaps ${clash[1].length ? `shared ${JSON.stringify(clash[0])}` : `the shared ${clash[0]}`}`,
        );
      else claimed.push([p, keys]);
    },
  );
}

function readRestart(r: Reader): string[] {
  const restart = r.strings(['restart'], 'an array of artisan commands, e.g. ["queue:restart"]') ?? r.project.restart;
  restart.forEach((command, i) => {
    if (command.startsWith('-'))
      r.report(['restart', i], `expected an artisan command, got ${JSON.stringify(command)}: it starts with "-"`);
    else if (controlProblem(command))
      r.report(['restart', i], `expected an artisan command, got ${JSON.stringify(command)}: ${controlProblem(command)}`);
  });
  return restart;
}
