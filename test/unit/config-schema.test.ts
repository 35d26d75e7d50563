import { ATTACHE_PROJECT } from '../../src/config/project';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { loadConfig, type ServerConfig } from '../../src/config';
import { NESTED_KEYS, SERVER_KEYS, SERVER_SCHEMA, type ServerKey } from '../../src/config/schema';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'attache-schema-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

function loadServer(server: Record<string, unknown>): ServerConfig {
  fs.writeFileSync(path.join(dir, '.attache.json'), JSON.stringify({ repository: 'git@example.com:me/app.git', servers: { p: server } }));
  return loadConfig('.attache.json', { cwd: dir }).servers.p;
}

const rows = Object.entries<ServerKey>(SERVER_SCHEMA);
const fieldRows = rows.filter(([, row]) => row.read).map(([key]) => key);

// The same check for tsc: a row with a read for every field of ServerConfig but name, and none other.
type FieldRow = {
  [K in keyof typeof SERVER_SCHEMA]: (typeof SERVER_SCHEMA)[K] extends { read: unknown } ? K : never;
}[keyof typeof SERVER_SCHEMA];
const sameKeys: [Exclude<keyof ServerConfig, FieldRow | 'name'>, Exclude<FieldRow, keyof ServerConfig>] extends [never, never]
  ? true
  : false = true;

describe('config schema', () => {
  it('has a row that reads each field of ServerConfig, and ServerConfig has a field for each such row', () => {
    assert.equal(sameKeys, true);
    const full = loadServer({
      host: 'h',
      port: 22,
      user: 'u',
      root: '/srv/app',
      healthcheck: 'http://h/',
      webUser: 'www-data',
      opcache: { fpm: '/run/php/fpm.sock' },
      rollout: { batches: [1, '50%'] },
      peerAddress: '10.0.0.2',
    });
    assert.deepEqual(Object.keys(full).sort(), ['name', ...fieldRows].sort());
  });

  it('lists the known keys in the table order, nested ones from the rows', () => {
    assert.deepEqual(
      SERVER_KEYS,
      rows.map(([key]) => key),
    );
    assert.deepEqual(NESTED_KEYS, {
      php: ['bin'],
      composer: ['bin', 'dev', 'local', 'reuseVendor', 'installer'],
      healthcheck: ['url', 'from', 'status', 'contains', 'header', 'timeout', 'retries'],
      ssh: [
        'acceptNewHostKeys',
        'knownHostsFile',
        'knownHostsEnv',
        'identityFile',
        'identityEnv',
        'passphraseEnv',
        'forwardAgent',
        'connectTimeout',
        'proxyJump',
        'sshConfigFile',
        'agent',
        'passphrase',
      ],
      shared: ['dirs', 'files'],
      rollout: ['batches', 'maxFailures', 'pause'],
      opcache: ['fpm'],
    });
  });

  it('documents the defaults a server gets', () => {
    const plain = loadServer({ host: 'h', root: '/srv/app' }) as unknown as Record<string, unknown>;
    const checked = loadServer({ host: 'h', root: '/srv/app', healthcheck: { url: 'http://h/' } }) as unknown as Record<string, unknown>;
    let count = 0;
    for (const [key, row] of rows) {
      if (!row.read) continue;
      const value = key === 'healthcheck' ? checked[key] : plain[key];
      if (key === 'rollout') {
        // Without one, the fleet swaps together: no value, the behaviour its default names.
        assert.equal(value, undefined);
        continue;
      }
      if ('default' in row) {
        // build, assets and restart are found from the project: with none of its files, Attaché's; assets each sent to the same path.
        const found = row.default === 'found from the project';
        const expected =
          key === 'assets'
            ? ATTACHE_PROJECT.assets.map((p) => ({ local: p, remote: p }))
            : found
              ? ATTACHE_PROJECT[key as 'build' | 'restart']
              : row.default;
        if (found) assert.ok(['assets', 'build', 'restart'].includes(key), key);
        assert.deepEqual(value, expected, key), count++;
      } else if (!row.keys)
        assert.ok(value === undefined || row.shown === 'required', `${key} has no documented default but gets ${JSON.stringify(value)}`);
      for (const [sub, doc] of Object.entries(row.keys ?? {})) {
        // The SSH options' defaults are ssh/resolve.ts's, applied when connecting, not here.
        if ('default' in doc && key !== 'ssh')
          assert.deepEqual((value as Record<string, unknown>)[sub], doc.default, `${key}.${sub}`), count++;
      }
    }
    assert.ok(count > 25, `${count} defaults checked`);
  });

  it('reads peerAddress as host and port (22 by default), and refuses what is not host[:port]', () => {
    const base = { host: 'h', root: '/srv/app' };
    assert.deepEqual(loadServer({ ...base, peerAddress: '10.0.0.2' }).peerAddress, { host: '10.0.0.2', port: 22 });
    assert.deepEqual(loadServer({ ...base, peerAddress: 'web2.internal:2222' }).peerAddress, { host: 'web2.internal', port: 2222 });
    assert.deepEqual(loadServer({ ...base, peerAddress: '[fd00::2]:22' }).peerAddress, { host: 'fd00::2', port: 22 });
    assert.equal(loadServer(base).peerAddress, undefined);
    for (const [value, why] of [
      ['10.0.0.2:99999', /port is not from 1 to 65535/],
      ['deploy@10.0.0.2', /letters, digits/],
      ['-oProxyCommand=x', /letters, digits/],
      ['10.0.0.2:22:22', /host or host:port/],
    ] as const)
      assert.throws(() => loadServer({ ...base, peerAddress: value }), why, value);
  });
});
