import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { HOOK_DOCS, SERVER_SCHEMA, TOP_SCHEMA, type KeyDoc, type ServerKey } from '../src/config/schema';
import { HOOK_NAMES } from '../src/config/types';

/**
 * docs/configuration.md, made from the schema's table (src/config/schema.ts): `npm run docs:config`
 * writes it, and test/unit/config-docs.test.ts fails when the file differs, so the reference cannot
 * drift from what the loader does. The prose around the tables is here; each key's words are in the table.
 */

export const DOC_FILE = path.resolve(__dirname, '../docs/configuration.md');

/** The example the doc opens with; the test loads it, so it stays a valid configuration. */
export const EXAMPLE = {
  repository: 'git@github.com:acme/shop.git',
  default: 'production',
  common: {
    user: 'deploy',
    root: '/var/www/shop',
    branch: 'main',
    php: { bin: 'php8.3' },
    scripts: { 'after-composer': ['@php @artisan config:cache'] },
  },
  servers: {
    production: { host: 'shop.example.com', migrate: true, healthcheck: 'https://shop.example.com/up' },
    staging: { host: 'staging.example.com', branch: 'develop', keep: 3 },
    web2: { host: 'web2.example.com' },
  },
  groups: { web: ['production', 'web2'] },
};

const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
const code = (value: unknown) => `\`${typeof value === 'string' ? value : JSON.stringify(value)}\``;

function shownDefault(key: KeyDoc & { keys?: unknown }): string {
  if (key.shown !== undefined) return key.shown;
  const value = key.default;
  if (value === undefined) return '';
  if (Array.isArray(value)) return value.length ? value.map(code).join(', ') : '`[]`';
  if (typeof value === 'object' && value !== null) return key.keys && Object.keys(value).length ? 'see below' : code(value);
  return typeof value === 'number' ? String(value) : code(value);
}

function table(rows: Array<[string, KeyDoc]>): string {
  return [
    '| key | type | default | meaning |',
    '|---|---|---|---|',
    ...rows.map(([key, doc]) => `| \`${key}\` | ${cell(doc.type)} | ${cell(shownDefault(doc))} | ${cell(doc.doc)} |`),
  ].join('\n');
}

/** A server's keys, each object's own keys after it (`composer.bin`); the SSH options once, not again under `ssh`. */
function serverRows(): Array<[string, KeyDoc]> {
  const schema = SERVER_SCHEMA as unknown as Record<string, ServerKey>;
  return Object.entries(schema).flatMap(
    ([key, row]): Array<[string, KeyDoc]> => [
      [key, row],
      ...Object.entries(row.keys ?? {})
        .filter(([sub, doc]) => schema[sub] !== doc)
        .map(([sub, doc]): [string, KeyDoc] => [`${key}.${sub}`, doc]),
    ],
  );
}

function hookRows(): string {
  const steps = HOOK_NAMES.filter((name) => name.startsWith('before-')).map(
    (name) => name.slice('before-'.length) as keyof typeof HOOK_DOCS,
  );
  return [
    '| hooks | around |',
    '|---|---|',
    ...steps.map((step) => `| \`before-${step}\`, \`after-${step}\` | ${cell(HOOK_DOCS[step])} |`),
    '| `build` | the build itself: the same as the server key `build` (write one of the two) |',
    "| `drain`, `undrain` | ours: in a rollout, each server's swap (on the server: take it out of the load balancer, put it back); also without `rollout`, around the fleet's swap |",
    "| `local-drain`, `local-undrain` | ours: the same, run here in the project directory once per server (a load balancer driven by an API), with that server's `@server` and `@host` |",
  ].join('\n');
}

