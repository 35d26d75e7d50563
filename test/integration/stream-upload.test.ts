import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  appendFileSync,
  chmodSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { upload } from '../../src/plugins/upload';
import { ArchiveUpload, QUICK_CHECKED } from '../../src/remote/archive';
import { sh } from '../../src/remote/quote';
import { channelCount } from '../../src/ssh/counters';
import { openTarget } from '../../src/open-target';
import type { Target } from '../../src/remote/target';
import { commitChange, EXAMPLE_APP, tempDir } from '../support/fixtures';
import { captureLogger } from '../support/log';
import { createSite, exists, type Site, type TargetSpec } from '../support/preset';
import { startRelay, type Relay } from '../support/relay';
import { createHome, startSshd, trust, type SshServer, type TestHome } from '../../support/sshd';
import { collect, gulp, sha256 } from '../support/streams';

/**
 * A release that is not live yet is filled by one tar stream into one remote command (GNU tar,
 * then a check of every file against the sent bytes' hashes: one `openssl dgst`, and `sha256sum -c`
 * where that does not match or cannot run); unchanged files are hard-linked from the
 * live release. On the real sshd: the bytes, names, modes and links that arrive; the previous
 * release untouched; a cut or altered stream failing the deploy; a full disk said as such.
 */

const MB = 1024 * 1024;
const ASSETS = 'dist';
const REMOTE = 'public/dist';

type Entry = { type: 'file'; sha256: string; mode: number; ino: number } | { type: 'link'; target: string };

/** Every file and symlink under `dir`, by path (directories are walked, not listed). */
function tree(dir: string, prefix = ''): Record<string, Entry> {
  const out: Record<string, Entry> = {};
  for (const name of readdirSync(path.join(dir, prefix))) {
    const relative = prefix ? `${prefix}/${name}` : name;
    const full = path.join(dir, relative);
    const stat = lstatSync(full);
    if (stat.isDirectory()) Object.assign(out, tree(dir, relative));
    else if (stat.isSymbolicLink()) out[relative] = { type: 'link', target: readlinkSync(full) };
    else out[relative] = { type: 'file', sha256: sha256(readFileSync(full)), mode: stat.mode & 0o7777, ino: stat.ino };
  }
  return out;
}

/** The tree without inode numbers: what must be equal between a local tree and its copy. */
function contents(entries: Record<string, Entry>): Record<string, Omit<Entry, 'ino'>> {
  return Object.fromEntries(
    Object.entries(entries).map(([name, e]) => [name, e.type === 'file' ? { type: e.type, sha256: e.sha256, mode: e.mode } : e]),
  );
}

/** The odd asset tree of the first deploy: binary, empty, hostile names, 3,000 files in one directory, modes, links. */
function writeOddAssets(cwd: string): void {
  const dir = path.join(cwd, ASSETS);
  const put = (name: string, data: Buffer | string, mode = 0o644) => {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), data);
    chmodSync(path.join(dir, name), mode);
  };
  put('bin/blob.bin', randomBytes(300_000));
  put('bin/big.bin', randomBytes(3 * MB + 17)); // over 1 MB: read as a stream, not whole
  put('bin/zeros.bin', Buffer.alloc(70_000));
  put('empty.txt', '');
  put('with space.css', 'a { color: red }\n');
  put(`quo'te"s.js`, 'console.log("\'");\n');
  put('new\nline.txt', 'a name with a newline\n');
  put('-dash.js', 'leading dash\n');
  put('ünïcødé-日本.css', 'non-ASCII\n');
  put(`${'long-'.repeat(40)}.js`, 'a 204-byte name (PAX header)\n');
  put('run.sh', '#!/bin/sh\necho hi\n', 0o755);
  put('private.txt', 'secret-ish\n', 0o600);
  put('group.txt', 'group\n', 0o640);
  for (let i = 0; i < 3000; i++) put(`many/f-${String(i).padStart(4, '0')}.txt`, `file ${i}\n`);
  symlinkSync('with space.css', path.join(dir, 'latest.css'));
  symlinkSync('many', path.join(dir, 'many-link'));
  mkdirSync(path.join(dir, 'nested'));
  symlinkSync('../-dash.js', path.join(dir, 'nested/up.js'));
}

