import { createHash, randomBytes } from 'node:crypto';
import { AttacheError } from '../../errors';
import { ArchiveSourceFailed, ArchiveUpload } from '../../remote/archive';
import {
  authorizedKeyLine,
  fetchCommand,
  grantScript,
  keyPairScript,
  removeCommand,
  revokeScript,
  SEED_ARCHIVE,
  stageCommand,
} from '../../remote/fanout';
import { formatBytes } from '../../remote/format';
import { releaseIdOf, type Deploy, type FanOutNetwork, type FanOutPublished, type ServerRun } from '../lifecycle/context';
import { undoNow } from '../lifecycle/undo';

/**
 * The fan-out: the servers of a deploy that have a `peerAddress` form one network, and a release's
 * bytes go from here to one of them (the seed, the first of them); the others take them from the
 * seed with their own `ssh`, as one tar, and check every file against the hashes made here.
 *
 * What is opened, and for how long: each receiving server makes a one-time key pair in a private
 * directory under its root (the private key never travels) and pins the seed's host key, the one
 * this machine verified; the seed's deploy user gets one authorized_keys line per receiver,
 * restricted to `cat` of the one tar, from that receiver's address. The lines, the key pairs and the
 * tar are removed once every server has its bytes (the step's end), or by the undo when the deploy
 * fails or is interrupted (kind `temporary`, which outlives the commit: the end removes what is left).
 *
 * A receiver that cannot reach the seed gets the bytes from here instead, and the log says so.
 */

/** What the seed publishes when its part ended without sending anything (nothing changed there). */
const NOTHING = '';

/** A file of the release's bytes, relative to the directory it lands in on every server. */
export interface FanOutFile {
  relative: string;
  size: number;
  sha256: string;
  mode: number;
}

/** What a step hands the fan-out for one server: the bytes, where they land, and how to send them from here. */
export interface FanOutSend {
  /** The step, for errors and the network it belongs to. */
  step: string;
  /** Where the files land on this server (the release, or a staging directory beside it). */
  dest: string;
  /** Every regular file the upload sends, with its hash. */
  files: readonly FanOutFile[];
  /** Symbolic links the upload also sends (relative path -> target): carried by the tar, not hashed. */
  links?: Readonly<Record<string, string>>;
  /** The upload from here, as without the fan-out. */
  send(): Promise<void>;
}

/** A network of the servers of one step, in the order the step starts them: the first is the seed. */
function newNetwork(members: readonly ServerRun[], releaseId: string, step: string): FanOutNetwork {
  const token = `${releaseId}-${step}-${randomBytes(4).toString('hex')}`;
  let publish!: (published: FanOutPublished | Error) => void;
  const published = new Promise<FanOutPublished | Error>((resolve) => (publish = resolve));
  return { members, seed: members[0], token, comment: `attache-fanout-${token}`, published, publish };
}

/**
 * The servers the fan-out can serve for a step: those it runs on that have a `peerAddress` and
 * are reached over SSH. Fewer than two: no network; a dry run says what it would do, and sends nothing.
 */
export function networkFor(deploy: Deploy, step: string, runs: readonly ServerRun[]): FanOutNetwork | undefined {
  deploy.fanOuts ??= new Map();
  if (deploy.fanOuts.has(step)) return deploy.fanOuts.get(step);
  const members = runs.filter((run) => run.server.peerAddress && run.target.kind === 'ssh');
  if (deploy.dryRun && members.length >= 2) {
    const [seed, ...others] = members.map((run) => run.server.name);
    deploy.log.info(`[dry run] ${step}: would send the bytes to ${seed} only; ${others.join(', ')} would take them from it (fan-out)`);
  }
  const network = members.length >= 2 && !deploy.dryRun ? newNetwork(members, releaseIdOf(deploy), step) : undefined;
  deploy.fanOuts.set(step, network);
  return network;
}

/** Whether this server takes part in a network for the step (its files must then be hashed before they go). */
export function inNetwork(deploy: Deploy, step: string, runs: readonly ServerRun[], run: ServerRun): boolean {
  return networkFor(deploy, step, runs)?.members.includes(run) ?? false;
}

/**
 * Runs a step's part on one server. On the seed, whatever ends its part settles what the others
 * wait for: its failure (they then fail too, sending nothing), or, when it never sent anything
 * (nothing changed there), no tar (they then send from here).
 */
