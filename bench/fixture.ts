/**
 * The benchmark fixture, built deterministically (seeded PRNG, fixed git identities and dates) in
 * bench/.work/fixture/ and reused while its parameters stamp is unchanged:
 *
 *   app/                 a Laravel-shaped app (composer.json without dependencies, composer.lock from a
 *                        real `composer install`, artisan, public/index.php, storage/ with .gitignore files)
 *   app.git              bare clone of it: the deploy repository
 *   build/public/…       the local build output: ~400 files, ~33 MB (js/css text, images random bytes)
 *   long-history/        the app plus 300 commits that add or change random-byte files (~30 MB of blobs)
 *   long-history.git     bare clone of it (for the clone-strategy measurement)
 *   packages/<v>-<name>/ ~100 Composer packages, ~9,000 files (PHP classes of 0.8–7.6 KB in a few
 *                        directories each; some autoload "files", two bins, some Laravel providers)
 *   vendor-app/          the app again, requiring them from a path repository (symlink: false, so an
 *                        install copies, as from dists; offline), its composer.lock made here, and a
 *                        post-autoload-dump script (artisan package:discover), as Laravel's
 *   vendor-app.git       bare clone of it (for the composer vendor measurement)
 *   vendor-app.json      what the measurement needs to know of it (counts, a class and a helper to probe)
 *
 * Run alone with `node --import tsx bench/fixture.ts` (prints a summary).
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { BenchFixture } from './types';

/** Bump when the generator changes in a way the parameters do not show. */
const GENERATOR_VERSION = 2;

export const FIXTURE_PARAMS = {
  generator: GENERATOR_VERSION,
  seed: 0x5eed_a77a,
  branch: 'main',
  app: { modelClasses: 40 },
  assets: {
    // ~8 KB text files
    js: { count: 130, bytes: 8 * 1024 },
    css: { count: 80, bytes: 8 * 1024 },
    // random-byte images: ~60 KB and ~600 KB
    midImages: { count: 151, bytes: 60 * 1024 },
    largeImages: { count: 36, bytes: 600 * 1024 },
    /** Each file's size is bytes × (1 - jitter … 1 + jitter). */
    jitter: 0.25,
  },
  /**
   * The app with real dependencies (bench/measurements/composer-vendor.ts): the app above plus a
   * composer.json that requires `packages` packages from a local path repository (copied, not
   * linked, as an install from dists would), so that `composer install` runs offline.
   */
  vendorApp: {
    packages: 100,
    /** Files of the few framework-sized packages (the first ones); the others get filesPerPackage. */
    largePackages: [1400, 650, 420, 300],
    /** PHP classes per ordinary package: uniform in [min, max] (avg 68 → ~6,500 over 96). */
    filesPerPackage: { min: 16, max: 120 },
    /** A class's size: bytes × (1 - jitter … 1 + jitter) (Laravel's vendor/ averages ~4–5 KB a file). */
    classBytes: 4200,
    classJitter: 0.8,
    /** Every n-th package has an autoload "files" helper; the first `bins` packages have a bin entry. */
    filesEvery: 7,
    bins: 2,
  },
  longHistory: {
    commits: 300,
    /** Files written per commit after the first: 1 … filesPerCommitMax (avg 2). */
    filesPerCommitMax: 3,
    /** Sizes of those files: uniform in [minBytes, maxBytes] (avg 50 KiB → ~30 MB over 300 commits). */
    minBytes: 20 * 1024,
    maxBytes: 80 * 1024,
    /** Chance that a commit's file is new rather than a rewrite of an existing one. */
    newFileChance: 0.6,
  },
} as const;

export const ASSET_PATHS = ['public/js', 'public/css', 'public/images'] as const;

const GIT_DATE = 1704067200; // 2024-01-01T00:00:00Z

// ---------------------------------------------------------------------------------------------
// Seeded PRNG (mulberry32): deterministic on every platform.

