import { randomBytes } from 'node:crypto';
import path from 'node:path/posix';
import type { ServerConfig } from '../../config/types';
import { httpGet } from '../../remote/http-get';
import type { Target } from '../../remote/target';
import { phpCommand } from '../model/tools';
import type { Layout } from '../model/layout';
import type { Check } from './checklist';

/** What PHP answers about itself, behind the web server. */
interface PhpSees {
  script: string | null;
  user: string;
  opcache: { enable: string | false; validate: string | false; freq: string | false; loaded: boolean };
  realpathTtl: string | false;
}

/** The probe: PHP says which path it was given, who it runs as, and its OPcache and realpath cache settings. */
const PROBE = `<?php
header('Content-Type: application/json');
header('Cache-Control: no-store');
$user = function_exists('posix_geteuid') ? (posix_getpwuid(posix_geteuid())['name'] ?? (string) posix_geteuid()) : get_current_user();
echo json_encode([
  'script' => $_SERVER['SCRIPT_FILENAME'] ?? null,
  'user' => $user,
  'opcache' => ['enable' => ini_get('opcache.enable'), 'validate' => ini_get('opcache.validate_timestamps'), 'freq' => ini_get('opcache.revalidate_freq'), 'loaded' => extension_loaded('Zend OPcache')],
  'realpathTtl' => ini_get('realpath_cache_ttl'),
]);
`;

const NGINX_FIX =
  'in nginx: fastcgi_param SCRIPT_FILENAME $realpath_root$fastcgi_script_name; and fastcgi_param DOCUMENT_ROOT $realpath_root; (README "Web servers: make the swap take effect at once")';

/**
 * What the web server actually serves: a one-time PHP file under a random name in the live
 * release's public/, fetched through the web server at the app's URL, removed at once (also when
 * the fetch fails). A symlinked SCRIPT_FILENAME keeps the previous release in OPcache and the
 * realpath cache after a swap; with OPcache never revalidating and no reset configured, it keeps
 * serving the old code until php-fpm restarts.
 */
export async function probeWeb(
  target: Target,
  server: ServerConfig,
  layout: Layout,
  liveRelease: string,
  baseUrl: string,
): Promise<{ checks: Check[]; phpUser?: string }> {
  const where = server.name;
  const name = `attache-probe-${randomBytes(12).toString('hex')}.php`;
  const file = path.join(liveRelease, 'public', name);
  const url = `${baseUrl.replace(/\/+$/, '')}/${name}`;
  let sees: PhpSees;
  await target.writeFile(file, Buffer.from(PROBE), 0o644);
  try {
    // Where the health check is fetched from the server, so is the probe: its URL may resolve only there.
    const response = await httpGet(url, {
      timeout: 10,
      php: phpCommand(server),
      ...(server.healthcheck?.from === 'server' && { on: target }),
    });
    const body = response.body;
    if (response.status !== 200) {
      return {
        checks: [
          check(
            where,
            'fail',
            `${url} answered ${response.status}, not the probe's answer`,
            `check that ${baseUrl} is served from ${layout.live}/public by PHP (the web server's root)`,
          ),
        ],
      };
    }
    sees = JSON.parse(body) as PhpSees;
  } catch (error) {
    return {
      checks: [
        check(
          where,
          'warn',
          `${url} could not be fetched: ${(error as Error).message}`,
          'set "healthcheck" to a URL of the app this machine can reach',
        ),
      ],
    };
  } finally {
    await target.unlink(file).catch(() => undefined);
  }

  const checks: Check[] = [];
  const script = sees.script ?? '(none)';
  const symlinked = script.startsWith(`${layout.live}/`);
  const opcacheOn = sees.opcache.loaded && truthy(sees.opcache.enable);
  const neverRevalidates = opcacheOn && !truthy(sees.opcache.validate);
  const settings = `opcache.enable=${sees.opcache.enable || 0}, validate_timestamps=${sees.opcache.validate || 0}, revalidate_freq=${sees.opcache.freq || 0}, realpath_cache_ttl=${sees.realpathTtl || 0}`;
  if (!symlinked) checks.push(check(where, 'ok', `PHP is given the release's real path (${script}); ${settings}`));
  else if (neverRevalidates && !server.opcache)
    checks.push(
      check(
        where,
        'fail',
        `PHP is given the symlinked path (${script}) and OPcache never revalidates (${settings}): after a swap the old code keeps serving until php-fpm restarts`,
        `${NGINX_FIX}; or set "opcache": { "fpm": "<php-fpm's socket>" } to reset OPcache after each swap`,
      ),
    );
  else
    checks.push(
      check(
        where,
        'warn',
        `PHP is given the symlinked path (${script}); ${settings}: for up to realpath_cache_ttl s after a swap, requests may run the previous release`,
        NGINX_FIX,
      ),
    );
  if (server.webUser && sees.user !== server.webUser)
    checks.push({
      where,
      area: 'web',
      name: 'PHP user',
      verdict: 'warn',
      fact: `PHP runs as ${sees.user}, "webUser" is ${server.webUser}`,
      fix: `set "webUser": "${sees.user}"`,
    });
  else checks.push({ where, area: 'web', name: 'PHP user', verdict: 'ok', fact: `PHP runs as ${sees.user}` });
  return { checks, phpUser: sees.user };
}

function truthy(value: string | false): boolean {
  return value !== false && value !== '' && value !== '0' && value.toLowerCase() !== 'off';
}

function check(where: string, verdict: Check['verdict'], fact: string, fix?: string): Check {
  return { where, area: 'web', name: 'what the web serves', verdict, fact, ...(fix && { fix }) };
}
