import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';

/** What the README promises about running the tests and using the plugins, checked against the repository. */
describe('README', () => {
  const readme = readFileSync('README.md', 'utf8');

  it('lists exactly the Debian packages .ci/run installs for the tests', () => {
    const ci = readFileSync('.ci/run', 'utf8');
    const packages = (text: string) => {
      const line = /apt-get install -y ((?:\\\n|[^\n])*)/.exec(text);
      assert.ok(line, 'an apt-get install line');
      return line[1]
        .replace(/\\\n/g, ' ')
        .split(/\s+/)
        .filter((word) => word && !word.startsWith('-'))
        .sort();
    };
    assert.deepEqual(packages(readme), packages(ci));
  });

  it('names a command for the unit tests alone, and package.json has it', () => {
    const scripts = JSON.parse(readFileSync('package.json', 'utf8')).scripts as Record<string, string>;
    assert.equal(scripts['test:unit'], 'node --import tsx --test test/unit/*.test.ts');
    assert.match(readme, /npm run test:unit/);
    assert.doesNotMatch(readme, /Nothing else[^\n]*\n*[^\n]*npm test/, '"Nothing else" is not said of the whole test suite');
  });

  it('never gives a plugin a server name from the example .attache.json (the plugins do not read it)', () => {
    const config = /```json\n(\{[\s\S]*?\})\n```/.exec(readme);
    assert.ok(config, 'the example .attache.json');
    const names = Object.keys(JSON.parse(config[1]).servers as Record<string, unknown>);
    const servers = [...readme.matchAll(/server: '([^']+)'/g)].map((m) => m[1]);
    assert.ok(servers.length >= 2, 'the plugin examples name their servers');
    for (const server of servers) assert.ok(!names.includes(server), `a plugin example uses the config server name "${server}"`);
    assert.match(readme, /The plugins do not read `\.attache\.json`/);
  });
});