export class Prng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  /** Uniform uint32. */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  /** Uniform in [0, 1). */
  float(): number {
    return this.next() / 0x1_0000_0000;
  }
  /** Integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.float() * (max - min + 1));
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.float() * items.length)];
  }
  bytes(n: number): Buffer {
    const buf = Buffer.allocUnsafe(Math.ceil(n / 4) * 4);
    for (let i = 0; i < buf.length; i += 4) buf.writeUInt32LE(this.next(), i);
    return buf.subarray(0, n);
  }
}

function jittered(rng: Prng, bytes: number, jitter: number): number {
  return Math.round(bytes * (1 - jitter + 2 * jitter * rng.float()));
}

// ---------------------------------------------------------------------------------------------
// Generators

const WORDS = [
  'app',
  'user',
  'cart',
  'order',
  'item',
  'price',
  'total',
  'modal',
  'menu',
  'list',
  'form',
  'input',
  'state',
  'store',
  'fetch',
  'render',
  'update',
  'value',
  'event',
  'route',
];

function jsText(rng: Prng, size: number, name: string): Buffer {
  const lines = [`/*! ${name} — generated by the gulp-attache bench */`, '(function () {', "  'use strict';"];
  let length = lines.join('\n').length;
  let i = 0;
  while (length < size) {
    const a = rng.pick(WORDS);
    const b = rng.pick(WORDS);
    const line =
      i % 3 === 0
        ? `  function ${a}_${b}_${i}(x, y) { return x * ${rng.int(1, 999)} + y.${b}Count - ${rng.int(0, 99)}; }`
        : i % 3 === 1
          ? `  var ${a}${i} = { name: "${a}-${b}", size: ${rng.int(0, 65535)}, enabled: ${rng.float() < 0.5} };`
          : `  document.addEventListener("${b}", function (e) { ${a}_${b}_${i - 2}(e.detail, { ${b}Count: ${rng.int(1, 50)} }); });`;
    lines.push(line);
    length += line.length + 1;
    i++;
  }
  lines.push('})();');
  return Buffer.from(lines.join('\n')).subarray(0, size);
}

function cssText(rng: Prng, size: number, name: string): Buffer {
  const rules = [`/*! ${name} — generated by the gulp-attache bench */`];
  let length = rules[0].length;
  let i = 0;
  while (length < size) {
    const hex = rng.next().toString(16).padStart(8, '0').slice(0, 6);
    const rule = `.${rng.pick(WORDS)}-${rng.pick(WORDS)}-${i} { margin: ${rng.int(0, 64)}px ${rng.int(0, 64)}px; color: #${hex}; display: ${rng.pick(['block', 'flex', 'grid', 'inline-block'])}; }`;
    rules.push(rule);
    length += rule.length + 1;
    i++;
  }
  return Buffer.from(rules.join('\n')).subarray(0, size);
}

const PNG_MAGIC = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const JPEG_MAGIC = Buffer.from([0xff, 0xd8, 0xff, 0xe0]);

function image(rng: Prng, size: number, magic: Buffer): Buffer {
  const body = rng.bytes(size);
  magic.copy(body, 0);
  return body;
}

interface GenFile {
  path: string;
  content: Buffer;
  mode?: number;
}

function appFiles(rng: Prng): GenFile[] {
  const files: GenFile[] = [];
  const add = (p: string, text: string, mode?: number) => files.push({ path: p, content: Buffer.from(text), mode });

  add(
    'composer.json',
    JSON.stringify(
      {
        name: 'bench/app',
        description: 'A Laravel-shaped application for the gulp-attache benchmark (no dependencies).',
        type: 'project',
        license: 'MIT',
        require: {},
        autoload: { 'psr-4': { 'App\\': 'app/' } },
        // No network: the bench machine only reaches the npm registry.
        repositories: [{ 'packagist.org': false }],
        config: { 'sort-packages': true },
      },
      null,
      4,
    ) + '\n',
  );
  add(
    '.gitignore',
    [
      '/vendor',
      '/node_modules',
      '/public/js',
      '/public/css',
      '/public/images',
      '/public/storage',
      '/public/mix-manifest.json',
      '.env',
      '',
    ].join('\n'),
  );
  add('.env.example', 'APP_NAME=Bench\nAPP_ENV=production\nAPP_KEY=\nAPP_DEBUG=false\nAPP_URL=http://localhost\n');
  add('artisan', artisanStandIn('just what a deploy calls (storage:link).'), 0o755);
  add(
    'public/index.php',
    `<?php
define('LARAVEL_START', microtime(true));
require __DIR__ . '/../vendor/autoload.php';
$app = require_once __DIR__ . '/../bootstrap/app.php';
echo $app->handle($_SERVER['REQUEST_URI'] ?? '/');
`,
  );
  add('public/robots.txt', 'User-agent: *\nDisallow:\n');
  add(
    'bootstrap/app.php',
    `<?php
return new App\\Application(dirname(__DIR__));
`,
  );
  add('bootstrap/cache/.gitignore', '*\n!.gitignore\n');
  add(
    'app/Application.php',
    `<?php
namespace App;

class Application
{
    public function __construct(private string $basePath) {}

    public function handle(string $uri): string
    {
        return (new Http\\Controllers\\HomeController())->index($uri);
    }
}
`,
  );
  add(
    'app/Http/Controllers/HomeController.php',
    `<?php
namespace App\\Http\\Controllers;

class HomeController
{
    public function index(string $uri): string
    {
        return "release ok: " . htmlspecialchars($uri) . "\\n";
    }
}
`,
  );
  for (let i = 0; i < FIXTURE_PARAMS.app.modelClasses; i++) {
    const name = `${cap(rng.pick(WORDS))}${cap(rng.pick(WORDS))}${i}`;
    const fields = Array.from({ length: rng.int(3, 12) }, (_, j) => `        '${rng.pick(WORDS)}_${j}',`).join('\n');
    add(
      `app/Models/${name}.php`,
      `<?php
namespace App\\Models;

class ${name}
{
    protected array $fillable = [
${fields}
    ];

    public function table(): string
    {
        return '${name.toLowerCase()}s';
    }
}
`,
    );
  }
  add(
    'config/app.php',
    `<?php\nreturn [\n    'name' => env('APP_NAME', 'Bench'),\n    'env' => env('APP_ENV', 'production'),\n    'debug' => false,\n];\n`,
  );
  add('routes/web.php', `<?php\n// Route::get('/', [App\\Http\\Controllers\\HomeController::class, 'index']);\n`);
  add(
    'resources/views/welcome.blade.php',
    '<!doctype html>\n<html><head><link rel="stylesheet" href="/css/app.css"></head><body><h1>Bench</h1><script src="/js/app.js"></script></body></html>\n',
  );
  add('storage/app/.gitignore', '*\n!public/\n!.gitignore\n');
  add('storage/app/public/.gitignore', '*\n!.gitignore\n');
  add(
    'storage/framework/.gitignore',
    'compiled.php\nconfig.php\ndown\nevents.scanned.php\nmaintenance.php\nroutes.php\nroutes.scanned.php\nschedule-*\nservices.json\n',
  );
  for (const dir of ['cache', 'sessions', 'testing', 'views']) add(`storage/framework/${dir}/.gitignore`, '*\n!.gitignore\n');
  add('storage/logs/.gitignore', '*\n!.gitignore\n');
  return files;
}