export async function inFanOut<T>(
  run: ServerRun,
  deploy: Deploy,
  step: string,
  runs: readonly ServerRun[],
  part: () => Promise<T>,
): Promise<T> {
  const network = networkFor(deploy, step, runs);
  if (network?.seed !== run) return part();
  try {
    return await part();
  } catch (error) {
    network.publish(error as Error);
    throw error;
  } finally {
    network.publish({ key: NOTHING });
  }
}

/**
 * Puts the bytes on this server: from here (outside a network, and on the seed, which then keeps
 * them as one tar for the others) or from the seed. Resolves with where they came from.
 */
export async function sendOnce(run: ServerRun, deploy: Deploy, runs: readonly ServerRun[], what: FanOutSend): Promise<'here' | string> {
  const network = networkFor(deploy, what.step, runs);
  if (!network?.members.includes(run)) {
    await what.send();
    return 'here';
  }
  if (run === network.seed) {
    await seed(run, network, what);
    return 'here';
  }
  return receive(run, deploy, network, what);
}

/** The seed: its own upload from here, then the tar of those bytes for the others. */
async function seed(run: ServerRun, network: FanOutNetwork, what: FanOutSend): Promise<void> {
  const dir = run.layout.fanout(network.token);
  // Registered first: a receiver may add its line as soon as the tar is there, and the removal goes by the comment.
  run.undo.push('temporary', `remove the fan-out's key lines from ~/.ssh/authorized_keys and ${dir}`, async () => {
    await run.target.exec('sh -e -s', { stdin: revokeScript(network.comment) + '\n', step: what.step });
    await run.target.exec(removeCommand(dir), { step: what.step });
  });
  try {
    await what.send();
  } catch (error) {
    network.publish(error as Error);
    throw error;
  }
  const names = [...what.files.map((f) => f.relative), ...Object.keys(what.links ?? {})];
  try {
    await run.target.exec(stageCommand(dir, what.dest), { stdin: Buffer.from(names.map((name) => `${name}\0`).join('')), step: what.step });
    network.publish({ key: bytesKey(what), file: `${dir}/${SEED_ARCHIVE}` });
    run.log.info(`[${run.server.name}] ${what.step}: the fan-out's seed: the other servers take these bytes from ${address(run)}`);
  } catch (error) {
    run.log.warn(
      `[${run.server.name}] ${what.step}: could not keep the bytes for the other servers (${firstLine(error)}): they are sent to each from here`,
    );
    network.publish({ key: bytesKey(what) });
  }
}