export function configurationDoc(): string {
  return `# Configuration reference

<!-- Generated from src/config/schema.ts by \`npm run docs:config\`: edit the table there, then run it. -->

gulp-attache reads \`.attache.json\` as Attaché 0.7 does (an existing one works as it is): \`repository\`,
\`servers\` (an object keyed by name, or Attaché's older array of objects with \`name\`), \`common\`
(deep-merged under every server), \`default\`. Keys marked "ours" are gulp-attache's additions.
\`gulp deploy --config=<file>\` (or \`-c <file>\`) reads another file.

Every mistake in the file (hook tags included) is reported before anything connects, with the file, the
key path and what was expected. An unknown key is refused with the keys valid at that place (and a
"did you mean" for a near one): a setting that silently does nothing (\`"migrations": true\`) is worse
than an error. Two exceptions load with a warning instead, because Attaché's own files have them:
a key defined twice (the last one is used, as PHP's \`json_decode\` does), and a \`"name"\` inside a
server of the object form that differs from its key (Attaché ignores it too). The keys \`__proto__\`,
\`constructor\` and \`prototype\` are refused anywhere in the file.

## Example

\`\`\`json
${JSON.stringify(EXAMPLE, null, 2)}
\`\`\`

\`gulp deploy\` deploys \`production\` (the \`default\`), \`gulp deploy --server=staging\` staging,
\`gulp deploy --server=web\` the group's two servers, \`--server=all\` every one.

## Top-level keys

${table(Object.entries(TOP_SCHEMA))}

## Server keys

Each may be written on a server, in \`common\` (then it holds for every server that does not say
otherwise) or, for \`repository\`, at the top level. In the default column, "required" means a
server must have it (from any of those places).

${table(serverRows())}

## \`common\`

\`common\` holds server keys shared by every server: each server is \`common\` with the server's own
keys deep-merged over it. Objects merge key by key (\`"php": { "bin": … }\` on a server keeps
\`common\`'s other \`php\` keys); arrays and other values on the server replace \`common\`'s. A
mistake in \`common\` is reported once, at \`common.<key>\`.

## Server groups

\`groups\` (ours) names lists of servers: \`{ "web": ["web1", "web2"] }\` makes \`--server=web\` mean
both, and a group may be the \`default\`. A group's name may not also be a server's, nor \`all\`
(\`--server=all\` selects every server); the servers of a group get one release id, as any
\`--server=a,b\` does.

## Hooks

\`scripts\` holds hooks: each a command line or an array of them. Hooks run on the server in \`root\`,
except \`build\` and \`assets\` hooks, which run locally in the project directory (as in Attaché). In
a deploy they run in this order: \`before-deploy\`, \`before-clone\`/\`after-clone\`,
\`before-prepcomposer\`/\`after-prepcomposer\`, \`before-install\`/\`after-install\`,
\`before-symlinks\`/\`after-symlinks\`, \`before-composer\`/\`after-composer\`,
\`before-migrate\`/\`after-migrate\`, \`after-deploy\`, then per server (batch by batch with
\`rollout\`) \`drain\`, \`before-live\`/\`after-live\`, \`undrain\`; locally
\`before-build\`/\`after-build\` and \`before-assets\`/\`after-assets\`. \`--dry-run\` prints every
server hook it would run.

${hookRows()}

Tags, in hook lines and in \`scripts.build\`, are expanded and quoted: \`@php\` (\`php.bin\`),
\`@composer\` (\`composer.bin\` itself, or \`root/<bin>\` with \`composer.local\`: write \`@php @composer …\`
as Attaché's docs do), \`@release\` (the release id; not in the build or its hooks, which run before
the release exists), \`@root\`, \`@path:<name>\` (\`root/\` + \`paths.<name>\`, or \`root/<name>\` for a name
\`paths\` does not define), \`@artisan\` (\`php <release>/artisan\` from \`after-clone\` on; in
\`before-deploy\`/\`before-clone\`, where the new release has no files yet, the live release's, as
Attaché's), and ours, \`@server\` (the server's name) and \`@host\` (its host). \`{{ @tag }}\` works too. A tag is \`@\` and lower-case letters not preceded by a letter or
digit: \`ops@example.com\` and \`@scope/pkg\` are text; an unknown one before a space, \`}\` or the end
of the line (\`try @badtag\`) is a mistake.

## Release ids

A release is \`releases/<id>\`, its id the deploy's UTC time, \`YYYYMMDDhhmmss\` (\`20261126203000\`),
followed by \`-2\`, \`-3\`, … when a release of that second (or a later one) exists. \`--release=<id>\`
takes such an id (\`activate\` also takes \`latest\`).
`;
}

if (require.main === module) {
  writeFileSync(DOC_FILE, configurationDoc());
  console.log(`wrote ${path.relative(process.cwd(), DOC_FILE)}`);
}
