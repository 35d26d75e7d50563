import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { loadConfig } from '../../src/config';
import { SERVER_KEYS, TOP_SCHEMA } from '../../src/config/schema';
import { HOOK_NAMES } from '../../src/config/types';
import { configurationDoc, DOC_FILE, EXAMPLE } from '../../scripts/config-docs';

describe('docs/configuration.md', () => {
  const doc = configurationDoc();

  it('is what the schema generates (run `npm run docs:config` after changing src/config/schema.ts)', () => {
    assert.equal(fs.readFileSync(DOC_FILE, 'utf8'), doc, 'docs/configuration.md is stale: run `npm run docs:config`');
  });

  it('has a row for every key, top level and server, and every hook', () => {
    for (const key of [...Object.keys(TOP_SCHEMA), ...SERVER_KEYS])
      assert.match(doc, new RegExp(`^\\| \`${key.replace('$', '\\$')}\` \\|`, 'm'), key);
    for (const hook of HOOK_NAMES) assert.ok(doc.includes(`\`${hook}\``), hook);
  });

  it('opens with an example that loads as it is, without a warning', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'attache-docs-'));
    after(() => fs.rmSync(dir, { recursive: true, force: true }));
    const shown = /```json\n([\s\S]*?)\n```/.exec(doc)?.[1];
    assert.deepEqual(JSON.parse(shown ?? 'null'), EXAMPLE);
    fs.writeFileSync(path.join(dir, '.attache.json'), shown!);
    const config = loadConfig('.attache.json', { cwd: dir });
    assert.deepEqual(Object.keys(config.servers), ['production', 'staging', 'web2']);
    assert.deepEqual(config.warnings, []);
  });
});