function cap(s: string): string {
  return s[0].toUpperCase() + s.slice(1);
}

function assetFiles(rng: Prng): GenFile[] {
  const a = FIXTURE_PARAMS.assets;
  const files: GenFile[] = [];
  const pad = (n: number) => String(n).padStart(3, '0');
  for (let i = 0; i < a.js.count; i++) {
    const p = `public/js/${i === 0 ? 'app' : `chunk-${pad(i)}`}.js`;
    files.push({ path: p, content: jsText(rng, jittered(rng, a.js.bytes, a.jitter), p) });
  }
  for (let i = 0; i < a.css.count; i++) {
    const p = `public/css/${i === 0 ? 'app' : `part-${pad(i)}`}.css`;
    files.push({ path: p, content: cssText(rng, jittered(rng, a.css.bytes, a.jitter), p) });
  }
  const categories = ['shoes', 'bags', 'hats', 'coats', 'gloves', 'scarves'];
  for (let i = 0; i < a.midImages.count; i++) {
    files.push({
      path: `public/images/products/${categories[i % categories.length]}/p-${pad(i)}.jpg`,
      content: image(rng, jittered(rng, a.midImages.bytes, a.jitter), JPEG_MAGIC),
    });
  }
  for (let i = 0; i < a.largeImages.count; i++) {
    files.push({
      path: `public/images/${i % 3 === 0 ? 'hero' : 'gallery'}/l-${pad(i)}.png`,
      content: image(rng, jittered(rng, a.largeImages.bytes, a.jitter), PNG_MAGIC),
    });
  }
  return files;
}

// ---------------------------------------------------------------------------------------------
// The vendor app's packages

const VENDORS = ['nimbus', 'vertex', 'quark', 'lumen', 'orbit', 'stratus', 'harbor', 'cobalt', 'ember', 'granite', 'halcyon', 'tidal'];
const PACKAGE_WORDS = [
  'http',
  'cache',
  'queue',
  'events',
  'support',
  'console',
  'routing',
  'view',
  'mail',
  'log',
  'auth',
  'crypt',
  'database',
  'filesystem',
  'validation',
  'translation',
  'session',
  'cookie',
  'pipeline',
  'container',
  'config',
  'collections',
  'macroable',
  'uuid',
  'clock',
  'money',
  'markdown',
  'yaml',
  'dotenv',
  'process',
  'finder',
  'mime',
  'intl',
  'polyfill',
  'promises',
  'oauth',
  'jwt',
  'image',
  'pdf',
  'csv',
  'redis',
  'search',
  'debug',
  'dumper',
  'var-exporter',
  'error-handler',
  'string',
  'lexer',
  'inflector',
  'parser',
  'serializer',
  'hydrator',
  'json',
  'stream',
  'message',
  'notifications',
  'broadcasting',
  'scheduler',
  'health',
  'tenancy',
];
const PACKAGE_SUFFIXES = ['contracts', 'bridge', 'kit', 'client', 'driver', 'extra'];
const SUBDIRS = [
  'Contracts',
  'Exceptions',
  'Support',
  'Concerns',
  'Events',
  'Drivers',
  'Console',
  'Http',
  'Middleware',
  'Testing',
  'Factories',
  'Resolvers',
  'Handlers',
  'Internal',
  'Adapters',
  'Storage',
  'Query',
  'Listeners',
  'Casts',
  'Rules',
];
const CLASS_SUFFIXES = [
  'Manager',
  'Factory',
  'Resolver',
  'Handler',
  'Builder',
  'Repository',
  'Provider',
  'Driver',
  'Store',
  'Collection',
  'Parser',
  'Formatter',
  'Registry',
  'Pipeline',
  'Adapter',
  '',
];
const PROPERTIES: ReadonlyArray<readonly [string, string]> = [
  ['array', '[]'],
  ['?string', 'null'],
  ['int', '0'],
  ['bool', 'false'],
];
const TYPES = ['int', 'string', 'array', 'bool', 'float', '?string', 'iterable', 'mixed'];

