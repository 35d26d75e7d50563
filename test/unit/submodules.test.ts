import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GITMODULES, parseSubmodules, resolveSubmoduleUrl } from '../../src/release/steps/submodules';

describe('submodules', () => {
  it("resolves a relative URL against the superproject's as git does: URLs, scp-like addresses, paths", () => {
    assert.equal(resolveSubmoduleUrl('git@github.com:org/app.git', '../lib.git'), 'git@github.com:org/lib.git');
    assert.equal(resolveSubmoduleUrl('git@github.com:app.git', '../lib.git'), 'git@github.com:lib.git');
    assert.equal(resolveSubmoduleUrl('https://example.com/org/app.git/', '../../other/lib.git'), 'https://example.com/other/lib.git');
    assert.equal(resolveSubmoduleUrl('file:///srv/git/app.git', './sub.git'), 'file:///srv/git/app.git/sub.git');
    assert.equal(resolveSubmoduleUrl('/srv/git/app.git', '../lib.git'), '/srv/git/lib.git');
    assert.equal(resolveSubmoduleUrl('/srv/git/app.git', 'https://example.com/lib.git'), 'https://example.com/lib.git');
    assert.throws(() => resolveSubmoduleUrl('app.git', '../lib.git'), /leads above/);
  });

  it('reads the paths and URLs of `git config -z --get-regexp` after the marker, names with dots included', () => {
    const out = `attache:commit=abc\n${GITMODULES}\nsubmodule.a.b.path\nvendor/a b\0submodule.a.b.url\n../a.git\0submodule.nourl.path\nx\0`;
    assert.deepEqual(parseSubmodules(out), [{ name: 'a.b', path: 'vendor/a b', url: '../a.git' }]);
    assert.deepEqual(parseSubmodules('attache:commit=abc\n'), []);
  });
});
