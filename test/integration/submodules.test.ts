import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { git, tempDir } from '../support/fixtures';
import { createSite, type Site } from '../support/preset';
import { createHome, startSshd, trust, type SshServer } from '../../support/sshd';

/**
 * A repository with submodules, deployed on a real sshd: modules/lib by an absolute file:// URL,
 * modules/theme by a relative one (../theme.git, resolved against the repository's URL as git
 * does), and theme's own submodule icons (../icons.git, against theme's URL). Their files arrive
 * in the release at the commits the superproject records, and a submodule that cannot be fetched
 * fails the deploy, saying which and why, with nothing left behind.
 */

/** A bare repository `<dir>/<name>.git` with `files` committed on master; returns its head. */
function bareRepository(
  dir: string,
  name: string,
  files: Record<string, string>,
  gitlinks: Record<string, { url: string; commit: string }> = {},
) {
  const work = path.join(dir, `${name}-work`);
  mkdirSync(work, { recursive: true });
  if (!existsSync(path.join(work, '.git'))) git(work, 'init', '-q', '-b', 'master');
  commitFiles(work, files, gitlinks);
  const bare = path.join(dir, `${name}.git`);
  if (!existsSync(bare)) git(dir, 'init', '-q', '--bare', bare);
  git(work, 'push', '-q', bare, 'HEAD:master');
  return { work, bare, head: () => git(work, 'rev-parse', 'HEAD') };
}

/** Commits files and gitlinks (with their .gitmodules entries), as `git submodule add` would record them. */
function commitFiles(work: string, files: Record<string, string>, gitlinks: Record<string, { url: string; commit: string }> = {}): void {
  for (const [file, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(work, file)), { recursive: true });
    writeFileSync(path.join(work, file), content);
    git(work, 'add', '--', file);
  }
  for (const [at, { url, commit }] of Object.entries(gitlinks)) {
    git(work, 'config', '-f', '.gitmodules', `submodule.${at}.path`, at);
    git(work, 'config', '-f', '.gitmodules', `submodule.${at}.url`, url);
    git(work, 'add', '.gitmodules');
    git(work, 'update-index', '--add', '--cacheinfo', `160000,${commit},${at}`);
    // An uninitialised submodule is an empty directory in a checkout.
    mkdirSync(path.join(work, at), { recursive: true });
  }
  git(work, 'commit', '-q', '-m', `Change ${[...Object.keys(files), ...Object.keys(gitlinks)].join(', ')}`);
}

describe('a repository with submodules, against a real sshd', () => {
  let sshd: SshServer;
  let site: Site;
  let repos: string;
  let lib: ReturnType<typeof bareRepository>;
  let theme: ReturnType<typeof bareRepository>;
  let icons: ReturnType<typeof bareRepository>;

  /** Records new gitlinks in the app's work clone, commits and pushes them to its bare repository. */
  const pointApp = (gitlinks: Record<string, { url: string; commit: string }>) => {
    commitFiles(site.repo.work, {}, gitlinks);
    git(site.repo.work, 'push', '-q', site.repo.bare, 'HEAD:master');
  };

  before(async () => {
    const home = createHome();
    sshd = await startSshd(home);
    trust(home, sshd);
    site = createSite({ target: { host: '127.0.0.1', port: sshd.port, user: 'root' } });
    // Beside the app's bare repository, so that ../theme.git resolves against its URL.
    repos = path.dirname(site.repo.bare);
    lib = bareRepository(tempDir('attache-lib-'), 'lib', { 'lib.txt': 'lib v1\n' });
    icons = bareRepository(repos, 'icons', { 'icon.svg': '<svg/>\n' });
    theme = bareRepository(repos, 'theme', { 'theme.css': 'body {}\n' }, { icons: { url: '../icons.git', commit: icons.head() } });
    pointApp({
      'modules/lib': { url: `file://${lib.bare}`, commit: lib.head() },
      'modules/theme': { url: '../theme.git', commit: theme.head() },
    });
  });
  after(() => sshd.stop());

  it("a deploy checks out every submodule at its recorded commit, theirs too, relative URLs resolved against the superproject's", async () => {
    const { lines } = await site.run('deploy');
    const release = site.release(site.liveId() as string);
    assert.equal(readFileSync(path.join(release, 'modules/lib/lib.txt'), 'utf8'), 'lib v1\n');
    assert.equal(readFileSync(path.join(release, 'modules/theme/theme.css'), 'utf8'), 'body {}\n');
    assert.equal(readFileSync(path.join(release, 'modules/theme/icons/icon.svg'), 'utf8'), '<svg/>\n');
    assert.ok(!existsSync(path.join(release, 'modules/lib/.git')), 'no .git in the release');
    const log = lines.join('\n');
    assert.ok(log.includes(`[production] submodule modules/lib: file://${lib.bare} at ${lib.head().slice(0, 12)}`), log);
    assert.ok(log.includes(`[production] submodule modules/theme/icons: file://${path.join(repos, 'icons.git')} at `), log);
  });

  it("a redeploy after the submodule moved on brings its new commit (fetched into the server's copy of it)", async () => {
    commitFiles(lib.work, { 'lib.txt': 'lib v2\n' });
    git(lib.work, 'push', '-q', lib.bare, 'HEAD:master');
    pointApp({ 'modules/lib': { url: `file://${lib.bare}`, commit: lib.head() } });
    await site.run('deploy');
    assert.equal(readFileSync(path.join(site.release(site.liveId() as string), 'modules/lib/lib.txt'), 'utf8'), 'lib v2\n');
  });

  it('a submodule commit that was never pushed fails the deploy, naming the submodule, its URL and the commit; nothing is left', async (t) => {
    const live = site.liveId();
    const releases = site.releases();
    commitFiles(lib.work, { 'lib.txt': 'lib v3, not pushed\n' });
    const unpushed = lib.head();
    pointApp({ 'modules/lib': { url: `file://${lib.bare}`, commit: unpushed } });
    const { error } = await site.fail('deploy');
    t.diagnostic(error.message);
    assert.match(
      error.message,
      new RegExp(
        `^server "production", step "clone": submodule "modules/lib" \\(file://${lib.bare}\\): commit ${unpushed.slice(0, 12)} could not be fetched: .*error: commit ${unpushed} is on no branch or tag of file://${lib.bare}$`,
        'm',
      ),
      error.message,
    );
    assert.match(error.message, /forwardAgent/);
    assert.equal(site.liveId(), live);
    assert.deepEqual(site.releases(), releases, 'the undo removed the release');
    assert.ok(!existsSync(path.join(site.root, '.attache-lock')), 'the lock is freed');
    assert.deepEqual(
      readdirSync(path.join(site.root, 'releases')).filter((name) => name.startsWith('.')),
      [],
      'no temporary index left',
    );
  });

  it("a submodule whose repository is not there fails the deploy with git's own line", async (t) => {
    git(lib.work, 'push', '-q', lib.bare, 'HEAD:master'); // the commit above is there now
    const missing = path.join(repos, 'missing.git');
    pointApp({ 'modules/lib': { url: `file://${missing}`, commit: lib.head() } });
    const { error } = await site.fail('deploy');
    t.diagnostic(error.message);
    assert.match(
      error.message,
      new RegExp(
        `^server "production", step "clone": submodule "modules/lib" \\(file://${missing}\\): commit \\w{12} could not be fetched: command exited with code 128: fatal: .*missing\\.git`,
        'm',
      ),
      error.message,
    );
    assert.ok(!existsSync(path.join(site.root, '.attache-lock')), 'the lock is freed');
  });
});