function studly(s: string): string {
  return s.split(/[-_]/).map(cap).join('');
}

/** One PHP class (interface, trait or exception by its directory) of about `size` bytes, valid PHP. */
function phpClass(rng: Prng, namespace: string, dir: string, name: string, size: number, uses: string[]): string {
  const kind = dir.endsWith('Contracts') ? 'interface' : dir.endsWith('Concerns') ? 'trait' : 'class';
  const head = [
    '<?php',
    '',
    'declare(strict_types=1);',
    '',
    `namespace ${namespace};`,
    '',
    ...uses.map((u) => `use ${u};`),
    ...(uses.length ? [''] : []),
    '/**',
    ` * ${cap(rng.pick(WORDS))} ${rng.pick(WORDS)} ${rng.pick(WORDS)} support for the ${rng.pick(WORDS)} ${rng.pick(WORDS)}.`,
    ' *',
    ` * @internal generated by the gulp-attache bench`,
    ' */',
    dir.endsWith('Exceptions') ? `class ${name} extends \\RuntimeException` : `${kind} ${name}`,
    '{',
  ];
  const body: string[] = [];
  if (kind !== 'interface') {
    for (let i = 0; i < rng.int(1, 5); i++) {
      const [type, value] = rng.pick(PROPERTIES);
      body.push(`    protected ${type} $${rng.pick(WORDS)}${cap(rng.pick(WORDS))}${i} = ${value};`, '');
    }
  }
  let length = head.join('\n').length + body.join('\n').length;
  for (let m = 0; length < size; m++) {
    const method = `${rng.pick(['get', 'set', 'resolve', 'make', 'build', 'handle', 'with', 'has', 'forget', 'push'])}${cap(rng.pick(WORDS))}${cap(rng.pick(WORDS))}${m}`;
    const params = Array.from({ length: rng.int(0, 3) }, (_, j) => `${rng.pick(TYPES)} $${rng.pick(WORDS)}${j}`);
    const returns = rng.pick(['array', 'string', 'int', 'bool', 'static', 'void', '?array']);
    const doc = [
      '    /**',
      `     * ${cap(rng.pick(WORDS))} the ${rng.pick(WORDS)} ${rng.pick(WORDS)} when the ${rng.pick(WORDS)} is ${rng.pick(['set', 'empty', 'known', 'stale', 'locked'])}.`,
      '     *',
      ...params.map((p) => `     * @param ${p.replace(' ', '  ')}`),
      `     * @return ${returns}`,
      '     */',
    ];
    const signature = `    public function ${method}(${params.join(', ')}): ${returns}`;
    let lines: string[];
    if (kind === 'interface') lines = [...doc, `${signature};`, ''];
    else {
      const value =
        {
          array: '$result',
          '?array': '$result ?: null',
          string: "implode(',', $result)",
          int: 'count($result)',
          bool: '$result !== []',
          static: '$this',
          void: '',
        }[returns] ?? 'null';
      lines = [
        ...doc,
        signature,
        '    {',
        '        $result = [];',
        `        foreach (${params.length ? `(array) $${params[0].split('$')[1]}` : `[${rng.int(1, 9)}, ${rng.int(10, 99)}]`} as $key => $value) {`,
        `            if ($value !== null && $key !== '${rng.pick(WORDS)}') {`,
        `                $result[$key] = is_scalar($value) ? $value : ${rng.int(0, 999)};`,
        '            }',
        '        }',
        ...(returns === 'void' ? [] : [`        return ${value};`]),
        '    }',
        '',
      ];
    }
    body.push(...lines);
    length += lines.join('\n').length + 1;
  }
  if (body[body.length - 1] === '') body.pop();
  return `${[...head, ...body, '}'].join('\n')}\n`;
}

interface GenPackage {
  name: string;
  /** The package's directory in the path repository. */
  dir: string;
  namespace: string;
  /** Its composer.json, without "require" until the dependency tree is drawn. */
  manifest: Record<string, unknown> & { require: Record<string, string> };
  files: GenFile[];
  /** Whether another package requires it (else the app does). */
  required: boolean;
}

