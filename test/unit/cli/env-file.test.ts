// The .env file every command reads: what it parses to, which lines are problems, and precedence.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseEnv } from 'node:util';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { EnvFileError, extractEnvFileOption, loadEnvFile, parseEnvFile, uncertainNames } from '../../../src/cli/env-file.js';

const values = (text: string) => Object.fromEntries(parseEnvFile(text).entries.map((e) => [e.name, e.value]));

describe('parseEnvFile', () => {
  test('reads NAME=value lines, export, quotes, multi-line quoted values and comments as node --env-file does', () => {
    const text = [
      '# a comment',
      '',
      'KILL_SWITCH=true',
      'export DRY_RUN=false',
      'MAX_OPEN_ORDERS = 2   # inline comment',
      'LIVE_TRADING_ACK="I_UNDERSTAND"',
      "SYMBOLS='BTC_TRY, ETH_TRY' # two",
      'NOTE="line one',
      'line two"',
      'EMPTY=',
      'EQUALS==b',
      '  INDENTED=yes',
    ].join('\n');
    expect(values(text)).toEqual({
      KILL_SWITCH: 'true', DRY_RUN: 'false', MAX_OPEN_ORDERS: '2', LIVE_TRADING_ACK: 'I_UNDERSTAND',
      SYMBOLS: 'BTC_TRY, ETH_TRY', NOTE: 'line one\nline two', EMPTY: '', EQUALS: '=b', INDENTED: 'yes',
    });
    expect(parseEnvFile(text).problems).toEqual([]);
    expect(parseEnvFile(text).entries.find((e) => e.name === 'MAX_OPEN_ORDERS')?.line).toBe(5);
  });

  test('a well-formed file gives exactly what Node gives (util.parseEnv), for any names and values', () => {
    const name = fc.stringMatching(/^[A-Z_][A-Z0-9_]{0,11}$/);
    const plain = fc.stringMatching(/^[A-Za-z0-9_.,:/@+-]{0,12}$/);
    const quoted = fc.oneof(
      fc.stringMatching(/^[A-Za-z0-9 #'`=_.\n-]{0,16}$/).map((v) => `"${v}"`),
      fc.stringMatching(/^[A-Za-z0-9 #"`=_.-]{0,16}$/).map((v) => `'${v}'`),
    );
    const line = fc.tuple(fc.boolean(), name, fc.oneof(plain, quoted), fc.boolean()).map(
      ([exp, n, v, comment]) => `${exp ? 'export ' : ''}${n}=${v}${comment ? ' # note' : ''}`,
    );
    fc.assert(
      fc.property(fc.array(fc.oneof(line, fc.constant(''), fc.constant('# comment')), { maxLength: 12 }), (lines) => {
        const text = lines.join('\n');
        expect(parseEnvFile(text).problems).toEqual([]);
        expect(values(text)).toEqual(parseEnv(text));
      }),
      { numRuns: 400 },
    );
  });

  test('a line that is not NAME=value is a problem with its line number, and never stops the lines after it', () => {
    const text = ['KILL_SWITCH=true', 'MAX_POSITION_NOTIONAL_TRY 500', '=x', 'DRY_RUN=false', '1ABC=2', 'TTL_SECONDS=60', 'B="q" trailing', 'A="open'].join('\n');
    const { entries, problems } = parseEnvFile(text);
    expect(problems).toEqual([
      { line: 2, name: 'MAX_POSITION_NOTIONAL_TRY', problem: 'expected NAME=value' },
      { line: 3, name: null, problem: 'expected NAME=value' },
      { line: 5, name: null, problem: 'not a valid variable name (letters, digits and _)' },
      { line: 7, name: 'B', problem: 'B: unexpected text after the closing quote' },
      { line: 8, name: 'A', problem: 'A: the " quote is never closed' },
    ]);
    expect(entries.map((e) => e.name)).toEqual(['KILL_SWITCH', 'DRY_RUN', 'TTL_SECONDS']);
    // Node's own parser loses the typo'd limit without a word (it invents a key
    // "MAX_POSITION_NOTIONAL_TRY 500\n" with the value "x" instead): the reason for the scan.
    expect(parseEnv(text)).not.toHaveProperty('MAX_POSITION_NOTIONAL_TRY');
  });

  test('an unquoted value with # right after text is a problem and is not applied: btcbot (as Node) would cut it at the #, docker compose would not', () => {
    const { entries, problems } = parseEnvFile('BTCTURK_API_SECRET=abc#def\nMAX_OPEN_ORDERS=5 # five\nA="abc#def"\nB=\'x#y\'');
    expect(problems).toEqual([
      { line: 1, name: 'BTCTURK_API_SECRET', problem: 'BTCTURK_API_SECRET: the unquoted value holds a # (everything from it on would be dropped as a comment): quote the value' },
    ]);
    expect(entries.map((e) => [e.name, e.value])).toEqual([['MAX_OPEN_ORDERS', '5'], ['A', 'abc#def'], ['B', 'x#y']]);
  });

  test('a problem never repeats the line, which may hold a secret', () => {
    const { problems } = parseEnvFile('BTCTURK_API_SECRET c2VjcmV0LXZhbHVl\nBTCTURK_API_KEY="abc-key trailing');
    expect(problems).toHaveLength(2);
    expect(JSON.stringify(problems)).not.toMatch(/c2VjcmV0|abc-key/);
  });
});

describe('loadEnvFile', () => {
  const dir = () => mkdtempSync(join(tmpdir(), 'btcbot-envfile-'));

  test('sets what the environment lacks; the real environment wins', () => {
    const cwd = dir();
    writeFileSync(join(cwd, '.env'), 'MAX_POSITION_NOTIONAL_TRY=500\nKILL_SWITCH=false\n');
    const env: NodeJS.ProcessEnv = { KILL_SWITCH: 'true' };
    const loaded = loadEnvFile(env, { cwd, strict: true });
    expect(env).toEqual({ KILL_SWITCH: 'true', MAX_POSITION_NOTIONAL_TRY: '500' });
    expect(loaded).toMatchObject({ path: join(cwd, '.env'), found: true, applied: ['MAX_POSITION_NOTIONAL_TRY'], shadowed: ['KILL_SWITCH'] });
  });

  test('--env-file picks another file instead of ./.env', () => {
    const cwd = dir();
    writeFileSync(join(cwd, '.env'), 'SYMBOLS=BTC_TRY\n');
    writeFileSync(join(cwd, 'canary.env'), 'SYMBOLS=ETH_TRY\n');
    const env: NodeJS.ProcessEnv = {};
    loadEnvFile(env, { cwd, path: 'canary.env', strict: true });
    expect(env).toEqual({ SYMBOLS: 'ETH_TRY' });
  });

  test('strict: a malformed file is a ConfigError naming the file and line, and nothing from it applies', () => {
    const cwd = dir();
    writeFileSync(join(cwd, '.env'), 'KILL_SWITCH=false\nMAX_POSITION_NOTIONAL_TRY 500\n');
    const env: NodeJS.ProcessEnv = {};
    expect(() => loadEnvFile(env, { cwd, strict: true })).toThrow(EnvFileError);
    expect(() => loadEnvFile(env, { cwd, strict: true })).toThrow(`${join(cwd, '.env')} line 2: expected NAME=value`);
    expect(new EnvFileError('x').name).toBe('ConfigError');
    expect(env).toEqual({});
  });

  test('not strict (halt): the well-formed lines apply and the problems are returned', () => {
    const cwd = dir();
    writeFileSync(join(cwd, '.env'), 'DATABASE_URL=postgres://db/btcbot\nMAX_POSITION_NOTIONAL_TRY 500\nBTCBOT_TASK_QUEUE=q\n');
    const env: NodeJS.ProcessEnv = {};
    const loaded = loadEnvFile(env, { cwd, strict: false });
    expect(env).toEqual({ DATABASE_URL: 'postgres://db/btcbot', BTCBOT_TASK_QUEUE: 'q' });
    expect(loaded.problems).toEqual([{ line: 2, name: 'MAX_POSITION_NOTIONAL_TRY', problem: 'expected NAME=value' }]);
  });

  test('no ./.env is nothing to load; a missing --env-file is a problem', () => {
    const cwd = dir();
    expect(loadEnvFile({}, { cwd, strict: true })).toMatchObject({ found: false, applied: [], problems: [] });
    expect(() => loadEnvFile({}, { cwd, path: 'missing.env', strict: true })).toThrow('missing.env: no such file');
    expect(loadEnvFile({}, { cwd, path: 'missing.env', strict: false }).problems).toEqual([{ line: 0, name: null, problem: 'no such file' }]);
  });

  test('a file that is not a regular file (a named pipe, a directory) is a problem, read without blocking', () => {
    // In a child process: reading a FIFO nobody writes would block this one for good.
    const cwd = dir();
    spawnSync('mkfifo', [join(cwd, '.env')]);
    mkdirSync(join(cwd, 'dir.env'));
    const module = pathToFileURL(join(process.cwd(), 'src/cli/env-file.ts')).href;
    const script = `const { loadEnvFile } = await import(${JSON.stringify(module)});
      for (const path of ['.env', 'dir.env']) console.log(JSON.stringify(loadEnvFile({}, { cwd: ${JSON.stringify(cwd)}, path, strict: false }).problems));`;
    const run = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 15_000 });
    expect(run.signal, 'still blocked after 15 s').toBeNull();
    expect(run.stdout.trim().split('\n').map((l) => JSON.parse(l))).toEqual([
      [{ line: 0, name: null, problem: 'not a regular file (a named pipe): not read' }],
      [{ line: 0, name: null, problem: 'not a regular file (a directory): not read' }],
    ]);
    expect(() => loadEnvFile({}, { cwd, path: 'dir.env', strict: true })).toThrow(EnvFileError);
    expect(loadEnvFile({}, { cwd, path: '/dev/null', strict: true })).toMatchObject({ found: true, problems: [] }); // "no file", on purpose
  });

  test('uncertainNames: what a malformed or unreadable file may have meant to set', () => {
    const cwd = dir();
    writeFileSync(join(cwd, 'a.env'), 'DATABASE_URL="postgres://x\nMAX_OPEN_ORDERS 2\nOK=1\n');
    writeFileSync(join(cwd, 'b.env'), '1BAD=2\n');
    expect(uncertainNames(loadEnvFile({}, { cwd, path: 'a.env', strict: false }))).toEqual(new Set(['DATABASE_URL', 'MAX_OPEN_ORDERS']));
    expect(uncertainNames(loadEnvFile({}, { cwd, path: 'b.env', strict: false }))).toBe('any');
    expect(uncertainNames(loadEnvFile({}, { cwd, path: 'missing.env', strict: false }))).toBe('any');
    expect(uncertainNames(loadEnvFile({}, { cwd, strict: false }))).toEqual(new Set());
  });
});

describe('--env-file', () => {
  test('is taken from anywhere before --, in both spellings', () => {
    expect(extractEnvFileOption(['--env-file', 'a.env', 'doctor'])).toEqual({ path: 'a.env', rest: ['doctor'] });
    expect(extractEnvFileOption(['worker', '--env-file=b.env'])).toEqual({ path: 'b.env', rest: ['worker'] });
    expect(extractEnvFileOption(['halt', '--reason', 'x'])).toEqual({ path: undefined, rest: ['halt', '--reason', 'x'] });
    expect(extractEnvFileOption(['halt', '--', '--env-file', 'c'])).toEqual({ path: undefined, rest: ['halt', '--', '--env-file', 'c'] });
    expect(() => extractEnvFileOption(['doctor', '--env-file'])).toThrow('--env-file needs a path');
  });
});
