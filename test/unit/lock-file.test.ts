// The lock that serialises setting up the local cluster.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { withLockFile } from '../../src/devenv/process.js';

const dir = mkdtempSync(join(tmpdir(), 'btcbot-lock-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('withLockFile', () => {
  it('runs one holder at a time, in turn, and removes the file after each, also when the work fails', async () => {
    const lock = join(dir, 'turns.lock');
    const events: string[] = [];
    const work = (name: string, fail = false) => withLockFile(lock, 'test', async () => {
      events.push(`${name} in`);
      await new Promise((r) => setTimeout(r, 50));
      events.push(`${name} out`);
      if (fail) throw new Error(`${name} failed`);
      return name;
    });
    const results = await Promise.allSettled([work('a', true), work('b')]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'fulfilled']);
    expect(events).toEqual(['a in', 'a out', 'b in', 'b out']);
    expect(existsSync(lock)).toBe(false);
  });

  it('takes over a lock whose holder died', async () => {
    const lock = join(dir, 'stale.lock');
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString();
    writeFileSync(lock, `${dead}\n`);
    expect(await withLockFile(lock, 'test', async () => 'ran')).toBe('ran');
  });

  it('gives up on a live holder after the timeout with an error naming the file', async () => {
    const lock = join(dir, 'held.lock');
    writeFileSync(lock, `${process.pid}\n`);
    await expect(withLockFile(lock, 'setting up the local cluster in /x', async () => 'ran', { timeoutMs: 300 })).rejects.toThrow(
      `setting up the local cluster in /x: another btcbot process (pid ${process.pid}) has held ${lock} for 0.3 s; if none is running, remove that file`,
    );
    expect(existsSync(lock)).toBe(true); // not ours to remove
  });
});
