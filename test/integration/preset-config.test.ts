import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { attache } from '../../src/preset';
import { tempDir } from '../support/fixtures';
import { captureLogger } from '../support/log';
import { exists } from '../support/preset';
import { freePort } from '../../support/sshd';
import { gulp, runTask } from '../support/streams';

/**
 * Configuration mistakes fail the deploy before anything connects. The server is a loopback port
 * where nothing listens, so a connection attempt would fail differently ("connect ECONNREFUSED");
 * the server root must not be created.
 */
describe('deploy preset: configuration errors are reported before anything connects', () => {
  let port: number;
  before(async () => {
    port = await freePort();
  });

  /** A project directory with `.attache.json` (text or object, or none), and a root that must stay absent. */
  function project(config: string | ((root: string) => Record<string, unknown>) | undefined) {
    const dir = tempDir('attache-config-');
    const root = path.join(dir, 'server-root');
    const file = path.join(dir, '.attache.json');
    if (config !== undefined) writeFileSync(file, typeof config === 'string' ? config : JSON.stringify(config(root), null, 4));
    return { dir, root, file };
  }

  const server = (root: string, extra: Record<string, unknown> = {}) => ({
    host: '127.0.0.1',
    port,
    user: 'root',
    root,
    scripts: { build: [] },
    ...extra,
  });

  /** Runs `deploy` with the flags; returns its error and log. */
  async function deployFails(dir: string, flags: string[] = []): Promise<{ message: string; lines: string[] }> {
    const { log, lines } = captureLogger('verbose');
    const tasks = attache({ cwd: dir, argv: ['node', 'gulp', 'deploy', ...flags], logger: log });
    const error = await runTask(tasks.deploy).then(
      () => assert.fail('the deploy succeeded'),
      (e: Error) => e,
    );
    assert.doesNotMatch(error.message, /ECONNREFUSED|connect/i, 'no connection was attempted');
    assert.deepEqual(lines, [], 'no step ran');
    return { message: error.message, lines };
  }

  it('a fleet with "migrate" on more than one selected server is refused: a shared database migrates once', async () => {
    const { dir, root } = project((root) => ({
      repository: 'file:///srv/app.git',
      servers: { web1: server(`${root}/1`, { migrate: true }), web2: server(`${root}/2`, { migrate: true }), web3: server(`${root}/3`) },
    }));
    const { message } = await deployFails(dir, ['--server=all']);
    assert.match(message, /"migrate" is true on web1, web2, which are deployed together/);
    assert.match(message, /Set "migrate": true on one server of the fleet only/);
    assert.equal(exists(root), false);
  });

  it('a missing .attache.json names the file it looked for', async () => {
    const { dir, file } = project(undefined);
    const { message } = await deployFails(dir);
    assert.match(message, new RegExp(`^file ${escape(file)}: no configuration file at ${escape(file)}`));
    assert.match(message, /Create \.attache\.json in your project/);
  });

  it('malformed JSON names the file, the line and the column', async () => {
    const text = [
      '{',
      '    "repository": "file:///srv/app.git",',
      '    "servers": {',
      `        "production": { "host": "127.0.0.1" "root": "/tmp/x" }`,
      '    }',
      '}',
    ].join('\n');
    const { dir, file } = project(text);
    const { message } = await deployFails(dir);
    const column = text.split('\n')[3].indexOf('"root"') + 1;
    assert.equal(column, 45);
    assert.match(
      message,
      new RegExp(`^file ${escape(file)}: invalid JSON at line 4, column ${column}: expected "," or "}" after a property value`),
    );
  });

  it('a missing host names the file and servers.production.host', async () => {
    const { dir, root, file } = project((root) => ({ repository: 'file:///srv/app.git', servers: { production: { root } } }));
    const { message } = await deployFails(dir);
    assert.match(message, new RegExp(`^config key "servers\\.production\\.host", file ${escape(file)}: expected a host name`));
    assert.match(message, /got nothing/);
    assert.ok(!exists(root));
  });

  it('a relative root names the file and servers.production.root', async () => {
    const { dir, file } = project(() => ({ repository: 'file:///srv/app.git', servers: { production: server('var/www/app') } }));
    const { message } = await deployFails(dir);
    assert.match(
      message,
      new RegExp(`config key "servers\\.production\\.root", file ${escape(file)}: .*"var/www/app": it is not absolute`),
    );
    assert.ok(!exists(path.join(dir, 'var')), 'the relative root was not created in the project either');
  });

  it('an unknown --server names the file and lists the known servers', async () => {
    const { dir, root, file } = project((root) => ({
      repository: 'file:///srv/app.git',
      servers: { production: server(root), staging: server(root + '-staging') },
    }));
    const { message } = await deployFails(dir, ['--server=prodution']);
    assert.match(
      message,
      new RegExp(`^file ${escape(file)}: no server or group named "prodution" \\(for "prodution", did you mean "production"\\?\\)`),
    );
    assert.match(message, /Servers: production, staging\./);
    assert.ok(!exists(root) && !exists(root + '-staging'));
  });

  it('a --branch with ";" is refused before the branch reaches a shell', async () => {
    const { dir, root } = project((root) => ({ repository: 'file:///srv/app.git', servers: { production: server(root) } }));
    const witness = path.join(dir, 'injected');
    const { message } = await deployFails(dir, [`--branch=master;touch ${witness}`]);
    assert.match(message, /^"master;touch .*" is not a usable branch name: it contains ";"/);
    assert.ok(!exists(witness));
    assert.ok(!exists(root));
  });

  it('a branch with ";" in the file names the file and servers.production.branch', async () => {
    const { dir, root, file } = project((root) => ({
      repository: 'file:///srv/app.git',
      servers: { production: server(root, { branch: 'main;id' }) },
    }));
    const { message } = await deployFails(dir);
    assert.match(message, new RegExp(`^config key "servers\\.production\\.branch", file ${escape(file)}: .*it contains ";"`));
    assert.ok(!exists(root));
  });

  it('an assets remote path with "../" names the file and the assets key', async () => {
    const { dir, root, file } = project((root) => ({
      repository: 'file:///srv/app.git',
      servers: { production: server(root, { assets: { 'public/js': '../outside/js' } }) },
    }));
    mkdirSync(path.join(dir, 'public/js'), { recursive: true });
    const { message } = await deployFails(dir);
    assert.match(
      message,
      new RegExp(
        `^config key "servers\\.production\\.assets\\.public/js", file ${escape(file)}: .*"\\.\\./outside/js": it leaves the release directory`,
      ),
    );
    assert.ok(!exists(root));
  });

  it('several mistakes are reported together, each with its key path', async () => {
    const { dir, file } = project(() => ({
      repository: 'file:///srv/app.git',
      servers: { production: { port, root: 'relative/root', assets: ['../up'] } },
    }));
    const { message } = await deployFails(dir);
    assert.match(message, new RegExp(`^file ${escape(file)}: 3 problems in the configuration:`));
    assert.match(message, /\n {2}- servers\.production\.host: expected a host name/);
    assert.match(message, /\n {2}- servers\.production\.root: .*it is not absolute/);
    assert.match(message, /\n {2}- servers\.production\.assets\[0\]: .*it leaves the release directory/);
  });
});

