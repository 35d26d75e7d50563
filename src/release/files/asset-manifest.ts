import { sh } from '../../remote/quote';
import type { Target } from '../../remote/target';

/**
 * Per release: each asset's path in the release → its content hash, size and mode; `age` on a file
 * kept from an earlier release's build (1: the release before), which this release's build lacks.
 */
export type AssetManifest = Record<string, { sha256: string; size: number; mode: number; age?: number }>;

/** Where a build puts the files it names by content (Vite's assetsDir under public/build): an old name never gets new bytes. */
export function isHashedBuildFile(remote: string): boolean {
  return /(^|\/)build\/assets\/[^/]/.test(remote);
}

/**
 * The files of the previous release to keep in the new one (the new build lacks them): its hashed
 * build files not older than `releases`, each one release older now. The new build's manifest.json is its own.
 */
export function oldAssetsToKeep(previous: AssetManifest, current: ReadonlySet<string>, releases: number): AssetManifest {
  return Object.fromEntries(
    Object.entries(previous)
      .filter(([remote, entry]) => isHashedBuildFile(remote) && !current.has(remote) && (entry.age ?? 0) < releases)
      .map(([remote, entry]) => [remote, { ...entry, age: (entry.age ?? 0) + 1 }]),
  );
}

/**
 * The manifest of a release, or an empty one (a release from before manifests, or none): one
 * command (SFTP would take a round trip each to open, read and close), its output not logged.
 */
export async function readManifest(target: Target, file: string): Promise<AssetManifest> {
  try {
    const result = await target.exec(sh`cat -- ${file} 2>/dev/null || true`, { readOnly: true, output: 'none', step: 'assets' });
    return JSON.parse(result.stdout) as AssetManifest;
  } catch {
    return {};
  }
}

/**
 * The shell line that writes a manifest (for a step's script, so that it costs no round trip of its
 * own). `printf` is a shell builtin: the JSON, however long, never meets the argument-length limit.
 * Its mode follows the umask: only the deploy reads it.
 */
export function writeManifestCommand(file: string, manifest: AssetManifest): string {
  return sh`printf '%s\\n' ${JSON.stringify(manifest)} > ${file}`;
}

/** True when the previous release holds the same bytes and mode at the same path: link it, send nothing. */
export function unchanged(previous: AssetManifest, remote: string, entry: AssetManifest[string]): boolean {
  const before = previous[remote];
  return before !== undefined && before.sha256 === entry.sha256 && before.size === entry.size && before.mode === entry.mode;
}