/** The vendor app's packages: names, psr-4 namespaces, classes in a few directories, some helpers, bins and providers. */
function vendorPackages(rng: Prng): GenPackage[] {
  const p = FIXTURE_PARAMS.vendorApp;
  const taken = new Set<string>();
  const packages: GenPackage[] = [];
  for (let i = 0; i < p.packages; i++) {
    const vendor = rng.pick(VENDORS);
    let base = rng.pick(PACKAGE_WORDS);
    while (taken.has(`${vendor}/${base}`)) base = `${rng.pick(PACKAGE_WORDS)}-${rng.pick(PACKAGE_SUFFIXES)}`;
    const name = `${vendor}/${base}`;
    taken.add(name);
    const namespace = `${studly(vendor)}\\${studly(base)}`;
    const fileCount = i < p.largePackages.length ? p.largePackages[i] : rng.int(p.filesPerPackage.min, p.filesPerPackage.max);
    const files: GenFile[] = [];
    const add = (file: string, text: string, mode?: number) => files.push({ path: file, content: Buffer.from(text), mode });
    const autoload: Record<string, unknown> = { 'psr-4': { [`${namespace}\\`]: 'src/' } };
    const extra: Record<string, unknown> = {};
    const bin: string[] = [];
    add(
      'README.md',
      `# ${name}\n\n${Array.from({ length: rng.int(8, 40) }, () => `${cap(rng.pick(WORDS))} ${rng.pick(WORDS)} ${rng.pick(WORDS)} ${rng.pick(WORDS)}.`).join(' ')}\n`,
    );
    add(
      'LICENSE',
      `The MIT License (MIT)\n\nCopyright (c) ${name} contributors\n\nPermission is hereby granted, free of charge, to any person obtaining a copy of this software.\n`,
    );
    if (i % p.filesEvery === 3) {
      autoload.files = ['src/helpers.php'];
      const fn = `${vendor}_${base.replace(/-/g, '_')}`;
      add(
        'src/helpers.php',
        `<?php\n\nif (! function_exists('${fn}')) {\n    function ${fn}(mixed $value = null): mixed\n    {\n        return $value;\n    }\n}\n`,
      );
    }
    if (i < p.bins) {
      const binName = `${vendor}-${base}`;
      bin.push(`bin/${binName}`);
      add(
        `bin/${binName}`,
        `#!/usr/bin/env php\n<?php\n\nrequire $_composer_autoload_path ?? __DIR__ . '/../../../autoload.php';\necho "${name}\\n";\n`,
        0o755,
      );
    }
    if (i % 5 === 1) {
      extra.laravel = { providers: [`${namespace}\\${studly(base)}ServiceProvider`] };
      add(`src/${studly(base)}ServiceProvider.php`, phpClass(rng, namespace, 'src', `${studly(base)}ServiceProvider`, 1500, []));
      add(
        `config/${base}.php`,
        `<?php\n\nreturn [\n${Array.from({ length: rng.int(5, 30) }, (_, j) => `    '${rng.pick(WORDS)}_${j}' => env('${base.toUpperCase().replace(/-/g, '_')}_${j}', ${rng.int(0, 100)}),`).join('\n')}\n];\n`,
      );
    }
    // Classes in a few directories (the big packages in nested ones too).
    const dirCount = Math.min(SUBDIRS.length, Math.max(2, Math.round(Math.sqrt(fileCount) / 1.6)));
    const dirs: string[] = [];
    for (let d = 0; d < dirCount; d++) {
      const top = rng.pick(SUBDIRS);
      dirs.push(fileCount > 300 && rng.float() < 0.5 ? `${top}/${rng.pick(SUBDIRS)}` : top);
    }
    const names = new Set<string>();
    for (let f = 0; files.length < fileCount; f++) {
      const dir = rng.pick(dirs);
      let cls = `${cap(rng.pick(WORDS))}${cap(rng.pick(WORDS))}${rng.pick(CLASS_SUFFIXES)}`;
      if (dir.endsWith('Exceptions')) cls = `${cap(rng.pick(WORDS))}${cap(rng.pick(WORDS))}Exception`;
      if (dir.endsWith('Contracts')) cls = `${cap(rng.pick(WORDS))}${cap(rng.pick(WORDS))}`;
      while (names.has(`${dir}/${cls}`)) cls = `${cls}${f}`;
      names.add(`${dir}/${cls}`);
      const uses = Array.from(
        { length: rng.int(0, 4) },
        () => `${namespace}\\${rng.pick(dirs).replace(/\//g, '\\')}\\${cap(rng.pick(WORDS))}${cap(rng.pick(WORDS))}`,
      );
      // An imported name may be neither the class's own nor another import's.
      const short = (u: string) => u.slice(u.lastIndexOf('\\') + 1);
      const imported = uses.filter((u, k) => short(u) !== cls && uses.findIndex((v) => short(v) === short(u)) === k);
      add(
        `src/${dir}/${cls}.php`,
        phpClass(rng, `${namespace}\\${dir.replace(/\//g, '\\')}`, dir, cls, jittered(rng, p.classBytes, p.classJitter), imported),
      );
    }
    const manifest = {
      name,
      description: `The ${base} component of ${vendor} (generated by the gulp-attache bench).`,
      type: 'library',
      license: 'MIT',
      version: `1.${rng.int(0, 12)}.${rng.int(0, 9)}`,
      require: { php: '>=8.1' },
      autoload,
      ...(bin.length ? { bin } : {}),
      ...(Object.keys(extra).length ? { extra } : {}),
    };
    packages.push({ name, dir: name.replace('/', '-'), namespace, manifest, files, required: false });
  }
  // Every package is required by an earlier one or by the app: a dependency tree, as a real app's.
  for (let i = 1; i < packages.length; i++) {
    if (rng.float() < 0.6) {
      packages[rng.int(0, i - 1)].manifest.require[packages[i].name] = '^1.0';
      packages[i].required = true;
    }
  }
  for (const pkg of packages) pkg.files.push({ path: 'composer.json', content: Buffer.from(`${JSON.stringify(pkg.manifest, null, 4)}\n`) });
  return packages;
}