/** gulp.src that passes symlinks on as links (vinyl's `symlink`), as a user's gulpfile may. */
function linksAsLinks(cwd: string): NodeJS.ReadableStream {
  return gulp.src('**/*', { cwd, resolveSymlinks: false } as Parameters<typeof gulp.src>[1]);
}

function assetServer(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { skip: ['composer', 'artisan'], assets: { [ASSETS]: REMOTE }, keep: 10, ...extra };
}

/** The target as it is, except that byte 1000 of a streamed input (inside the first file's data, after its header) is flipped. */
function altering(target: Target): Target {
  return Object.assign(Object.create(target) as Target, {
    exec: (command: string, options: Parameters<Target['exec']>[1] = {}) => {
      if (!(options.stdin instanceof Readable)) return target.exec(command, options);
      let at = 0;
      const flip = new Transform({
        transform(chunk: Buffer, _encoding, done) {
          const copy = Buffer.from(chunk);
          if (at <= 1000 && 1000 < at + copy.length) copy[1000 - at] ^= 0xff;
          at += copy.length;
          done(null, copy);
        },
      });
      return target.exec(command, { ...options, stdin: options.stdin.pipe(flip) });
    },
  });
}

function mountTmpfs(size: string): string {
  const dir = tempDir('attache-tmpfs-');
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir]);
  return dir;
}

