// How a command finds the stack `btcbot up` recorded, and what it says when the server it is
// about to use is not that one.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { compareWorkerConfig } from '../../../src/cli/doctor.js';
import { applyStackRecord, readStackRecord, STACK_RECORD_FILE, writeStackRecord, type StackRecord } from '../../../src/devenv/stack.js';

function dataDirWith(record: StackRecord | null): string {
  const dir = mkdtempSync(join(tmpdir(), 'btcbot-stack-'));
  if (record) writeFileSync(join(dir, STACK_RECORD_FILE), JSON.stringify(record));
  return dir;
}
const exitedPid = (): number => spawnSync('true').pid!;
const record = (over: Partial<StackRecord['temporal']> = {}, postgres: StackRecord['postgres'] = { local: true, dataDir: '/x' }): StackRecord => ({
  temporal: { address: '127.0.0.1:17233', namespace: 'default', uiUrl: null, pid: null, ...over },
  postgres,
  recordedAt: '2026-12-01T00:00:00.000Z',
});

describe('applyStackRecord', () => {
  test('without TEMPORAL_ADDRESS a command uses the address up recorded, silently while that server runs', () => {
    const env: NodeJS.ProcessEnv = { BTCBOT_DATA_DIR: dataDirWith(record()) };
    const r = applyStackRecord('/project', env);
    expect(env.TEMPORAL_ADDRESS).toBe('127.0.0.1:17233');
    expect(r.applied).toEqual(['TEMPORAL_ADDRESS']);
    expect(r.notices).toEqual([]);
  });

  test('a recorded dev server that no longer runs is still the one used, and the command says so', () => {
    const env: NodeJS.ProcessEnv = { BTCBOT_DATA_DIR: dataDirWith(record({ pid: exitedPid() })) };
    const r = applyStackRecord('/project', env);
    expect(env.TEMPORAL_ADDRESS).toBe('127.0.0.1:17233');
    expect(r.notices).toEqual(['the Temporal dev server `btcbot up` recorded at 127.0.0.1:17233 is not running (start it again with `btcbot up`)']);
  });

  test('TEMPORAL_ADDRESS wins: the record is not even read', () => {
    const dir = dataDirWith(null);
    writeFileSync(join(dir, STACK_RECORD_FILE), '{"temporal": {"address": "127.0.0.1:17533", "namesp');
    const env: NodeJS.ProcessEnv = { BTCBOT_DATA_DIR: dir, TEMPORAL_ADDRESS: '10.0.0.5:7233' };
    const r = applyStackRecord('/project', env);
    expect(env.TEMPORAL_ADDRESS).toBe('10.0.0.5:7233');
    expect(r).toMatchObject({ applied: [], notices: [] });
  });

  test('a record that cannot be read (truncated, empty, another shape) is no record, with a notice: never a crash', () => {
    for (const text of ['{"temporal": {"address": "127.0.0.1:17533", "namesp', '', '{}', '{"temporal": {"address": 7}}', '[]']) {
      const dir = dataDirWith(null);
      writeFileSync(join(dir, STACK_RECORD_FILE), text);
      const env: NodeJS.ProcessEnv = { BTCBOT_DATA_DIR: dir };
      const r = applyStackRecord('/project', env);
      expect(env.TEMPORAL_ADDRESS, text).toBeUndefined();
      expect(r.notices, text).toEqual([
        `the stack record ${join(dir, STACK_RECORD_FILE)} cannot be read (${text === '' ? 'empty' : 'not a record `btcbot up` wrote'}): ignored (\`btcbot up\` writes it again)`,
        `TEMPORAL_ADDRESS is not set and \`btcbot up\` has recorded no server in ${dir}: using 127.0.0.1:7233, which btcbot did not start`,
      ]);
    }
  });

  test('writeStackRecord replaces the record whole (a temporary file, then a rename), leaving nothing else behind', () => {
    const dir = dataDirWith(record({ address: '127.0.0.1:1' }));
    writeStackRecord(dir, record());
    expect(readdirSync(dir)).toEqual([STACK_RECORD_FILE]);
    expect(readStackRecord(dir)).toEqual(record());
  });

  test('no record and no TEMPORAL_ADDRESS: the default address, with a warning that btcbot did not start it', () => {
    const dir = dataDirWith(null);
    const env: NodeJS.ProcessEnv = { BTCBOT_DATA_DIR: dir };
    const r = applyStackRecord('/project', env);
    expect(env.TEMPORAL_ADDRESS).toBeUndefined();
    expect(r.notices).toEqual([`TEMPORAL_ADDRESS is not set and \`btcbot up\` has recorded no server in ${dir}: using 127.0.0.1:7233, which btcbot did not start`]);
  });

  test('up ran with a DATABASE_URL this command lacks: it says which database it uses instead', () => {
    const env: NodeJS.ProcessEnv = { BTCBOT_DATA_DIR: dataDirWith(record({}, { local: false, url: 'postgres://u:***@db:5432/btcbot' })) };
    const r = applyStackRecord('/project', env);
    expect(r.notices).toEqual([expect.stringContaining('`btcbot up` used DATABASE_URL=postgres://u:***@db:5432/btcbot, but DATABASE_URL is not set here')]);
  });
});

describe("doctor: the workers' trading configuration against this shell's", () => {
  test('a worker reporting another hash fails the check; one reporting none is a warning; all equal is ok', () => {
    expect(compareWorkerConfig(['1@h btcbot/0.1.0 cfg:aaaaaaaaaaaa'], 'aaaaaaaaaaaa')).toMatchObject({ ok: true });
    const differ = compareWorkerConfig(['1@h btcbot/0.1.0 cfg:aaaaaaaaaaaa', '2@h btcbot/0.1.0 cfg:bbbbbbbbbbbb'], 'aaaaaaaaaaaa');
    expect(differ.ok).toBe(false);
    expect(differ.detail).toContain('1 worker(s) trade with another configuration (bbbbbbbbbbbb) than this shell (aaaaaaaaaaaa)');
    expect(compareWorkerConfig(['3@h'], 'aaaaaaaaaaaa')).toMatchObject({ ok: true, warn: true });
  });
});
