import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';

/** The built package (npm test builds it first), loaded the two ways a gulpfile can. */
describe('the gulp-attache package', () => {
  const names = ['upload', 'exec', 'swap', 'attache', 'quote', 'sh', 'AttacheError'];

  it('is importable from an ESM gulpfile, with named exports', () => {
    const file = path.join(process.cwd(), '.package-esm-check.mjs');
    writeFileSync(
      file,
      `import { ${names.join(', ')} } from 'gulp-attache';\nconsole.log([${names.join(', ')}].map((x) => typeof x).join(','));\n`,
    );
    const result = spawnSync(process.execPath, [file], { encoding: 'utf8' });
    spawnSync('rm', ['-f', file]);
    assert.equal(result.status, 0, result.stderr);
    assert.equal(result.stdout.trim(), 'function,function,function,function,function,function,function');
  });

  it('is packed with its MIT LICENSE', () => {
    const result = spawnSync('npm', ['pack', '--dry-run', '--json'], { encoding: 'utf8' });
    assert.equal(result.status, 0, result.stderr);
    const [packed] = JSON.parse(result.stdout) as Array<{ files: Array<{ path: string }> }>;
    assert.ok(
      packed.files.some((f) => f.path === 'LICENSE'),
      `LICENSE is not in the package: ${packed.files.map((f) => f.path).join(', ')}`,
    );
    assert.match(readFileSync('LICENSE', 'utf8'), /^MIT License\n\nCopyright \(c\) 2026 gulp-attache contributors\n/);
  });

  it('is requirable from a CommonJS gulpfile', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'attache-cjs-'));
    const file = path.join(dir, 'gulpfile.cjs');
    writeFileSync(
      file,
      `const m = require(${JSON.stringify(process.cwd())});\nconsole.log(${JSON.stringify(names)}.map((n) => typeof m[n]).join(','));\n`,
    );
    const result = spawnSync(process.execPath, [file], { encoding: 'utf8' });
    assert.equal(result.status, 0, result.stderr);
    assert.equal(result.stdout.trim(), 'function,function,function,function,function,function,function');
  });
});
