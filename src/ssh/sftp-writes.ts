import type { Readable } from 'node:stream';
import type { SFTPWrapper } from 'ssh2';
import { AttacheError } from '../errors';
import { createLimit } from '../limit';
import type { Connection } from './connect';
import type { PacedWrites } from './paced-input';
import { maxWriteLength } from './ssh2-internals';

/** SFTP write requests in flight for one file. */
const WRITES_IN_FLIGHT = 16;

/** What a file's writes need of the session's SFTP side (sftp.ts SftpFiles). */
export interface WriteChannel {
  readonly connection: Connection;
  /** The SFTP channel: open by the time a file's handle is. */
  readonly sftp?: SFTPWrapper;
  readonly writes: PacedWrites;
  call(request: (sftp: SFTPWrapper, cb: (error: Error | null | undefined) => void) => void, path: string): Promise<unknown>;
  sftpError(error: Error, path: string): AttacheError;
}

/** A file's contents held whole, written in the largest requests the server takes, WRITES_IN_FLIGHT at a time. */
export async function writeBuffer(files: WriteChannel, handle: Buffer, data: Buffer, path: string): Promise<number> {
  const chunk = maxWrite(files);
  const offsets: number[] = [];
  for (let offset = 0; offset < data.length; offset += chunk) offsets.push(offset);
  const limit = createLimit(WRITES_IN_FLIGHT);
  await Promise.all(
    offsets.map((offset) =>
      limit(async () => {
        const length = Math.min(chunk, data.length - offset);
        await files.writes.take(length);
        try {
          await files.call((sftp, cb) => sftp.write(handle, data, offset, length, offset, cb), path);
        } finally {
          files.writes.give(length);
        }
      }),
    ),
  );
  return data.length;
}

/** Streams with a bounded number of writes in flight, pausing the source: memory stays flat for any size. */
export function writeStream(files: WriteChannel, handle: Buffer, source: Readable, path: string): Promise<number> {
  const { connection, writes } = files;
  const chunkSize = maxWrite(files);
  if (source.readableEnded || source.destroyed) {
    return Promise.reject(
      new AttacheError("the file's contents were already read by someone else", { server: connection.name, remotePath: path }),
    );
  }
  return new Promise((resolve, reject) => {
    let position = 0;
    let inFlight = 0;
    let ended = false;
    let failed = false;
    const fail = (error: unknown) => {
      if (failed) return;
      failed = true;
      source.destroy();
      reject(error);
    };
    const maybeDone = () => {
      if (ended && inFlight === 0 && !failed) resolve(position);
    };
    source.on('data', (data: Buffer | string) => {
      const buffer = Buffer.isBuffer(data) ? data : Buffer.from(data);
      for (let offset = 0; offset < buffer.length; offset += chunkSize) {
        const piece = buffer.subarray(offset, offset + chunkSize);
        const at = position;
        position += piece.length;
        inFlight++;
        // Each write waits for its share of the session's bytes in flight (paced-input.ts); they are handed out in order.
        void writes.take(piece.length).then(() => {
          if (failed || connection.closed) {
            writes.give(piece.length);
            return fail(connection.lost(new Error('connection closed'), { remotePath: path }));
          }
          (files.sftp as SFTPWrapper).write(handle, piece, 0, piece.length, at, (error) => {
            writes.give(piece.length);
            inFlight--;
            if (error) return fail(files.sftpError(error, path));
            if (inFlight < WRITES_IN_FLIGHT) source.resume();
            maybeDone();
          });
        });
      }
      if (inFlight >= WRITES_IN_FLIGHT) source.pause();
    });
    source.on('end', () => {
      ended = true;
      maybeDone();
    });
    source.on('error', fail);
    // Destroyed without an end (a pipe torn down): the file is incomplete, so fail rather than wait forever.
    source.on(
      'close',
      () =>
        ended || fail(new AttacheError("the file's contents ended early (stream closed)", { server: connection.name, remotePath: path })),
    );
  });
}

function maxWrite(files: WriteChannel): number {
  return maxWriteLength(files.sftp as SFTPWrapper);
}
