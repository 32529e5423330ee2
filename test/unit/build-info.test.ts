// Whether dist/ was built from the sources as they are: the hash covers what the build compiles
// and the dependencies it compiles against.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { sourceHash } from '../../src/build-info.js';

test('the source hash changes with src/, the tsconfig files, package.json and package-lock.json', () => {
  const root = mkdtempSync(join(tmpdir(), 'btcbot-hash-'));
  mkdirSync(join(root, 'src'));
  const files: Record<string, string> = {
    'src/a.ts': 'export const a = 1;\n', 'tsconfig.json': '{}', 'tsconfig.build.json': '{}',
    'package.json': '{"dependencies": {"x": "1"}}', 'package-lock.json': '{"packages": {"node_modules/x": {"version": "1.0.0"}}}',
  };
  for (const [f, t] of Object.entries(files)) writeFileSync(join(root, f), t);
  const before = sourceHash(root);
  for (const f of Object.keys(files)) {
    writeFileSync(join(root, f), `${files[f]} `);
    expect(sourceHash(root), `${f} changed`).not.toBe(before);
    writeFileSync(join(root, f), files[f]!);
    expect(sourceHash(root)).toBe(before);
  }
});