/** A receiver: a one-time key, the seed's leave to read its tar, the tar through ssh, checked here against our hashes. */
async function receive(run: ServerRun, deploy: Deploy, network: FanOutNetwork, what: FanOutSend): Promise<string> {
  const { seed } = network;
  const dir = run.layout.fanout(network.token);
  const direct = async (why: string) => {
    if (deploy.cancel.signal.aborted)
      throw new AttacheError('stopped: the deploy was cancelled', { server: run.server.name, step: what.step });
    run.log.warn(`[${run.server.name}] ${what.step}: ${why}`);
    await what.send();
    return 'here';
  };
  const hostKey = seed.target.hostKey;
  const user = seed.target.user;
  if (!hostKey || !user) return direct(`the seed ${seed.server.name}'s host key is not known here: the bytes are sent from here instead`);

  run.undo.push('temporary', `remove ${dir} (the fan-out's one-time key)`, () =>
    run.target.exec(removeCommand(dir), { step: what.step }).then(() => undefined),
  );
  let publicKey: string;
  try {
    publicKey = (await run.target.exec('sh -e -s', { stdin: keyPairScript(dir, hostKey, network.comment) + '\n', step: what.step })).stdout;
  } catch (error) {
    return direct(`could not make a one-time key for the fan-out, so the bytes are sent from here: ${firstLine(error)}`);
  }

  const published = await network.published;
  if (deploy.cancel.signal.aborted)
    throw new AttacheError('stopped: the deploy was cancelled', { server: run.server.name, step: what.step });
  if (published instanceof Error) {
    throw new AttacheError(`not sent: the fan-out's seed ${seed.server.name} failed to receive the bytes (its own error says why)`, {
      server: run.server.name,
      step: what.step,
    });
  }
  if (published.key === NOTHING) return direct(`the seed ${seed.server.name} had nothing to send: the bytes are sent from here`);
  if (!published.file) return direct(`the seed ${seed.server.name} could not keep the bytes: they are sent from here instead`);
  if (published.key !== bytesKey(what))
    return direct(`this server needs other bytes than the seed ${seed.server.name} (another live release): they are sent from here`);

  try {
    // From this server's own address only: the one the others reach it at, in the fleet's network.
    const from = [run.server.peerAddress!.host];
    const line = authorizedKeyLine({ file: published.file, from, publicKey, comment: network.comment });
    await seed.target.exec('sh -e -s', { stdin: grantScript(line) + '\n', step: what.step });
  } catch (error) {
    return direct(`could not let it in on the seed ${seed.server.name}, so the bytes are sent from here: ${firstLine(error)}`);
  }

  const peer = seed.server.peerAddress!;
  const bytes = what.files.reduce((n, f) => n + f.size, 0);
  const archive = new ArchiveUpload(run.target, what.dest, run.log, {
    expected: { files: what.files.length, bytes },
    step: what.step,
    signal: deploy.cancel.signal,
    from: { command: fetchCommand(dir, { host: peer.host, port: peer.port, user }, connectTimeout(run)), scratch: dir },
  });
  for (const file of what.files) archive.expect(file);
  try {
    await archive.finish();
  } catch (error) {
    if (!(error instanceof ArchiveSourceFailed)) throw fromSeed(error, seed);
    return direct(
      `could not take the bytes from the seed ${seed.server.name} (${address(seed)}), so they are sent from here: ${error.firstLine || 'ssh failed, saying nothing'}`,
    );
  }
  run.log.info(
    `[${run.server.name}] ${what.step}: ${what.files.length} file(s), ${formatBytes(bytes)}, taken from ${seed.server.name} and checked`,
  );
  return seed.server.name;
}

/**
 * Once every server has its bytes: the seed's key lines and tar, the receivers' key pairs, removed
 * now rather than at the deploy's end. What cannot be removed now stays in the undo log, which the
 * deploy's end runs.
 */
export async function closeNetwork(deploy: Deploy, step: string): Promise<void> {
  const network = deploy.fanOuts?.get(step);
  if (!network) return;
  await Promise.all(
    network.members.map((run) =>
      undoNow(run, 'temporary').catch((error: unknown) =>
        run.log.warn(`[${run.server.name}] ${step}: the fan-out's temporary files are removed at the end instead (${firstLine(error)})`),
      ),
    ),
  );
}

/** A failure of the bytes taken from the seed (a file that differs from its hash here), told as such. */
function fromSeed(error: unknown, seed: ServerRun): unknown {
  if (!(error instanceof AttacheError) || !/do not match/.test(error.what)) return error;
  return new AttacheError(
    `what the seed ${seed.server.name} passed on is not what was sent to it: ${error.what}`,
    {
      ...error.context,
      hint: `The seed's copy changed after it was checked there: look at ${seed.server.name} (its disk, what else writes under its root), then deploy again; without "peerAddress" every server gets its bytes from here.`,
    },
    { cause: error },
  );
}

/** The identity of a server's bytes: two servers with the same key need the same tar. */
function bytesKey(what: FanOutSend): string {
  const hash = createHash('sha256');
  for (const f of [...what.files].sort((a, b) => (a.relative < b.relative ? -1 : 1)))
    hash.update(`${f.relative}\0${f.sha256}\0${f.size}\0${f.mode}\n`);
  for (const [link, to] of Object.entries(what.links ?? {}).sort()) hash.update(`${link}\0->${to}\n`);
  return hash.digest('hex');
}

function address(run: ServerRun): string {
  const peer = run.server.peerAddress;
  return peer ? `${peer.host.includes(':') ? `[${peer.host}]` : peer.host}:${peer.port}` : '-';
}

function connectTimeout(run: ServerRun): number {
  return run.server.ssh.connectTimeout ?? 10;
}

function firstLine(error: unknown): string {
  const err = error as Error & { what?: string };
  return String(err?.what ?? err?.message ?? error).split('\n')[0];
}
