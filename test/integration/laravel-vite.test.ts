import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { commitChange, createAppRepository, git, type AppRepository } from '../support/fixtures';
import { startGulpChild } from '../support/gulp-child';
import { createDeployUser, userDirectory, type DeployUser } from '../support/users';
import { httpGet, startWeb, type WebServer } from '../support/web';
import { createHome, startSshd, trust, type SshServer } from '../../support/sshd';

/**
 * A Laravel 12-shaped app as `laravel new` makes it (Vite, `npm run build`, public/build, a
 * package.json of "type": "module", the health route /up), built with the real vite and
 * laravel-vite-plugin, deployed through the gulp CLI by a non-root user to a server whose nginx and
 * php-fpm run as www-data. The config names neither the build nor the assets.
 */
const VITE_APP = path.resolve(__dirname, '../fixtures/vite-app');
const REPO_ROOT = path.resolve(__dirname, '../..');
const WEB_USER = 'www-data';

describe('a Laravel + Vite app, deployed with the defaults', () => {
  let sshd: SshServer;
  let user: DeployUser;
  let repo: AppRepository;
  let web: WebServer;
  let root: string;
  let server: Record<string, unknown>;

  /** Runs a task through the gulp CLI in the project; resolves with its exit code and lines. */
  async function gulp(task: string, flags: string[] = []): Promise<{ code: number | null; lines: string[] }> {
    const child = startGulpChild({ cwd: repo.work, task, flags });
    const { code } = await child.exited;
    return { code, lines: child.lines };
  }
  const writeConfig = (extra: Record<string, unknown> = {}) =>
    writeFileSync(
      path.join(repo.work, '.attache.json'),
      JSON.stringify({ repository: `file://${repo.bare}`, servers: { production: { ...server, ...extra } } }, null, 2),
    );
  const page = async () => {
    const answer = await httpGet(web.url + '/');
    assert.equal(answer.status, 200, answer.body + web.logs());
    const css = /href="(\/build\/assets\/app-[^"]+\.css)"/.exec(answer.body)?.[1];
    const js = /src="(\/build\/assets\/app-[^"]+\.js)"/.exec(answer.body)?.[1];
    assert.ok(css && js, answer.body);
    return { body: answer.body, css, js };
  };
  const liveId = () => path.basename(execFileSync('readlink', [path.join(root, 'live')], { encoding: 'utf8' }).trim());
  const asWebUser = (test: string, file: string) => {
    try {
      execFileSync('runuser', ['-u', WEB_USER, '--', 'test', test, file], { stdio: 'pipe' });
      return true;
    } catch {
      return false;
    }
  };

  before(async () => {
    const home = createHome();
    sshd = await startSshd(home);
    trust(home, sshd);
    user = createDeployUser(home, 'attache-vite', '/bin/sh');
    chmodSync(user.home, 0o711); // as an administrator would: the web server may pass through to the site
    root = path.join(userDirectory(user, 'site'), 'root');
    repo = createAppRepository({ overlay: VITE_APP });
    chmodSync(path.dirname(repo.bare), 0o755);
    writeFileSync(path.join(user.home, '.gitconfig'), '[safe]\n\tdirectory = *\n');
    git(repo.work, 'remote', 'add', 'origin', repo.bare);
    // npm install's result, offline: the repository's own vite and laravel-vite-plugin.
    symlinkSync(path.join(REPO_ROOT, 'node_modules'), path.join(repo.work, 'node_modules'));
    // `npm run dev` was run once on this machine: its marker must never reach production.
    writeFileSync(path.join(repo.work, 'public/hot'), 'http://[::1]:5173');
    web = await startWeb({ root, fpmUser: WEB_USER, fpmGroup: WEB_USER });
    writeFileSync(path.join(repo.work, 'production.env'), `APP_KEY=base64:${Buffer.alloc(32, 7).toString('base64')}\nAPP_URL=${web.url}\n`);
    server = { host: '127.0.0.1', port: sshd.port, user: user.name, root, webUser: WEB_USER };
    writeConfig();
  });
  after(async () => {
    await web?.stop();
    await sshd?.stop();
    user?.remove();
  });

  it('gulp install: builds with npm run build, ships public/build and not public/hot, checks /up, and www-data reads .env and writes storage', async () => {
    const { code, lines } = await gulp('install', ['--env=production.env']);
    const log = lines.join('\n');
    assert.equal(code, 0, log);
    assert.match(log, /\[local\] build found from the project: Vite \(vite\.config\.js\), npm \(package-lock\.json\)/);
    assert.match(log, /\[local\] build: npm run build/);
    assert.match(log, new RegExp(`health check: ${web.url}/up \\(Laravel's health route /up, at APP_URL`));
    assert.doesNotMatch(log, /does not exist locally/, 'no Mix-era default is looked for');
    const release = path.join(root, 'releases', liveId());
    assert.ok(existsSync(path.join(release, 'public/build/manifest.json')));
    assert.ok(!existsSync(path.join(release, 'public/hot')));

    const { css, js } = await page();
    const style = await httpGet(web.url + css);
    assert.equal(style.status, 200);
    assert.match(String(style.headers['content-type']), /^text\/css/);
    assert.match(style.body, /#123456/);
    const script = await httpGet(web.url + js);
    assert.equal(script.status, 200);
    assert.match(String(script.headers['content-type']), /javascript/);
    assert.equal((await httpGet(web.url + '/build/assets/nope-12345678.css')).status, 404, 'a missing build file is a 404, not the page');

    assert.ok(asWebUser('-r', path.join(root, '.env')), 'www-data reads .env');
    assert.ok(asWebUser('-w', path.join(root, 'storage')), 'www-data writes storage/');
  });

  it('a redeploy that changes the CSS (with "assets": ["public"]): the previous CSS URL still answers with its bytes, public/hot stays home', async () => {
    const before = await page();
    const old = (await httpGet(web.url + before.css)).body;
    writeConfig({ assets: ['public'] });
    commitChange(repo.work, repo.bare, 'resources/css/app.css', 'body { color: #abcdef; }\n');
    const { code, lines } = await gulp('deploy');
    assert.equal(code, 0, lines.join('\n'));
    assert.ok(
      lines.some((line) => /assets: public\/hot left out/.test(line)),
      lines.join('\n'),
    );
    const after = await page();
    assert.notEqual(after.css, before.css);
    assert.match((await httpGet(web.url + after.css)).body, /#abcdef/);
    const kept = await httpGet(web.url + before.css);
    assert.equal(kept.status, 200, "the previous release's hashed CSS is still served");
    assert.match(String(kept.headers['content-type']), /^text\/css/);
    assert.equal(kept.body, old);
    assert.ok(!existsSync(path.join(root, 'releases', liveId(), 'public/hot')));
  });

  it('a release whose /up answers 500 (APP_KEY emptied) fails its default health check and live goes back', async () => {
    const before = liveId();
    const env = path.join(root, '.env');
    const good = readFileSync(env, 'utf8');
    writeFileSync(env, good.replace(/^APP_KEY=.*$/m, 'APP_KEY='));
    try {
      commitChange(repo.work, repo.bare, 'resources/css/app.css', 'body { color: #fedcba; }\n');
      const { code, lines } = await gulp('deploy');
      const log = lines.join('\n');
      assert.notEqual(code, 0, log);
      assert.match(log, /health check failed: .*\/up answered 500/);
      assert.equal(liveId(), before, 'live is back on the release it was on');
    } finally {
      writeFileSync(env, good);
    }
  });

  it('without webUser, a .env that www-data cannot read (0600, no ACL) fails the default health check and live goes back', async () => {
    const before = liveId();
    const env = path.join(root, '.env');
    const mode = statSync(env).mode & 0o777;
    execFileSync('setfacl', ['-b', env]);
    chmodSync(env, 0o600);
    writeConfig({ webUser: undefined });
    try {
      assert.ok(!asWebUser('-r', env));
      commitChange(repo.work, repo.bare, 'resources/css/app.css', 'body { color: #010203; }\n');
      const { code, lines } = await gulp('deploy');
      const log = lines.join('\n');
      assert.notEqual(code, 0, log);
      assert.match(log, /health check failed: .*\/up answered 500/);
      assert.equal(liveId(), before);
    } finally {
      writeConfig();
      chmodSync(env, mode);
    }
  });
});
