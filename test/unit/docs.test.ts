import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';

/**
 * Every relative link of the user's and the contributor's pages points to a file that exists
 * (anchors are not checked). docs/configuration.md is generated from the config schema on another
 * branch: until it is there, a link to it is the only one allowed to point nowhere.
 */
const NOT_YET_GENERATED = new Set(['docs/configuration.md']);

const pages = [
  'README.md',
  'ARCHITECTURE.md',
  'bench/README.md',
  ...readdirSync('docs')
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];

/** The targets of a page's Markdown links, outside code blocks and code spans. */
function links(text: string): string[] {
  const prose = text.replace(/^```[\s\S]*?^```/gm, '').replace(/`[^`\n]*`/g, '');
  return [...prose.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)].map((m) => m[1]);
}

describe("the docs' links", () => {
  for (const page of pages) {
    it(`${page}: every relative link points to an existing file`, () => {
      const broken = links(readFileSync(page, 'utf8'))
        .filter((target) => !/^[a-z][a-z0-9+.-]*:/i.test(target) && !target.startsWith('#'))
        .map((target) => path.normalize(path.join(path.dirname(page), decodeURI(target.split('#')[0]))))
        .filter((file) => !existsSync(file) && !NOT_YET_GENERATED.has(file));
      assert.deepEqual(broken, [], `${page} links to files that do not exist`);
    });
  }

  it('finds the links it checks', () => {
    assert.ok(links(readFileSync('README.md', 'utf8')).includes('docs/failures.md'));
  });
});
