import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';

describe('docs/production.md', () => {
  it('shows the nginx block the zero-downtime test uses, verbatim', () => {
    const page = readFileSync('docs/production.md', 'utf8');
    const conf = readFileSync('example/nginx/site.conf', 'utf8').trimEnd();
    assert.ok(page.includes('```nginx\n' + conf + '\n```'), 'docs/production.md embeds example/nginx/site.conf as it is');
  });
});
