import { randomBytes } from 'node:crypto';
import { AttacheError } from '../../errors';
import { fastcgiRequest, type FcgiResponse } from '../../remote/fastcgi';
import type { ServerRun, Step } from '../lifecycle/context';

/** What the script answers: the token proves the answer came from this script, this time. */
const SAID = 'attache-opcache:';

/** Resets OPcache from inside the pool (only a php-fpm worker can: the CLI has its own cache), then clears its stat cache. */
function script(token: string): string {
  return [
    '<?php',
    '// Written by gulp-attache to reset OPcache after a deploy; removed right after.',
    "header('Content-Type: text/plain');",
    `if (!function_exists('opcache_reset')) { echo "${SAID} not-loaded ${token}\\n"; return; }`,
    '$reset = opcache_reset();',
    'clearstatcache(true);',
    `echo $reset ? "${SAID} reset ${token}\\n" : "${SAID} disabled ${token}\\n";`,
    '',
  ].join('\n');
}

/**
 * `"opcache": { "fpm": "<socket or host:port>" }`: right after the swap, php-fpm's OPcache is
 * reset by the pool itself: a short-lived script is written into root, requested over FastCGI
 * through the SSH connection (a stream-local forward to the socket, or a TCP forward), and
 * removed. Nothing is installed on the server. A failure fails the deploy (live is swapped back)
 * before the health check, since the old code could otherwise go on being served.
 */
export const opcache: Step = {
  name: 'opcache',
  description: 'reset the php-fpm pool\'s OPcache over FastCGI ("opcache": { "fpm": … }), right after the swap',
  appliesTo: (server) => server.opcache !== undefined,
  async run(run, deploy) {
    const fpm = run.server.opcache!.fpm;
    if (deploy.dryRun) {
      run.log.info(`[dry run] [${run.server.name}] would reset OPcache through php-fpm at ${fpm}`);
      return;
    }
    const token = randomBytes(8).toString('hex');
    const file = run.layout.opcacheScript(token);
    let response: FcgiResponse;
    try {
      await run.target.writeFile(file, Buffer.from(script(token)), 0o644);
      response = await fastcgiRequest(await run.target.connectTo(fpm), params(file, run), { timeoutMs: 15_000 });
    } catch (error) {
      throw failure(run, fpm, (error as Error).message, error);
    } finally {
      await run.target.unlink(file).catch(() => undefined);
    }
    const said = new RegExp(`${SAID} (\\S+) ${token}`).exec(response.body)?.[1];
    if (said === 'reset') run.log.info(`[${run.server.name}] OPcache reset through php-fpm at ${fpm}`);
    else if (said === 'disabled' || said === 'not-loaded')
      run.log.info(
        `[${run.server.name}] OPcache is ${said === 'disabled' ? 'disabled' : 'not loaded'} in php-fpm at ${fpm}: nothing to reset`,
      );
    else {
      const answer = (response.body.trim() || response.stderr.trim() || '(empty)').split('\n')[0];
      throw failure(run, fpm, `php-fpm answered ${response.status}: ${answer}`);
    }
  },
};

/** What php-fpm needs to run a script (SCRIPT_FILENAME) and what PHP expects of a request. */
function params(file: string, run: ServerRun): Record<string, string> {
  const name = '/' + file.split('/').pop();
  return {
    GATEWAY_INTERFACE: 'FastCGI/1.0',
    REQUEST_METHOD: 'GET',
    SCRIPT_FILENAME: file,
    SCRIPT_NAME: name,
    REQUEST_URI: name,
    DOCUMENT_ROOT: run.layout.root,
    QUERY_STRING: '',
    CONTENT_LENGTH: '0',
    SERVER_SOFTWARE: 'gulp-attache',
    SERVER_PROTOCOL: 'HTTP/1.1',
    SERVER_NAME: 'localhost',
    SERVER_PORT: '80',
    REMOTE_ADDR: '127.0.0.1',
  };
}

function failure(run: ServerRun, fpm: string, why: string, cause?: unknown): AttacheError {
  return new AttacheError(
    `could not reset OPcache through php-fpm at ${fpm}: ${why}`,
    {
      server: run.server.name,
      step: 'opcache',
      hint:
        `live was swapped back. Check that ${fpm} is the pool that serves the site (listen = … in its pool config), that the deploy user may ` +
        `connect to it (listen.owner/listen.mode), and that php-fpm can read ${run.layout.root} ("File not found" / "Primary script unknown": ` +
        'it cannot, or runs chrooted or in another container).',
    },
    { cause },
  );
}