// ---------------------------------------------------------------------------------------------
// Building

function gitEnv(): NodeJS.ProcessEnv {
  const date = `${GIT_DATE} +0000`;
  return {
    ...process.env,
    GIT_AUTHOR_NAME: 'Bench',
    GIT_AUTHOR_EMAIL: 'bench@example.invalid',
    GIT_COMMITTER_NAME: 'Bench',
    GIT_COMMITTER_EMAIL: 'bench@example.invalid',
    GIT_AUTHOR_DATE: date,
    GIT_COMMITTER_DATE: date,
    // Neither the user's nor the system's git config may change what gets built.
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_CONFIG_NOSYSTEM: '1',
  };
}

function git(args: string[], cwd?: string, input?: Buffer): string {
  return execFileSync('git', args, {
    cwd,
    env: gitEnv(),
    input,
    stdio: [input ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    maxBuffer: 64 * 1024 * 1024,
  }).toString();
}

function writeFiles(root: string, files: GenFile[]): void {
  for (const f of files) {
    const full = path.join(root, f.path);
    mkdirSync(path.dirname(full), { recursive: true });
    writeFileSync(full, f.content);
    if (f.mode) chmodSync(full, f.mode);
  }
}

function buildApp(dir: string, workDir: string, rng: Prng): void {
  const tree = path.join(dir, 'app');
  writeFiles(tree, appFiles(rng));
  git(['init', '-q', '-b', FIXTURE_PARAMS.branch], tree);
  // composer.lock the real way: `composer install` once (also leaves vendor/, which is ignored).
  execFileSync('composer', ['install', '--no-interaction', '--no-progress'], {
    cwd: tree,
    env: composerEnv(workDir),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (!existsSync(path.join(tree, 'composer.lock'))) throw new Error('composer install did not write composer.lock');
  git(['add', '-A'], tree);
  git(['commit', '-q', '-m', 'Laravel-shaped app for the gulp-attache bench'], tree);
  git(['clone', '-q', '--bare', '--no-local', tree, path.join(dir, 'app.git')]);
}

/** Composer as the fixture runs it: as root, offline-ready, its cache in the work directory. */
function composerEnv(workDir: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    COMPOSER_ALLOW_SUPERUSER: '1',
    COMPOSER_HOME: path.join(workDir, 'composer-home'),
    COMPOSER_NO_INTERACTION: '1',
  };
}

/**
 * A stand-in for Laravel's artisan: `says` what it serves, `commands` are the branches before
 * storage:link (what a deploy calls), which every app has.
 */
function artisanStandIn(says: string, commands = ''): string {
  return `#!/usr/bin/env php
<?php
// A stand-in for Laravel's artisan: ${says}
$command = $argv[1] ?? 'list';
${commands}if ($command === 'storage:link') {
    $link = __DIR__ . '/public/storage';
    if (is_link($link) || file_exists($link)) {
        echo "The [public/storage] link already exists.\\n";
        exit(0);
    }
    symlink(__DIR__ . '/storage/app/public', $link);
    echo "The [public/storage] link has been connected to [storage/app/public].\\n";
    exit(0);
}
fwrite(STDERR, "Command \\"$command\\" is not defined.\\n");
exit(1);
`;
}

/** A stand-in for Laravel's artisan with the command its composer.json's post-autoload-dump runs (package:discover). */
const VENDOR_APP_ARTISAN = artisanStandIn(
  `what a deploy calls (storage:link) and what Composer's
// post-autoload-dump calls (package:discover: the providers of vendor/composer/installed.json).`,
  `if ($command === 'package:discover') {
    require __DIR__ . '/vendor/autoload.php';
    $installed = json_decode(file_get_contents(__DIR__ . '/vendor/composer/installed.json'), true);
    $manifest = [];
    foreach ($installed['packages'] ?? $installed as $package) {
        if (!empty($package['extra']['laravel'])) {
            $manifest[$package['name']] = $package['extra']['laravel'];
            echo "  {$package['name']} DONE\\n";
        }
    }
    file_put_contents(__DIR__ . '/bootstrap/cache/packages.php', '<?php return ' . var_export($manifest, true) . ';' . PHP_EOL);
    exit(0);
}
`,
);

/**
 * The vendor app: the packages written to `<dir>/packages/<vendor>-<name>/` (one path repository,
 * `symlink: false`: an install copies their files), and the app (the same Laravel-shaped tree as
 * app/) requiring them, its composer.lock made offline by `composer update --no-install`.
 */
function buildVendorApp(dir: string, workDir: string, rng: Prng): BenchFixture['vendorApp'] {
  const packagesDir = path.join(dir, 'packages');
  const packages = vendorPackages(rng);
  let vendorFiles = 0;
  let vendorBytes = 0;
  for (const pkg of packages) {
    writeFiles(path.join(packagesDir, pkg.dir), pkg.files);
    vendorFiles += pkg.files.length;
    vendorBytes += pkg.files.reduce((sum, f) => sum + f.content.length, 0);
  }
  const tree = path.join(dir, 'vendor-app');
  const files = appFiles(new Prng(FIXTURE_PARAMS.seed ^ 0x4)).filter((f) => f.path !== 'composer.json' && f.path !== 'artisan');
  const direct = packages.filter((p) => !p.required);
  files.push({ path: 'artisan', content: Buffer.from(VENDOR_APP_ARTISAN), mode: 0o755 });
  files.push({
    path: 'composer.json',
    content: Buffer.from(
      `${JSON.stringify(
        {
          name: 'bench/vendor-app',
          description: `A Laravel-shaped application with ${packages.length} packages for the gulp-attache benchmark.`,
          type: 'project',
          license: 'MIT',
          require: { php: '^8.1', ...Object.fromEntries(direct.map((p) => [p.name, '^1.0'])) },
          autoload: { 'psr-4': { 'App\\': 'app/' } },
          scripts: { 'post-autoload-dump': ['@php artisan package:discover --ansi'] },
          // No network: the packages come from this machine's path repository (the server is this machine).
          repositories: [{ type: 'path', url: path.join(packagesDir, '*'), options: { symlink: false } }, { 'packagist.org': false }],
          config: { 'sort-packages': true, 'optimize-autoloader': true },
          'minimum-stability': 'stable',
        },
        null,
        4,
      )}\n`,
    ),
  });
  writeFiles(tree, files);
  git(['init', '-q', '-b', FIXTURE_PARAMS.branch], tree);
  execFileSync('composer', ['update', '--no-interaction', '--no-progress', '--no-install', '--no-scripts'], {
    cwd: tree,
    env: composerEnv(workDir),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lock = JSON.parse(readFileSync(path.join(tree, 'composer.lock'), 'utf8')) as { packages: unknown[] };
  if (lock.packages.length !== packages.length)
    throw new Error(`the vendor app's composer.lock has ${lock.packages.length} packages, not ${packages.length}`);
  git(['add', '-A'], tree);
  git(['commit', '-q', '-m', `Laravel-shaped app with ${packages.length} packages for the gulp-attache bench`], tree);
  git(['clone', '-q', '--bare', '--no-local', tree, path.join(dir, 'vendor-app.git')]);
  const provider = packages.find((p) => (p.manifest.extra as { laravel?: { providers: string[] } } | undefined)?.laravel);
  const helper = packages.find((p) => (p.manifest.autoload as { files?: string[] }).files);
  if (!provider || !helper) throw new Error('the vendor app has no package with a provider or a helper file');
  return {
    repo: path.join(dir, 'vendor-app.git'),
    repoUrl: `file://${path.join(dir, 'vendor-app.git')}`,
    packagesDir,
    packages: packages.length,
    files: vendorFiles,
    bytes: vendorBytes,
    probe: {
      className: (provider.manifest.extra as { laravel: { providers: string[] } }).laravel.providers[0],
      functionName: helper.name.replace(/[/-]/g, '_'),
    },
  };
}

function buildLongHistory(dir: string, rng: Prng): number {
  const p = FIXTURE_PARAMS.longHistory;
  const tree = path.join(dir, 'long-history');
  mkdirSync(tree, { recursive: true });
  git(['init', '-q', '-b', FIXTURE_PARAMS.branch], tree);

  // The first commit is the app as committed in app/ (so the repository is deployable);
  // then commits that add or rewrite random-byte files. Written with git fast-import: fast and exact.
  const appTree = path.join(dir, 'app');
  const first = git(['ls-files', '-s'], appTree)
    .trim()
    .split('\n')
    .map((line) => {
      const [meta, file] = line.split('\t');
      return { mode: meta.split(' ')[0], path: file, content: readFileSync(path.join(appTree, file)) };
    });

  const chunks: Buffer[] = [];
  const text = (s: string) => chunks.push(Buffer.from(s));
  const data = (content: Buffer) => {
    text(`data ${content.length}\n`);
    chunks.push(content);
    text('\n');
  };
  const existing: string[] = [];
  let blobBytes = 0;
  for (let c = 1; c <= p.commits; c++) {
    const when = `${GIT_DATE + c * 3600} +0000`;
    text(`commit refs/heads/${FIXTURE_PARAMS.branch}\nmark :${c}\n`);
    text(`author Bench <bench@example.invalid> ${when}\ncommitter Bench <bench@example.invalid> ${when}\n`);
    const changes: { mode: string; path: string; content: Buffer }[] = [];
    if (c === 1) {
      data(Buffer.from('Laravel-shaped app for the gulp-attache bench\n'));
      changes.push(...first);
    } else {
      const n = rng.int(1, p.filesPerCommitMax);
      for (let k = 0; k < n; k++) {
        const isNew = existing.length === 0 || rng.float() < p.newFileChance;
        const file = isNew ? `resources/data/set-${c % 10}/blob-${String(c).padStart(3, '0')}-${k}.bin` : rng.pick(existing);
        if (isNew) existing.push(file);
        changes.push({ mode: '100644', path: file, content: rng.bytes(rng.int(p.minBytes, p.maxBytes)) });
      }
      data(Buffer.from(`Data update ${c}: ${changes.map((x) => x.path).join(', ')}\n`));
    }
    for (const change of changes) {
      text(`M ${change.mode} inline ${change.path}\n`);
      data(change.content);
      blobBytes += change.content.length;
    }
    text('\n');
  }
  git(['fast-import', '--quiet'], tree, Buffer.concat(chunks));
  git(['reset', '-q', '--hard', FIXTURE_PARAMS.branch], tree);
  git(['clone', '-q', '--bare', '--no-local', tree, path.join(dir, 'long-history.git')]);
  return blobBytes;
}

function listFiles(root: string, rel = ''): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(path.join(root, rel), { withFileTypes: true })) {
    const child = rel ? `${rel}/${entry.name}` : entry.name;
    if (entry.isDirectory()) out.push(...listFiles(root, child));
    else if (entry.isFile()) out.push(child);
  }
  return out.sort();
}

/** Builds the fixture under `<workDir>/fixture`, or reuses it when its stamp matches FIXTURE_PARAMS. */
export function buildFixture(workDir: string, log: (message: string) => void = () => {}): BenchFixture {
  const dir = path.join(workDir, 'fixture');
  const stampFile = path.join(dir, 'stamp.json');
  const stamp = JSON.stringify(FIXTURE_PARAMS);
  const paths = ['app.git', 'long-history.git', 'build/public', 'vendor-app.git', 'vendor-app.json'].map((p) => path.join(dir, p));
  const reused = existsSync(stampFile) && readFileSync(stampFile, 'utf8') === stamp && paths.every((p) => existsSync(p));

  if (!reused) {
    const started = Date.now();
    log(`building the fixture in ${dir}`);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    // One stream per part, so that changing one part's parameters leaves the others' bytes alone.
    buildApp(dir, workDir, new Prng(FIXTURE_PARAMS.seed ^ 0x1));
    writeFiles(path.join(dir, 'build'), assetFiles(new Prng(FIXTURE_PARAMS.seed ^ 0x2)));
    const historyBytes = buildLongHistory(dir, new Prng(FIXTURE_PARAMS.seed ^ 0x3));
    const vendorApp = buildVendorApp(dir, workDir, new Prng(FIXTURE_PARAMS.seed ^ 0x5));
    writeFileSync(path.join(dir, 'vendor-app.json'), `${JSON.stringify(vendorApp, null, 2)}\n`);
    writeFileSync(stampFile, stamp);
    log(
      `fixture built in ${((Date.now() - started) / 1000).toFixed(1)} s (long history: ${(historyBytes / 1e6).toFixed(1)} MB of blobs; ` +
        `vendor app: ${vendorApp.packages} packages, ${vendorApp.files} files, ${(vendorApp.bytes / 1e6).toFixed(1)} MB)`,
    );
  }

  const buildDir = path.join(dir, 'build');
  const assetList = listFiles(buildDir);
  const assetBytes = assetList.reduce((sum, f) => sum + statSync(path.join(buildDir, f)).size, 0);
  const commits = Number(git(['rev-list', '--count', FIXTURE_PARAMS.branch], path.join(dir, 'long-history.git')).trim());
  return {
    dir,
    branch: FIXTURE_PARAMS.branch,
    appRepo: path.join(dir, 'app.git'),
    appRepoUrl: `file://${path.join(dir, 'app.git')}`,
    appWorkTree: path.join(dir, 'app'),
    buildDir,
    assetPaths: ASSET_PATHS,
    assetFiles: assetList,
    assetFileCount: assetList.length,
    assetBytes,
    longHistoryRepo: path.join(dir, 'long-history.git'),
    longHistoryRepoUrl: `file://${path.join(dir, 'long-history.git')}`,
    longHistoryCommits: commits,
    vendorApp: JSON.parse(readFileSync(path.join(dir, 'vendor-app.json'), 'utf8')) as BenchFixture['vendorApp'],
    reused,
  };
}

if (require.main === module) {
  const fixture = buildFixture(path.join(__dirname, '.work'), (m) => console.log(m));
  const { assetFiles: _files, ...summary } = fixture;
  console.log(JSON.stringify(summary, null, 2));
}
