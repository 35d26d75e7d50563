import { createHash } from 'node:crypto';
import path from 'node:path/posix';
import type { ServerConfig } from '../../config/types';

/**
 * Every path of a deploy on one server, in one place. No step computes a path of its own.
 *
 *   root/.env  root/storage/  root/releases/<id>/{.env,storage -> shared}  root/live -> releases/<id>
 *   root/shared/<path> for each of "shared": { dirs, files }, linked at releases/<id>/<path>
 */
export class Layout {
  readonly root: string;
  readonly releases: string;
  readonly live: string;
  readonly storage: string;
  readonly env: string;
  /** The deploy lock: a directory, because mkdir is atomic; `owner` inside says who holds it. */
  readonly lock: string;
  readonly lockOwner: string;
  /** Rewritten by the holder every few seconds: its age says whether the holder is still there. */
  readonly lockHeartbeat: string;
  /** The id of the release the holder is building, so whoever frees a dead holder's lock can remove it. */
  readonly lockRelease: string;
  /** A shallow bare copy of the repository: each deploy fetches only what is new into it. */
  readonly mirror: string;

  constructor(server: Pick<ServerConfig, 'root' | 'paths'>) {
    this.root = path.normalize(server.root).replace(/(.)\/$/, '$1');
    const at = (p: string) => path.resolve(this.root, p);
    this.releases = at(server.paths.releases);
    this.live = at(server.paths.serve);
    this.storage = at(server.paths.storage);
    this.env = at(server.paths.env);
    this.lock = at('.attache-lock');
    this.lockOwner = path.join(this.lock, 'owner');
    this.lockHeartbeat = path.join(this.lock, 'heartbeat');
    this.lockRelease = path.join(this.lock, 'release');
    this.mirror = at('.attache-mirror.git');
  }

  /** Made inside a stale lock by the one deploy taking it over (mkdir: of racers, exactly one wins). */
  lockTakeover(token: string): string {
    return path.join(this.lock, `.takeover-${token}`);
  }

  release(id: string): string {
    return path.join(this.releases, id);
  }

  /** What `live` points to for a release: relative, so the tree survives being moved or mounted elsewhere. */
  liveTarget(id: string): string {
    return path.relative(path.dirname(this.live), this.release(id));
  }

  /** The release id a `live` link target names (its last segment). */
  releaseIdOf(linkTarget: string): string {
    return path.basename(linkTarget);
  }

  /** Written when a release is complete (and rewritten when it fails its health check): only such releases count. */
  marker(id: string): string {
    return path.join(this.release(id), Layout.MARKER);
  }

  /** The marker's name inside a release (for listings that read every release's marker at once). */
  static readonly MARKER = '.attache-release.json';

  /** The checkout's temporary index (outside the mirror, so the mirror stays a plain bare repository). */
  checkoutIndex(id: string): string {
    return path.join(this.releases, `.${id}.index`);
  }

  /** A submodule's checkout's temporary index, as checkoutIndex. */
  moduleIndex(id: string): string {
    return path.join(this.releases, `.${id}.module-index`);
  }

  /** A shallow bare copy of a submodule's repository, one per URL (named by its hash), fetched like the mirror. */
  moduleMirror(url: string): string {
    return path.join(this.root, '.attache-modules', `${createHash('sha256').update(url).digest('hex').slice(0, 16)}.git`);
  }

  /**
   * Where the asset upload writes while the clone is still checking the release out (assets.ts): the
   * release's asset files, beside it, merged into it once the checkout is done. Outside the release,
   * which the clone claims with `mkdir`; removed by the merge, by the undo, or by a lock takeover.
   */
  stagedAssets(id: string): string {
    return path.join(this.releases, `.${id}.assets`);
  }

  inStagedAssets(id: string, relative: string): string {
    return path.join(this.stagedAssets(id), relative);
  }

  /** What each uploaded asset's content hash was, so the next deploy can reuse unchanged files. */
  assetManifest(id: string): string {
    return this.inRelease(id, Layout.ASSET_MANIFEST);
  }

  /** The asset manifest's name inside a release (or inside its staged assets). */
  static readonly ASSET_MANIFEST = '.attache-assets.json';
  /** Inside a release: what its vendor/ was installed for (PHP's version, the Composer command, the flags), beside the packages. */
  static readonly VENDOR_STAMP = 'vendor/.attache-vendor';

  /** An artifact release's listing (every file's hash, size, mode): the next deploy links what it already has. */
  artifactManifest(id: string): string {
    return path.join(this.release(id), '.attache-artifact.json');
  }

  releaseStorage(id: string): string {
    return path.join(this.release(id), 'storage');
  }

  releaseEnv(id: string): string {
    return path.join(this.release(id), '.env');
  }

  /** A relative symlink target from inside a release to a shared path. */
  fromRelease(id: string, shared: string): string {
    return path.relative(this.release(id), shared);
  }

  /** Where a shared path of `"shared": { dirs, files }` lives: root/shared/<path>, outside every release. */
  shared(relative: string): string {
    return path.join(this.root, 'shared', relative);
  }

  /**
   * A private directory (mode 700) of one deploy's fan-out (files/fanout.ts): on the seed the
   * release's bytes as one tar, on a receiving server its one-time key pair and the seed's host
   * key. Removed when the deploy ends, however it ends.
   */
  fanout(token: string): string {
    return path.join(this.root, `.attache-fanout-${token}`);
  }

  /** A short-lived script of the OPcache reset, in root (php-fpm reads it; removed right after). */
  opcacheScript(token: string): string {
    return path.join(this.root, `.attache-opcache-${token}.php`);
  }

  /** A path inside the release; the config validator has already refused ones that escape it. */
  inRelease(id: string, relative: string): string {
    return path.join(this.release(id), relative);
  }
}
