import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';

/**
 * The shape of src/ as a graph of imports (type imports included): no circle of modules, and no
 * arrow from a lower layer up to a higher one. The layers, bottom first, are ARCHITECTURE.md's.
 */
const SRC = path.resolve(__dirname, '../../src');

/** Layer of a module by its path under src/ (a folder, or a top-level file). */
const LAYERS: ReadonlyArray<readonly string[]> = [
  ['errors.ts', 'log.ts', 'limit.ts', 'ci'],
  ['remote'],
  ['ssh'],
  ['config', 'open-target.ts'],
  ['plugins', 'cli'],
  ['release'],
  ['preset.ts'],
  ['index.ts'],
];

function layerOf(file: string): number {
  const top = path.relative(SRC, file).split(path.sep)[0];
  const layer = LAYERS.findIndex((names) => names.includes(top));
  assert.ok(layer >= 0, `src/${top} is in no layer of this test (add it, and to ARCHITECTURE.md's layers)`);
  return layer;
}

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    return statSync(full).isDirectory() ? sources(full) : name.endsWith('.ts') ? [full] : [];
  });
}

function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specifiers = [...text.matchAll(/(?:from|import|require\()\s*'(\.[^']+)'/g)].map((m) => m[1]);
  return specifiers.map((spec) => {
    const base = path.resolve(path.dirname(file), spec);
    for (const candidate of [`${base}.ts`, path.join(base, 'index.ts')]) {
      try {
        if (statSync(candidate).isFile()) return candidate;
      } catch {}
    }
    throw new Error(`${path.relative(SRC, file)} imports ${spec}, which is not a module under src/`);
  });
}

const graph = new Map(sources(SRC).map((file) => [file, importsOf(file)]));

describe('src/ import graph', () => {
  it('has no arrow from a lower layer to a higher one', () => {
    const upward: string[] = [];
    for (const [file, imports] of graph) {
      for (const target of imports)
        if (layerOf(target) > layerOf(file)) upward.push(`${path.relative(SRC, file)} -> ${path.relative(SRC, target)}`);
    }
    assert.deepEqual(upward, []);
  });

  it('has no import circle', () => {
    const state = new Map<string, 'visiting' | 'done'>();
    const circles: string[] = [];
    const visit = (file: string, trail: string[]) => {
      if (state.get(file) === 'done') return;
      if (state.get(file) === 'visiting') {
        circles.push([...trail.slice(trail.indexOf(file)), file].map((f) => path.relative(SRC, f)).join(' -> '));
        return;
      }
      state.set(file, 'visiting');
      for (const target of graph.get(file) ?? []) visit(target, [...trail, file]);
      state.set(file, 'done');
    };
    for (const file of graph.keys()) visit(file, []);
    assert.deepEqual(circles, []);
  });
});