describe('stream upload of a fresh release, against a real sshd', () => {
  let home: TestHome;
  let sshd: SshServer;
  const relays: Relay[] = [];
  const mounts: string[] = [];

  before(async () => {
    home = createHome();
    sshd = await startSshd(home);
    trust(home, sshd);
  });
  after(async () => {
    await Promise.all(relays.map((r) => r.close()));
    for (const dir of mounts) execFileSync('umount', ['-l', dir]);
    await sshd.stop();
  });

  const direct = (): TargetSpec => ({ host: '127.0.0.1', port: sshd.port, user: 'root' });
  const quiet = () => captureLogger('quiet').log;
  const tmpfs = (size: string) => {
    const dir = mountTmpfs(size);
    mounts.push(dir);
    return dir;
  };

  async function relayed(): Promise<{ relay: Relay; target: TargetSpec }> {
    const relay = await startRelay(sshd.port);
    relays.push(relay);
    appendFileSync(home.knownHosts, `[127.0.0.1]:${relay.port} ${sshd.hostKey}\n`);
    return { relay, target: { host: '127.0.0.1', port: relay.port, user: 'root' } };
  }

  describe('the first deploy and a redeploy of an odd asset tree', () => {
    let site: Site;
    let first: string;
    let firstTree: Record<string, Entry>;
    let log: string;

    before(async () => {
      site = createSite({ target: direct(), server: assetServer(), buildAssets: false });
      writeOddAssets(site.cwd);
      const verbose = captureLogger('verbose');
      await site.run('deploy', [], { logger: verbose.log });
      log = verbose.lines.join('\n');
      first = site.liveId()!;
      firstTree = tree(path.join(site.release(first), REMOTE));
    });

    it('sends every file byte for byte, with its mode, and every inside link as the same link', () => {
      assert.deepEqual(contents(firstTree), contents(tree(path.join(site.cwd, ASSETS))));
      assert.equal(Object.keys(firstTree).filter((name) => name.startsWith('many/')).length, 3000);
      assert.equal(readlinkSync(path.join(site.release(first), REMOTE, 'nested/up.js')), '../-dash.js');
      assert.equal(
        readFileSync(path.join(site.release(first), REMOTE, 'latest.css'), 'utf8'),
        'a { color: red }\n',
        'the link resolves on the server',
      );
    });

    it('sends them through one command (tar into the release, then the hash check), not one request per file', () => {
      const commands = log.split('\n').filter((line) => /tar -x -p --no-same-owner -f -/.test(line));
      assert.equal(commands.length, 1, log);
      assert.match(log, /sha256sum -c/);
      assert.ok(
        !readdirSync(path.join(site.release(first), REMOTE)).some((name) => name.startsWith('.attache-')),
        'the hash list is removed',
      );
    });

    it('a redeploy links unchanged files, streams the changed ones, and leaves the previous release as it was', async () => {
      writeFileSync(path.join(site.cwd, ASSETS, 'bin/blob.bin'), randomBytes(300_000));
      writeFileSync(path.join(site.cwd, ASSETS, 'added.txt'), 'new file\n');
      await site.run('deploy');
      const second = site.liveId()!;
      assert.notEqual(second, first);
      assert.deepEqual(tree(path.join(site.release(first), REMOTE)), firstTree, 'the previous release: same bytes, modes, links, inodes');
      const now = tree(path.join(site.release(second), REMOTE));
      assert.deepEqual(contents(now), contents(tree(path.join(site.cwd, ASSETS))));
      const ino = (entries: Record<string, Entry>, name: string) => (entries[name] as { ino: number }).ino;
      assert.equal(ino(now, 'bin/big.bin'), ino(firstTree, 'bin/big.bin'), 'an unchanged file is a hard link to the live copy');
      assert.equal(ino(now, 'many/f-2999.txt'), ino(firstTree, 'many/f-2999.txt'));
      assert.notEqual(ino(now, 'bin/blob.bin'), ino(firstTree, 'bin/blob.bin'), 'a changed file is a new file');
    });

    it('a redeploy with no file changed still sends the links (a stream with nothing to hash) and deploys', async () => {
      const before = site.liveId()!;
      await site.run('deploy');
      const now = site.liveId()!;
      assert.notEqual(now, before);
      assert.deepEqual(contents(tree(path.join(site.release(now), REMOTE))), contents(tree(path.join(site.cwd, ASSETS))));
      assert.equal(readlinkSync(path.join(site.release(now), REMOTE, 'nested/up.js')), '../-dash.js');
    });

    it('refuses a link that points outside the tree (absolute or escaping), naming the file and its target; live stays', async () => {
      const live = site.liveId();
      const releases = site.releases();
      for (const target of ['/etc/passwd', '../../composer.json']) {
        const link = path.join(site.cwd, ASSETS, 'nested/evil');
        symlinkSync(target, link);
        try {
          const { error } = await site.fail('deploy');
          assert.ok(error.message.includes(`file ${link}`), error.message);
          assert.ok(error.message.includes(`the symlink points to ${target}, outside ${ASSETS}`), error.message);
        } finally {
          unlinkSync(link);
        }
        assert.equal(site.liveId(), live);
        assert.deepEqual(site.releases(), releases, 'the failed release was removed');
      }
    });
  });

  describe('the upload plugin and symlinks (gulp.src with resolveSymlinks: false)', () => {
    for (const mode of ['atomic', 'stream'] as const) {
      it(`${mode} mode keeps a relative link inside the tree, and refuses one leading out`, async () => {
        const local = tempDir('attache-links-');
        writeFileSync(path.join(local, 'app.css'), 'body {}\n');
        mkdirSync(path.join(local, 'sub'));
        symlinkSync('../app.css', path.join(local, 'sub/app.css'));
        const dest = path.join(tempDir('attache-links-dest-'), 'site');
        const server = { host: '127.0.0.1', port: sshd.port, user: 'root' };
        await collect(linksAsLinks(local), upload({ server, dest, logger: quiet(), mode }));
        assert.equal(readlinkSync(path.join(dest, 'sub/app.css')), '../app.css');
        assert.equal(readFileSync(path.join(dest, 'sub/app.css'), 'utf8'), 'body {}\n');

        symlinkSync('/etc/hostname', path.join(local, 'outside'));
        await assert.rejects(
          collect(linksAsLinks(local), upload({ server, dest: `${dest}-2`, logger: quiet(), mode })),
          (error: Error) =>
            error.message.includes(`file ${path.join(local, 'outside')}`) &&
            error.message.includes('the symlink points to /etc/hostname, outside'),
        );
      });
    }
  });

  describe("the server's check of the files that arrived", () => {
    /** Files whose names openssl prints as they are: every one is checked by one `openssl dgst`. */
    const plain = () => [
      { relative: 'js/app.js', contents: randomBytes(200_000) },
      { relative: '-dash.js', contents: Buffer.from('leading dash\n') },
      { relative: `sp ace/quo'te"s.css`, contents: Buffer.from('a {}\n') },
      { relative: 'ünïcødé-日本.txt', contents: Buffer.from('non-ASCII\n') },
      { relative: 'empty', contents: Buffer.alloc(0) },
    ];

    async function send(target: Target, dest: string, files: { relative: string; contents: Buffer }[]): Promise<void> {
      const archive = new ArchiveUpload(target, dest, quiet(), { step: 'assets' });
      for (const file of files) await archive.put(file);
      await archive.finish();
    }

    /** A connection whose log (its commands and their output) is kept: `lines`. */
    async function logged(): Promise<{ session: Target; lines: string[] }> {
      const verbose = captureLogger('verbose');
      return { session: await openTarget(direct(), verbose.log), lines: verbose.lines };
    }

    /** The target, its commands run with a PATH of the shell tools without openssl (a server that has none). */
    function withoutOpenssl(session: Target): Target {
      const bin = tempDir('attache-no-openssl-');
      for (const tool of ['sh', 'mkdir', 'rm', 'cat', 'df', 'awk', 'tar', 'sha256sum', 'xargs', 'cut', 'cmp', 'echo']) {
        const found = execFileSync('/bin/sh', ['-c', `command -v ${tool} || true`], { encoding: 'utf8' }).trim();
        if (found.startsWith('/')) symlinkSync(found, path.join(bin, tool));
      }
      return Object.assign(Object.create(session) as Target, {
        exec: (command: string, options?: Parameters<Target['exec']>[1]) =>
          session.exec(`${sh`PATH=${bin}`}; export PATH\n${command}`, options),
      });
    }

    it('with openssl on the server, one `openssl dgst` checks every file (no sha256sum), and they arrive byte for byte', async () => {
      const { session, lines } = await logged();
      try {
        const dest = path.join(tempDir('attache-quick-'), 'release');
        const files = plain();
        await send(session, dest, files);
        assert.ok(lines.includes(`[127.0.0.1] ${QUICK_CHECKED}`), lines.join('\n'));
        for (const file of files) assert.ok(readFileSync(path.join(dest, file.relative)).equals(file.contents), file.relative);
        assert.deepEqual(
          readdirSync(dest).filter((name) => name.startsWith('.attache-')),
          [],
          'the lists are removed',
        );
      } finally {
        await session.close();
      }
    });

    it('a name with a newline (which openssl may print otherwise) leaves the check to sha256sum -c, which passes', async () => {
      const { session, lines } = await logged();
      try {
        const dest = path.join(tempDir('attache-quick-odd-'), 'release');
        const files = [...plain(), { relative: 'new\nline.txt', contents: Buffer.from('n\n') }];
        await send(session, dest, files);
        assert.ok(!lines.includes(`[127.0.0.1] ${QUICK_CHECKED}`), lines.join('\n'));
        for (const file of files) assert.ok(readFileSync(path.join(dest, file.relative)).equals(file.contents), file.relative);
      } finally {
        await session.close();
      }
    });

    it('a server without openssl: sha256sum -c checks, passes the files that arrived whole and names one that did not', async () => {
      const { session, lines } = await logged();
      try {
        const target = withoutOpenssl(session);
        const dest = path.join(tempDir('attache-no-openssl-'), 'release');
        const files = plain();
        await send(target, dest, files);
        assert.ok(!lines.includes(`[127.0.0.1] ${QUICK_CHECKED}`), lines.join('\n'));
        for (const file of files) assert.ok(readFileSync(path.join(dest, file.relative)).equals(file.contents), file.relative);
        // One byte of the first file's data flipped on the way: sha256sum names it.
        await assert.rejects(
          send(altering(target), path.join(tempDir('attache-no-openssl-alter-'), 'release'), plain()),
          /do not match what was sent .*js\/app\.js: FAILED/,
        );
      } finally {
        await session.close();
      }
    });
  });

  describe('a stream that does not arrive whole', () => {
    it('a byte altered on the way is caught by the hash check on the server (openssl differs, then sha256sum names the file)', async () => {
      const session = await openTarget(direct(), quiet());
      try {
        const dest = path.join(tempDir('attache-alter-'), 'release');
        const archive = new ArchiveUpload(altering(session), dest, quiet(), { step: 'assets' });
        await archive.put({ relative: 'a.bin', contents: randomBytes(4096) });
        await assert.rejects(archive.finish(), /the files on the server do not match what was sent .*a\.bin: FAILED/);
      } finally {
        await session.close();
      }
    });

    it('a file that is not what the manifest says (a hash known ahead) is refused as it is sent, and the stream stops', async () => {
      const session = await openTarget(direct(), quiet());
      try {
        const dest = path.join(tempDir('attache-stale-'), 'release');
        const archive = new ArchiveUpload(session, dest, quiet(), { step: 'assets' });
        await archive.put({ relative: 'ok.txt', contents: Buffer.from('ok\n'), sha256: sha256(Buffer.from('ok\n')) });
        await assert.rejects(
          archive.put({ relative: 'stale.txt', contents: Buffer.from('new bytes\n'), sha256: sha256(Buffer.from('old bytes\n')) }),
          (error: Error) =>
            /the file's bytes are not those its hash .* was taken from: it changed after it was hashed/.test(error.message) &&
            error.message.includes('stale.txt'),
        );
        await assert.rejects(archive.finish(), /changed after it was hashed/, 'nothing more goes into a stream that failed');
      } finally {
        await session.close();
      }
    });

    it("a small upload (a redeploy's few files) goes whole, with no channel of its own (raw on the standby, else escaped to a persistent shell), and is checked the same way", async () => {
      const session = await openTarget(direct(), quiet());
      try {
        await Promise.all([session.exec('true'), session.lstat('/')]); // the shells and SFTP are open (their channels counted)
        const files = [
          { relative: 'js/app.js', contents: Buffer.from('console.log(1);\n') },
          { relative: 'img/x.bin', contents: randomBytes(50_000) },
          { relative: 'empty', contents: Buffer.alloc(0) },
        ];
        const dest = path.join(tempDir('attache-small-'), 'release');
        const before = channelCount();
        const archive = new ArchiveUpload(session, dest, quiet(), { step: 'assets', expected: { files: 3, bytes: 50_016 } });
        for (const file of files) await archive.put(file);
        await archive.finish();
        assert.equal(channelCount() - before, 0, 'no channel was opened for it');
        for (const file of files) assert.ok(readFileSync(path.join(dest, file.relative)).equals(file.contents), file.relative);
        // It went on the standby (50 KB of binary): the next streamed command opens a channel of its own.
        await session.exec('cat > /dev/null', { stdin: Readable.from([Buffer.alloc(10)]) });
        assert.equal(channelCount() - before, 1, 'the standby was taken by the upload');
        // With the standby gone, a small upload goes to a persistent shell, escaped, and arrives the same.
        const again = path.join(tempDir('attache-small-again-'), 'release');
        const shellUpload = new ArchiveUpload(session, again, quiet(), { step: 'assets', expected: { files: 3, bytes: 50_016 } });
        for (const file of files) await shellUpload.put(file);
        await shellUpload.finish();
        assert.equal(channelCount() - before, 1, 'no channel was opened for it either');
        for (const file of files)
          assert.ok(readFileSync(path.join(again, file.relative)).equals(file.contents), `${file.relative} (persistent shell)`);
        // The same check of a known hash: a file that is not what it says is refused.
        const stale = new ArchiveUpload(session, path.join(tempDir('attache-small-stale-'), 'release'), quiet(), {
          step: 'assets',
          expected: { files: 1, bytes: 10 },
        });
        await assert.rejects(
          stale.put({ relative: 'stale.txt', contents: Buffer.from('new bytes\n'), sha256: sha256(Buffer.from('old bytes\n')) }),
          /stale\.txt.*changed after it was hashed/,
        );
      } finally {
        await session.close();
      }
    });

    it('an upload expected small that turns out big is streamed after all, byte for byte', async () => {
      const session = await openTarget(direct(), quiet());
      try {
        const dest = path.join(tempDir('attache-small-big-'), 'release');
        const big = randomBytes(600_000);
        const archive = new ArchiveUpload(session, dest, quiet(), { step: 'assets', expected: { files: 1, bytes: 1000 } });
        await archive.put({ relative: 'big.bin', contents: big });
        await archive.finish();
        assert.ok(readFileSync(path.join(dest, 'big.bin')).equals(big));
      } finally {
        await session.close();
      }
    });

    it('the connection cut halfway: the deploy fails, live and the previous release stay, the cut release is undone over a new connection', async () => {
      const { relay, target } = await relayed();
      const site = createSite({ target, server: assetServer(), buildAssets: false });
      mkdirSync(path.join(site.cwd, ASSETS));
      writeFileSync(path.join(site.cwd, ASSETS, 'app.css'), 'first\n');
      await site.run('deploy');
      const live = site.liveId()!;
      const previous = tree(site.release(live));
      for (let i = 0; i < 16; i++) writeFileSync(path.join(site.cwd, ASSETS, `big-${i}.bin`), randomBytes(MB));
      const cut = relay.cutAfter(6 * MB);
      const { error } = await site.fail('deploy');
      await cut;
      assert.match(error.message, /was lost/, error.message);
      assert.equal(site.liveId(), live);
      assert.deepEqual(tree(site.release(live)), previous, 'the previous release is untouched');
      assert.deepEqual(
        site.releases().filter((id) => id !== live),
        [],
        'the undo removed the cut release over a new connection',
      );
      assert.equal(exists(path.join(site.root, '.attache-lock')), false, 'and freed the lock');
    });

    it('a checkout done before the stream ends: the manifest and the merge into the release go as one command, and nothing is left beside it', async () => {
      const { relay, target } = await relayed();
      const site = createSite({ target, server: assetServer(), buildAssets: false });
      mkdirSync(path.join(site.cwd, ASSETS));
      for (let i = 0; i < 6; i++) writeFileSync(path.join(site.cwd, ASSETS, `big-${i}.bin`), randomBytes(MB));
      relay.throttle(3 * MB); // ~2 s of stream; the checkout of the small app is done long before
      const verbose = captureLogger('verbose');
      await site.run('deploy', [], { logger: verbose.log });
      const release = site.release(site.liveId()!);
      for (let i = 0; i < 6; i++)
        assert.deepEqual(
          sha256(readFileSync(path.join(release, REMOTE, `big-${i}.bin`))),
          sha256(readFileSync(path.join(site.cwd, ASSETS, `big-${i}.bin`))),
        );
      assert.ok(exists(path.join(release, '.attache-assets.json')), 'the manifest is in the release');
      assert.ok(exists(path.join(release, 'artisan')), "the checkout's files are there");
      assert.deepEqual(
        readdirSync(path.join(site.root, 'releases')).filter((name) => name.startsWith('.')),
        [],
        'no staging directory left',
      );
      const commands = verbose.lines.filter((line) => /\$ /.test(line));
      assert.ok(
        verbose.lines.some((line) => /tar -x -p/.test(line)),
        'the files went as a stream',
      );
      assert.ok(!commands.some((line) => /\$ cp -R -P -l/.test(line)), `the merge was not a command of its own:\n${commands.join('\n')}`);
    });

    it('the deploy failing while the stream runs (composer, beside it): the stream stops, the undo removes the release, live stays', async () => {
      const { relay, target } = await relayed();
      const site = createSite({ target, server: assetServer({ skip: ['artisan'] }), buildAssets: false });
      mkdirSync(path.join(site.cwd, ASSETS));
      writeFileSync(path.join(site.cwd, ASSETS, 'app.css'), 'first\n');
      await site.run('deploy');
      const live = site.liveId()!;
      const previous = tree(site.release(live));
      for (let i = 0; i < 12; i++) writeFileSync(path.join(site.cwd, ASSETS, `big-${i}.bin`), randomBytes(MB));
      commitChange(site.repo.work, site.repo.bare, 'composer.json', '{ "name": "attache/example-app", \n');
      relay.throttle(4 * MB); // ~3 s of stream: composer fails while it runs
      const { error } = await site.fail('deploy');
      assert.match(error.message, /step "composer"/, error.message);
      await new Promise((resolve) => setTimeout(resolve, 500)); // a tar still writing would show up now
      assert.deepEqual(site.releases(), [live], 'the half-filled release was removed by the undo');
      assert.equal(site.liveId(), live);
      assert.deepEqual(tree(site.release(live)), previous, 'the previous release is untouched');
      commitChange(site.repo.work, site.repo.bare, 'composer.json', readFileSync(path.join(EXAMPLE_APP, 'composer.json'), 'utf8'));
    });
  });

  describe('a full disk (a small tmpfs: 2–4 MB)', () => {
    it('the deploy checks free space first: "not enough space on <server>: X needed, Y free at <path>"', async () => {
      const root = path.join(tmpfs('4m'), 'root');
      const site = createSite({ target: direct(), root, server: assetServer(), buildAssets: false });
      mkdirSync(path.join(site.cwd, ASSETS));
      writeFileSync(path.join(site.cwd, ASSETS, 'app.css'), 'first\n');
      await site.run('deploy');
      const live = site.liveId()!;
      writeFileSync(path.join(site.cwd, ASSETS, 'big.bin'), randomBytes(6 * MB));
      const { error } = await site.fail('deploy');
      const [, id] = /free at .*\/releases\/([^ \n]+)/.exec(error.message) ?? [];
      assert.match(error.message, /not enough space on production: 6\.0 MB needed, \d+(\.\d)? [KM]B free at \//, error.message);
      assert.ok(id && error.message.includes(`free at ${site.release(id)}`), error.message);
      assert.deepEqual(site.releases(), [live]);
      assert.equal(site.liveId(), live);
    });

    it('a disk that fills during the stream says "no space left on device" with the path and tar\'s own line', async () => {
      // 1-byte files pass the check (bytes to send) but take a 4 KiB page each on tmpfs.
      const root = path.join(tmpfs('2m'), 'root');
      const site = createSite({ target: direct(), root, server: assetServer(), buildAssets: false });
      mkdirSync(path.join(site.cwd, ASSETS));
      for (let i = 0; i < 1000; i++) writeFileSync(path.join(site.cwd, ASSETS, `f-${i}.txt`), 'x');
      const { error } = await site.fail('deploy');
      assert.match(error.message, /no space left on device at \/.*\/releases\/[^:]+: tar: .*No space left on device/, error.message);
      assert.deepEqual(site.releases(), [], 'the undo removed the release');
    });

    it('the plugin\'s atomic mode explains SFTP\'s bare "Failure" on a full disk', async () => {
      const dest = path.join(tmpfs('2m'), 'site');
      const local = tempDir('attache-full-');
      writeFileSync(path.join(local, 'big.bin'), randomBytes(3 * MB));
      await assert.rejects(
        collect(gulp.src('*.bin', { cwd: local, encoding: false }), upload({ server: direct(), dest, logger: quiet() })),
        (error: Error) => error.message.includes(`no space left on device at ${dest}/big.bin (SFTP: Failure)`),
      );
    });

    it("the plugin's stream mode keeps tar's own line", async () => {
      const dest = path.join(tmpfs('2m'), 'site');
      const local = tempDir('attache-full-');
      writeFileSync(path.join(local, 'big.bin'), randomBytes(3 * MB));
      await assert.rejects(
        collect(gulp.src('*.bin', { cwd: local, encoding: false }), upload({ server: direct(), dest, logger: quiet(), mode: 'stream' })),
        (error: Error) => error.message.includes(`no space left on device at ${dest}: tar: big.bin: `),
      );
    });
  });
});
