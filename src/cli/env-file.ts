// The `.env` file every command reads: the working directory's `.env`, or `--env-file PATH`.
// The real environment wins over the file (a variable already set is never replaced), as with
// `node --env-file`. Values are parsed by Node's own parser (util.parseEnv), one entry at a time,
// after a strict scan of the file: Node's parser silently skips a line it does not understand and,
// after some malformed lines, every line that follows. A typo like `MAX_POSITION_NOTIONAL_TRY 500`
// must not leave the limit at its default without a word, so every such line is a problem with its
// line number. Problems never quote the line: it may hold a secret. Only a regular file is read: a
// named pipe nobody writes to would block every command, `halt` included, for good.
import { closeSync, constants, fstatSync, openSync, readFileSync, type Stats } from 'node:fs';
import { resolve } from 'node:path';
import { parseEnv } from 'node:util';
import { UsageError } from './errors.js';

export const DEFAULT_ENV_FILE = '.env';

export interface EnvFileEntry {
  readonly name: string;
  readonly value: string;
  /** 1-based line where the entry starts. */
  readonly line: number;
}

export interface EnvFileProblem {
  /** 1-based; 0 for the file as a whole (unreadable). */
  readonly line: number;
  /** The variable the line was meant to set, when that can be told; null when it cannot. */
  readonly name: string | null;
  readonly problem: string;
}

export interface ParsedEnvFile {
  readonly entries: readonly EnvFileEntry[];
  readonly problems: readonly EnvFileProblem[];
}

const ASSIGNMENT = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=(.*)$/;
/** The name a malformed line starts with, when a separator follows it (`NAME value`, `NAME: value`). */
const INTENDED_NAME = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)(?=\s|:|$)/;
const QUOTES = new Set(['"', "'", '`']);

/** Pure: the entries and problems of a `.env` text. Later entries of the same name win. */
export function parseEnvFile(text: string): ParsedEnvFile {
  const lines = text.replace(/\r\n?/g, '\n').split('\n');
  const entries: EnvFileEntry[] = [];
  const problems: EnvFileProblem[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '' || line.startsWith('#')) continue;
    // Matched untrimmed at the end: a quoted value may end in spaces before its line break.
    const m = ASSIGNMENT.exec(lines[i]!.trimStart());
    if (!m) {
      const name = line.split('=')[0]!.replace(/^export\s+/, '').trim();
      problems.push({
        line: i + 1,
        name: INTENDED_NAME.exec(line)?.[1] ?? null,
        problem: line.includes('=') && name !== '' ? 'not a valid variable name (letters, digits and _)' : 'expected NAME=value',
      });
      continue;
    }
    const name = m[1]!;
    const first = m[2]!.trimStart();
    let text = first;
    let end = i;
    const quote = first[0];
    if (quote !== undefined && QUOTES.has(quote)) {
      // A quoted value may span lines; nothing but a comment may follow its closing quote.
      let rest = first.slice(1);
      let close = rest.indexOf(quote);
      while (close < 0 && end + 1 < lines.length) {
        end++;
        text += `\n${lines[end]!}`;
        rest += `\n${lines[end]!}`;
        close = rest.indexOf(quote);
      }
      if (close < 0) {
        problems.push({ line: i + 1, name, problem: `${name}: the ${quote} quote is never closed` });
        end = i; // rescan the following lines on their own
        continue;
      }
      const after = rest.slice(close + 1).trim();
      if (after !== '' && !after.startsWith('#')) {
        problems.push({ line: end + 1, name, problem: `${name}: unexpected text after the closing quote` });
        i = end;
        continue;
      }
    } else if (/(^|\S)#/.test(m[2]!)) {
      // Node (and so btcbot) cuts `abc#def` to `abc`; docker compose keeps `abc#def`. A secret or
      // a URL with a # must never be cut short without a word: the value has to be quoted.
      problems.push({ line: i + 1, name, problem: `${name}: the unquoted value holds a # (everything from it on would be dropped as a comment): quote the value` });
      continue;
    }
    const value = parseEnv(`${name}=${text}`)[name];
    if (value === undefined) problems.push({ line: i + 1, name, problem: `${name}: the value could not be parsed` });
    else entries.push({ name, value, line: i + 1 });
    i = end;
  }
  return { entries, problems };
}

