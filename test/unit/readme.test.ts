import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';

describe('README', () => {
  it('shows the nginx block the zero-downtime test uses, verbatim', () => {
    const readme = readFileSync('README.md', 'utf8');
    const conf = readFileSync('example/nginx/site.conf', 'utf8').trimEnd();
    assert.ok(readme.includes('```nginx\n' + conf + '\n```'), 'README.md embeds example/nginx/site.conf as it is');
  });
});