describe('deploy preset: the gulp task tree', () => {
  it('shows the deploy series as deploy:<step> tasks, in order', () => {
    const tasks = attache({ cwd: tempDir('attache-tree-'), argv: ['node', 'gulp', '--tasks'] });
    registry.task('deploy', tasks.deploy);
    const deploy = registry.tree({ deep: true }).nodes.find((node) => node.label === 'deploy');
    assert.ok(deploy, 'deploy is registered');
    assert.equal(deploy.nodes[0].label, '<series>');
    // Steps may be grouped (<series>, <parallel>) inside; read in order, they are the release series.
    assert.deepEqual(
      leaves(deploy),
      [
        'source',
        'build',
        'connect',
        'preflight',
        'package',
        'lock',
        'release',
        'clone',
        'artifact',
        'match',
        'prepcomposer',
        'shared',
        'symlinks',
        'permissions',
        'composer',
        'artisan',
        'optimize',
        'migrate',
        'assets',
        'live',
        'opcache',
        'health',
        'restart',
        'prune',
        'unlock',
      ].map((step) => `deploy:${step}`),
    );
    assert.match(tasks.deploy.description ?? '', /^deploy a new release/);
    assert.ok(tasks.deploy.flags?.['--server=<name>'] && tasks.deploy.flags['--env=<file>'], 'gulp --tasks shows the flags');
    assert.ok(!tasks.deploy.flags['--release=<id>'] && tasks.activate.flags?.['--release=<id>'], 'each task shows exactly its own flags');
    assert.ok(tasks.prune.flags?.['--count=<n>'] && !tasks.prune.flags['--env=<file>']);
  });

  it('leaves the build step out with build: false, and shows a custom build task in its place', () => {
    const without = attache({ cwd: tempDir('attache-tree-'), argv: [], build: false });
    const custom = Object.assign(async () => {}, { displayName: 'my-build' });
    const replaced = attache({ cwd: tempDir('attache-tree-'), argv: [], build: custom });
    registry.task('deploy-without-build', without.deploy);
    registry.task('deploy-custom-build', replaced.deploy);
    const labels = (name: string) => leaves(registry.tree({ deep: true }).nodes.find((node) => node.label === name)!);
    assert.deepEqual(labels('deploy-without-build').slice(0, 3), ['deploy:source', 'deploy:connect', 'deploy:preflight']);
    assert.ok(!labels('deploy-without-build').includes('deploy:build'));
    assert.deepEqual(labels('deploy-custom-build').slice(0, 3), ['deploy:source', 'deploy:build', 'deploy:connect']);
    assert.match(replaced.steps.build.description ?? '', /your build task my-build/);
  });
});

interface TreeNode {
  label: string;
  nodes: TreeNode[];
}

const registry = gulp as unknown as { task(name: string, fn: unknown): void; tree(options: { deep: boolean }): TreeNode };

/** The task names under a node, depth first, without gulp's <series>/<parallel> grouping nodes. */
function leaves(node: TreeNode): string[] {
  return node.nodes.flatMap((child) => (child.nodes.length ? leaves(child) : child.label.startsWith('<') ? [] : [child.label]));
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
