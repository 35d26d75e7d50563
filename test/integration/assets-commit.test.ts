import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { commitChange, git } from '../support/fixtures';
import { createSite, startTarget, type Site } from '../support/preset';

/**
 * The assets are built from the project directory, the release's PHP comes from the repository:
 * a deploy never makes a release whose assets and code are from two commits.
 */
describe("the assets' commit is the release's", () => {
  let site: Site;
  let stop: () => Promise<void>;
  let first: string;
  before(async () => {
    const started = await startTarget('sshd');
    stop = started.stop;
    site = createSite({ target: started.target });
    // A checkout of the deployed repository (written another way than the config's file:// URL).
    git(site.cwd, 'remote', 'add', 'origin', site.repo.bare);
    await site.run('deploy');
    first = site.liveId()!;
  });
  after(() => stop());

  it("records the assets' commit in the release's marker: the same as the release's", () => {
    const marker = site.marker(first) as { commit?: string; assetsCommit?: string };
    assert.equal(marker.assetsCommit, site.repo.head);
    assert.equal(marker.commit, site.repo.head);
  });

  it('refuses a checkout with an uncommitted change to a tracked file, before anything is built or made', async () => {
    const file = path.join(site.cwd, 'resources/css/app.css');
    writeFileSync(file, 'body { color: red }\n');
    try {
      const { error, lines } = await site.fail('deploy');
      assert.match(error.message, /the project has uncommitted changes to tracked files \(resources\/css\/app\.css\)/);
      assert.match(error.message, /Commit and push them/);
      assert.ok(!lines.some((line) => line.startsWith('build…') || line === 'lock…'), lines.join('\n'));
      assert.deepEqual(site.releases(), [first]);
    } finally {
      git(site.cwd, 'checkout', '--', 'resources/css/app.css');
    }
  });

  it('refuses a release whose commit is not the local one (an unpushed commit): live and the releases stay as they were', async () => {
    writeFileSync(path.join(site.cwd, 'app.txt'), 'local only\n');
    git(site.cwd, 'add', 'app.txt');
    git(site.cwd, 'commit', '-q', '-m', 'not pushed');
    const local = git(site.cwd, 'rev-parse', 'HEAD');
    const { error } = await site.fail('deploy');
    assert.match(
      error.message,
      new RegExp(
        `the release's commit ${site.repo.head.slice(0, 10)} \\(master in the repository\\) is not ${local.slice(0, 10)}, the local commit the assets are built from`,
      ),
    );
    assert.match(error.message, /Push your commits \(git push\)/);
    assert.equal(site.liveId(), first);
    assert.deepEqual(site.releases(), [first]);
  });

  it('--any-commit deploys anyway, says so, and the marker names both commits', async () => {
    const local = git(site.cwd, 'rev-parse', 'HEAD');
    const { lines } = await site.run('deploy', ['--any-commit']);
    const id = site.liveId()!;
    assert.notEqual(id, first);
    assert.ok(
      lines.some((line) => /is not .*, the local commit the assets are built from \(--any-commit\)/.test(line)),
      lines.join('\n'),
    );
    const marker = site.marker(id) as { commit?: string; assetsCommit?: string };
    assert.equal(marker.commit, site.repo.head);
    assert.equal(marker.assetsCommit, local);
  });

  it('a checkout of another repository (no remote is the deployed one) is not checked, and the log says so', async () => {
    git(site.cwd, 'remote', 'rename', 'origin', 'elsewhere');
    git(site.cwd, 'remote', 'set-url', 'elsewhere', 'git@example.com:someone/else.git');
    try {
      const { lines } = await site.run('deploy');
      assert.ok(
        lines.some((line) => /the assets' commit is not checked: .* has no remote file:\/\//.test(line)),
        lines.join('\n'),
      );
    } finally {
      git(site.cwd, 'remote', 'set-url', 'elsewhere', site.repo.bare);
    }
  });

  it('once pushed, the deploy goes through', async () => {
    const head = commitChange(site.cwd, site.repo.bare, 'app2.txt', 'pushed\n');
    await site.run('deploy');
    assert.equal(site.marker(site.liveId()!).commit, head);
  });
});
