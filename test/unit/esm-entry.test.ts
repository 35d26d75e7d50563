import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import * as surface from '../../src/index';

/** esm/index.mjs is written by hand: it must name exactly the values the CommonJS entry exports. */
describe('the ESM entry', () => {
  it('re-exports every value of src/index.ts, and nothing else', () => {
    const text = readFileSync(path.resolve(__dirname, '../../esm/index.mjs'), 'utf8');
    const named = /export const \{([^}]+)\} = cjs;/.exec(text);
    assert.ok(named, 'esm/index.mjs destructures the CommonJS exports');
    const esm = named[1]
      .split(',')
      .map((name) => name.trim())
      .filter(Boolean)
      .sort();
    const cjs = Object.keys(surface)
      .filter((name) => name !== 'default' && name !== '__esModule')
      .sort();
    assert.deepEqual(esm, cjs);
  });
});