export interface LoadedEnvFile {
  readonly path: string;
  /** Given with --env-file (a missing file is then a problem), not the default `.env`. */
  readonly explicit: boolean;
  readonly found: boolean;
  /** Names set from the file. */
  readonly applied: readonly string[];
  /** Names the file sets that the real environment already had (the environment won). */
  readonly shadowed: readonly string[];
  readonly problems: readonly EnvFileProblem[];
}

/** The file's problems in one line, for an error or a warning. */
export function describeProblems(file: LoadedEnvFile): string {
  return file.problems.map((p) => (p.line > 0 ? `${file.path} line ${p.line}: ${p.problem}` : `${file.path}: ${p.problem}`)).join('; ');
}

export class EnvFileError extends Error {
  override name = 'ConfigError';
}

/**
 * Read `path` (default `.env` in `cwd`) into `env`, never replacing a variable `env` already has.
 * `strict`: any problem throws EnvFileError and nothing is applied. Otherwise the well-formed
 * entries are applied and the problems are returned for the caller to report.
 */
export function loadEnvFile(
  env: NodeJS.ProcessEnv,
  { path, cwd = process.cwd(), strict }: { path?: string; cwd?: string; strict: boolean },
): LoadedEnvFile {
  const explicit = path !== undefined;
  const file = resolve(cwd, path ?? DEFAULT_ENV_FILE);
  let text: string;
  try {
    text = readRegularFile(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && !explicit) return { path: file, explicit, found: false, applied: [], shadowed: [], problems: [] };
    const problem = err instanceof NotARegularFile ? err.message : code === 'ENOENT' ? 'no such file' : `cannot be read (${code ?? (err as Error).message})`;
    const loaded: LoadedEnvFile = { path: file, explicit, found: false, applied: [], shadowed: [], problems: [{ line: 0, name: null, problem }] };
    if (strict) throw new EnvFileError(describeProblems(loaded));
    return loaded;
  }
  const parsed = parseEnvFile(text);
  const loaded = { path: file, explicit, found: true, problems: parsed.problems };
  if (strict && parsed.problems.length > 0) {
    throw new EnvFileError(`${describeProblems({ ...loaded, applied: [], shadowed: [] })} (nothing from the file was applied)`);
  }
  const applied = new Set<string>();
  const shadowed = new Set<string>();
  for (const { name, value } of parsed.entries) {
    if (name in env && !applied.has(name)) shadowed.add(name);
    else {
      env[name] = value;
      applied.add(name);
    }
  }
  return { ...loaded, applied: [...applied], shadowed: [...shadowed] };
}

class NotARegularFile extends Error {}

function kindOf(stats: Stats): string {
  if (stats.isFIFO()) return 'a named pipe';
  if (stats.isDirectory()) return 'a directory';
  if (stats.isSocket()) return 'a socket';
  if (stats.isCharacterDevice() || stats.isBlockDevice()) return 'a device';
  return 'not a file';
}

/** The file's text, if it is a regular file. Opened non-blocking: opening a FIFO waits for a writer otherwise. */
function readRegularFile(path: string): string {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    if (path === '/dev/null') return ''; // `--env-file /dev/null`: no file, on purpose
    const stats = fstatSync(fd);
    if (!stats.isFile()) throw new NotARegularFile(`not a regular file (${kindOf(stats)}): not read`);
    return readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
}

/**
 * What a file with problems may have meant to set, for a command that goes on despite them (halt):
 * the names of its malformed lines, or `any` when a line's name cannot be told or the file could
 * not be read at all.
 */
export function uncertainNames(file: LoadedEnvFile): ReadonlySet<string> | 'any' {
  if (file.problems.some((p) => p.name === null)) return 'any';
  return new Set(file.problems.map((p) => p.name!));
}

/** `--env-file PATH` / `--env-file=PATH` anywhere in the arguments: the path, and the rest. */
export function extractEnvFileOption(argv: readonly string[]): { path: string | undefined; rest: string[] } {
  const rest: string[] = [];
  let path: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      rest.push(...argv.slice(i));
      break;
    }
    if (a === '--env-file' || a.startsWith('--env-file=')) {
      const value = a === '--env-file' ? argv[++i] : a.slice('--env-file='.length);
      if (value === undefined || value === '' || value.startsWith('--')) throw new UsageError('--env-file needs a path');
      path = value;
    } else {
      rest.push(a);
    }
  }
  return { path, rest };
}
