// BTCBOT_DATA_DIR: btcbot tightens only what is its own, and refuses a directory others share.
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { makePrivateDir } from '../../src/devenv/process.js';
import { localDataDir } from '../../src/devenv/stack.js';

const root = mkdtempSync(join(tmpdir(), 'btcbot-data-dir-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const mode = (path: string): number => statSync(path).mode & 0o7777;

/** A directory with `mode` holding someone's 0644 file. */
function dirWithFile(name: string, dirMode: number): { dir: string; file: string } {
  const dir = join(root, name);
  mkdirSync(dir);
  chmodSync(dir, dirMode);
  const file = join(dir, 'someone-elses-notes.txt');
  writeFileSync(file, 'x');
  chmodSync(file, 0o644);
  return { dir, file };
}

describe('BTCBOT_DATA_DIR', () => {
  it('a sticky directory like /tmp is refused naming the variable, and nothing in it is touched', () => {
    const { dir, file } = dirWithFile('sticky', 0o1777);
    expect(() => localDataDir('/project', { BTCBOT_DATA_DIR: dir })).toThrow(
      `BTCBOT_DATA_DIR=${dir} is a shared directory (sticky, like /tmp): btcbot keeps private files there; point BTCBOT_DATA_DIR at a directory of its own`,
    );
    expect([mode(dir), mode(file)]).toEqual([0o1777, 0o644]);
  });

  it('a world-writable directory is refused too', () => {
    const { dir } = dirWithFile('world-writable', 0o777);
    expect(() => localDataDir('/project', { BTCBOT_DATA_DIR: dir })).toThrow(/BTCBOT_DATA_DIR=.* is a shared directory \(world-writable\)/);
  });

  it('a missing one is fine (it is made private), and the default is the project\'s .data', () => {
    expect(localDataDir('/project', { BTCBOT_DATA_DIR: join(root, 'not-yet') })).toBe(join(root, 'not-yet'));
    expect(localDataDir('/project', {})).toBe('/project/.data');
  });
});

describe('makePrivateDir', () => {
  it('an existing directory the operator named is left as it is, with what is in it', () => {
    const { dir, file } = dirWithFile('operators-own', 0o750);
    makePrivateDir(dir, { own: false, passThrough: true });
    expect([mode(dir), mode(file)]).toEqual([0o750, 0o644]);
  });

  it('btcbot\'s own directory is made 0700 and the files it left readable lose group and other access', () => {
    const { dir, file } = dirWithFile('temporal', 0o755);
    makePrivateDir(dir);
    expect([mode(dir), mode(file)]).toEqual([0o700, 0o600]);
  });

  it('a new one is made 0700, or 0711 for pass-through; a shared existing one is refused even as its own', () => {
    expect(mode(makePrivateDir(join(root, 'new', 'nested')))).toBe(0o700);
    expect(mode(makePrivateDir(join(root, 'new-pass'), { passThrough: true }))).toBe(0o711);
    const { dir, file } = dirWithFile('shared-sub', 0o1777);
    expect(() => makePrivateDir(dir)).toThrow(`${dir} is a shared directory (sticky, like /tmp)`);
    expect(mode(file)).toBe(0o644);
  });
});
