import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createSite, exists, startTarget, type Site, type TargetSpec } from '../support/preset';

/**
 * The asset upload runs beside the clone: while the checkout is not there yet it writes into
 * releases/.<id>.assets, merged into the release by hard links once the checkout is done. The
 * clone is held back here by a before-clone hook that waits for the staged upload to be complete,
 * so that every test takes the staged path, whatever the machine's speed.
 */
describe('assets beside the clone (real sshd)', () => {
  let target: TargetSpec;
  let stop = async () => {};

  before(async () => {
    ({ target, stop } = await startTarget('sshd'));
  });
  after(() => stop());

  /** A before-clone line that waits (10 s at most) until the staged upload has written its manifest, the upload's last file. */
  const untilStaged =
    "n=0; until [ -e releases/.@release.assets/.attache-assets.json ]; do n=$((n+1)); [ $n -lt 200 ] || { echo 'no staged upload' >&2; exit 1; }; sleep 0.05; done";

  /** The default assets and one built file at a path the repository commits (public/welcome.html). */
  function siteWith(scripts: Record<string, string[]>): { site: Site; built: Buffer } {
    const site = createSite({
      target,
      server: {
        scripts: { build: [], ...scripts },
        assets: {
          'public/js': 'public/js',
          'public/css': 'public/css',
          'public/mix-manifest.json': 'public/mix-manifest.json',
          'welcome-built.html': 'public/welcome.html',
        },
      },
    });
    const built = Buffer.from('<p>built, not committed</p>\n');
    writeFileSync(path.join(site.cwd, 'welcome-built.html'), built);
    return { site, built };
  }

  /** What is beside the releases that is not a release (staging directories, checkout indexes). */
  const leftovers = (site: Site) => readdirSync(path.join(site.root, 'releases')).filter((name) => name.startsWith('.'));

  it("uploads while the clone is held back, then the assets replace the checkout's files of the same path, and nothing is left beside the release", async () => {
    const { site, built } = siteWith({ 'before-clone': [untilStaged] });
    await site.run('deploy');
    const release = site.release(site.liveId()!);
    assert.notDeepEqual(built, readFileSync(path.join(site.cwd, 'public/welcome.html')), 'the repository commits another welcome.html');
    assert.deepEqual(readFileSync(path.join(release, 'public/welcome.html')), built, 'the asset won over the checkout');
    for (const asset of ['public/js/app.js', 'public/css/app.css', 'public/mix-manifest.json']) {
      assert.deepEqual(readFileSync(path.join(release, asset)), readFileSync(path.join(site.cwd, asset)), asset);
    }
    assert.ok(exists(path.join(release, 'public/index.php')), "the checkout's own files in the same directory stay");
    assert.ok(exists(path.join(release, 'artisan')));
    const manifest = JSON.parse(readFileSync(path.join(release, '.attache-assets.json'), 'utf8'));
    assert.deepEqual(Object.keys(manifest.files ?? manifest).sort(), [
      'public/css/app.css',
      'public/js/app.js',
      'public/js/app.js.map',
      'public/mix-manifest.json',
      'public/welcome.html',
    ]);
    assert.deepEqual(leftovers(site), []);

    // The redeploy links every asset from the live release (staged too), the committed path included.
    const first = site.liveId()!;
    const { lines } = await site.run('deploy');
    const second = site.liveId()!;
    assert.notEqual(second, first);
    assert.deepEqual(readFileSync(path.join(site.release(second), 'public/welcome.html')), built);
    assert.ok(
      lines.some((line) => /5 unchanged file\(s\) reused from the live release, 0 sent/.test(line)),
      lines.join('\n'),
    );
    assert.deepEqual(leftovers(site), []);
  });

  it('a clone that fails after the upload has started: the release and its staged assets are removed, live and the lock as they were', async () => {
    const { site } = siteWith({});
    await site.run('deploy');
    const [first] = site.releases();
    const { error } = await site.fail('deploy', [], {
      overrides: { scripts: { build: [], 'before-clone': [untilStaged, "echo 'clone refused' >&2; exit 4"] } },
    });
    assert.match(error.message, /step "before-clone": command exited with code 4/);
    assert.match(error.message, /clone refused/);
    assert.deepEqual(site.releases(), [first]);
    assert.deepEqual(leftovers(site), [], 'the staged upload is undone with the release');
    assert.equal(site.live(), `releases/${first}`);
    assert.ok(!exists(path.join(site.root, '.attache-lock')));
  });

  it('the local before-assets hook does not wait for the clone, and a file it writes goes with the staged upload', async () => {
    // The clone waits for the staged upload: a before-assets hook that waited for the clone would never end.
    const { site } = siteWith({
      'before-clone': [untilStaged],
      'before-assets': ["node -e \"require('fs').writeFileSync('public/js/late.js', 'late')\""],
    });
    await site.run('deploy');
    const release = site.release(site.liveId()!);
    assert.equal(readFileSync(path.join(release, 'public/js/late.js'), 'utf8'), 'late');
    assert.deepEqual(readFileSync(path.join(release, 'public/js/app.js')), readFileSync(path.join(site.cwd, 'public/js/app.js')));
    assert.deepEqual(leftovers(site), []);
  });
});
