// `btcbot doctor`: can this environment run cycles? One line per check, `ok`, `warn` or `FAIL`, with
// the detail an operator needs to fix it. Exit 0 all ok (warnings included), 1 any FAIL, 2 a
// configuration error (a bad variable, a malformed env file, a symbol the exchange does not list).
// It writes nothing anywhere (not even migrations). Without DATABASE_URL it checks the local
// cluster, starting it if needed, as every command does.
import { join } from 'node:path';
import proto from '@temporalio/proto';
import { dataConverterFromEnv } from '../codec.js';
import { ensurePostgres } from '../devenv/postgres.js';
import { localDataDir } from '../devenv/stack.js';
import { parseTradingConfig, toGateSettings, tradingConfigHash, tradingConfigProblems, type TradingConfig } from '../domain/config.js';
import { evaluateGates } from '../domain/gates.js';
import { createBtcturkExchange } from '../exchange/btcturk/client.js';
import type { Exchange } from '../exchange/port.js';
import { loadInfraSettings, type InfraSettings } from '../settings.js';
import { DEFAULT_ENV_FILES, secretFileWarnings } from '../secrets.js';
import { SEARCH_ATTRIBUTES } from '../shared.js';
import { createPool } from '../store/db.js';
import { MIGRATIONS } from '../store/migrations.js';
import { getHalt } from '../store/runtime.js';
import { temporalConnection, type TemporalConnection } from '../temporal-connection.js';
import { redactUrl } from '../redaction.js';
import { connectClient, describeGates, loadControlSettings, projectRoot } from './context.js';
import type { ConfigSources } from './config.js';
import { describeProblems } from './env-file.js';
import { CLOSE_IT, exposureOf, isLoopbackAddress, realMoneyRefusal } from './exposure.js';
import { EXIT } from './errors.js';
import { notTradableWarning, readListing, unknownSymbolsError } from './symbols.js';

/** BTCTurk rejects signed requests whose timestamp is off by more than this. */
export const MAX_CLOCK_SKEW_MS = 5_000;

export interface Check {
  name: string;
  ok: boolean;
  /** Works, but the operator should act (shown as `warn`, not counted as a failure). */
  warn?: boolean;
  detail: string;
  /** This failure is a configuration error: doctor exits 2. */
  configError?: boolean;
}

/** Said once when the gates arm live trading: the key is what limits the damage of a leak. */
export const LIVE_KEY_REMINDER =
  'live trading is armed: the BTCTurk key should have the Trade, Total Funds and Account permissions only, ' +
  "no withdrawal permission, and be restricted to this worker's IP address (README: The BTCTurk API key)";

/** `sim-public-key-0001` → `sim-…0001`; short keys show nothing of themselves. */
export function maskKey(key: string): string {
  return key.length >= 12 ? `${key.slice(0, 4)}…${key.slice(-4)}` : '…';
}

const message = (err: unknown): string => {
  const e = err as Error;
  return `${e.name && e.name !== 'Error' ? `${e.name}: ` : ''}${e.message}`.split('\n')[0]!.slice(0, 300);
};

/** `sources`: the env file read (its problems are configuration errors) and the env files in use, checked for secrets other users can read. */
export async function doctor(
  env: NodeJS.ProcessEnv = process.env,
  { envFile, envFiles = DEFAULT_ENV_FILES }: Partial<Pick<ConfigSources, 'envFile'>> & { envFiles?: readonly string[] } = {},
): Promise<number> {
  const checks: Check[] = [];

  // config: both halves are parsed separately, so every bad variable is named, not only the first.
  let trading: TradingConfig | null = null;
  let infra: InfraSettings | null = null;
  const problems: string[] = [];
  if (envFile && envFile.problems.length > 0) problems.push(describeProblems(envFile));
  const tradingProblems = tradingConfigProblems(env);
  problems.push(...tradingProblems);
  if (tradingProblems.length === 0) trading = parseTradingConfig(env);
  try {
    infra = loadInfraSettings(env);
  } catch (err) {
    problems.push(message(err));
  }
  let temporalSecurity: TemporalConnection | null = null;
  try {
    temporalSecurity = temporalConnection((infra ?? loadControlSettings(env)).temporalAddress, env);
  } catch (err) {
    problems.push(message(err));
  }
  let payloadKey = false;
  try {
    payloadKey = dataConverterFromEnv(env) !== undefined;
  } catch (err) {
    problems.push(message(err));
  }
  const configError = problems.length > 0;
  checks.push({
    name: 'config',
    ok: !configError,
    detail: configError ? problems.join('; ') : `trading and infrastructure variables valid; symbols ${trading!.symbols.join(', ')}`,
  });

  // Temporal and Postgres do not depend on the exchange variables: check them even if those are bad.
  let control: InfraSettings | null = infra;
  if (!control) {
    try {
      control = loadControlSettings(env);
    } catch {
      control = null;
    }
  }

  const [postgres, temporal] = await Promise.all([
    control ? checkPostgres(control, env) : Promise.resolve({ check: { name: 'postgres', ok: false, detail: 'skipped: configuration error' }, halt: null }),
    control
      ? checkTemporal(control, env, trading ? tradingConfigHash(trading) : null)
      : Promise.resolve([{ name: 'temporal', ok: false, detail: 'skipped: configuration error' }]),
  ]);

  if (trading) {
    const halt = postgres.halt ? `; persisted halt since ${postgres.halt.haltedAt} blocks every cycle (\`btcbot resume\`)` : '';
    checks.push({ name: 'gates', ok: true, detail: `mode ${describeGates(toGateSettings(trading))}${halt}` });
  } else {
    checks.push({ name: 'gates', ok: false, detail: 'skipped: configuration error' });
  }
  checks.push(postgres.check, ...temporal);
  const decision = trading ? evaluateGates(toGateSettings(trading), false) : null;
  const armed = decision?.outcome === 'run' && decision.mode === 'live';
  if (temporalSecurity) checks.push(securityCheck(temporalSecurity, payloadKey, { armed, infra }));
  checks.push(...(await checkExchange(env, infra, trading)));
  const unsafeFiles = secretFileWarnings(env, envFiles);
  checks.push(
    unsafeFiles.length === 0
      ? { name: 'secret files', ok: true, detail: `no secret file or env file (${envFiles.join(', ') || 'none'}) is readable by other users` }
      : { name: 'secret files', ok: true, warn: true, detail: unsafeFiles.join('; ') },
  );

  const width = Math.max(...checks.map((c) => c.name.length));
  for (const c of checks) console.log(`${c.ok ? (c.warn ? 'warn' : 'ok  ') : 'FAIL'}  ${c.name.padEnd(width)}  ${c.detail}`);
  if (armed) console.log(`note: ${LIVE_KEY_REMINDER}`);
  const failed = checks.filter((c) => !c.ok).map((c) => c.name);
  if (configError || checks.some((c) => !c.ok && c.configError)) {
    console.log('configuration error: fix the variable(s) named above');
    return EXIT.blocked;
  }
  console.log(failed.length === 0 ? 'all checks passed' : `${failed.length} check(s) failed: ${failed.join(', ')}`);
  return failed.length === 0 ? EXIT.ok : EXIT.failed;
}

async function checkPostgres(
  infra: InfraSettings,
  env: NodeJS.ProcessEnv,
): Promise<{ check: Check; halt: Awaited<ReturnType<typeof getHalt>> }> {
  let pool: ReturnType<typeof createPool> | null = null;
  let where = infra.databaseUrl ? redactUrl(infra.databaseUrl) : 'local cluster';
  try {
    const { url } = await ensurePostgres({ dataDir: join(localDataDir(projectRoot, env), 'postgres') }, env);
    where = redactUrl(url);
    pool = createPool(url, 1);
    pool.on('error', () => {}); // an idle-connection error must not crash the check
    const res = await pool.query<{ version: number | null }>(
      `SELECT CASE WHEN to_regclass('schema_migrations') IS NULL THEN NULL
              ELSE (SELECT max(version) FROM schema_migrations) END AS version`,
    );
    const version = res.rows[0]?.version ?? null;
    const latest = Math.max(...MIGRATIONS.map((m) => m.version));
    const halt = version === null ? null : await getHalt(pool);
    const schema =
      version === null
        ? 'no schema yet (migrations apply on first use, or `btcbot migrate`)'
        : version >= latest
          ? `schema version ${version} (current)`
          : `schema version ${version}, ${latest - version} migration(s) pending (they apply on first use, or \`btcbot migrate\`)`;
    return { check: { name: 'postgres', ok: true, detail: `${where}: ${schema}` }, halt };
  } catch (err) {
    return { check: { name: 'postgres', ok: false, detail: `${where}: ${message(err)}` }, halt: null };
  } finally {
    await pool?.end().catch(() => {});
  }
}

/**
 * What protects the Temporal connection, and who else can drive the worker through it. FAIL when
 * a worker with this configuration would refuse to start (real money over an open Temporal).
 */
function securityCheck(t: TemporalConnection, payloadKey: boolean, worker: { armed: boolean; infra: InfraSettings | null }): Check {
  const name = 'temporal security';
  const exposure = exposureOf(t.options, payloadKey);
  const refusal = worker.infra?.exchangeBaseUrl
    ? realMoneyRefusal({ armed: worker.armed, hasCredentials: worker.infra.credentials !== null, exchangeBaseUrl: worker.infra.exchangeBaseUrl, exposure })
    : null;
  if (refusal !== null) return { name, ok: false, detail: `${t.security}; a worker refuses to start: ${refusal}` };
  const cleartext = t.plaintext && !isLoopbackAddress(t.options.address)
    ? `; gRPC in cleartext to ${t.options.address}: outside a private network set TEMPORAL_TLS_* (mTLS) or TEMPORAL_API_KEY`
    : '';
  if (exposure.authenticated) return { name, ok: true, detail: `${t.security}${payloadKey ? '; payloads encrypted (BTCBOT_PAYLOAD_KEY)' : ''}` };
  if (payloadKey) {
    return {
      name, ok: true, warn: cleartext !== '',
      detail: `${t.security}; payloads encrypted (BTCBOT_PAYLOAD_KEY): ${exposure.audience} sees workflow ids and search attributes only${cleartext}`,
    };
  }
  return {
    name, ok: true, warn: true,
    detail: `${t.security}, no BTCBOT_PAYLOAD_KEY: ${exposure.audience} can read every cycle's payloads (balances, positions, orders), ` +
      `workflow ids and search attributes, and start workflows that drive this worker; ${CLOSE_IT}${cleartext}`,
  };
}

async function checkTemporal(infra: InfraSettings, env: NodeJS.ProcessEnv, ourConfigHash: string | null): Promise<Check[]> {
  const where = `${infra.temporalAddress} namespace ${infra.temporalNamespace}`;
  let temporal: Awaited<ReturnType<typeof connectClient>>;
  try {
    temporal = await connectClient(infra, { connectTimeout: '3s', env });
  } catch (err) {
    return [
      { name: 'temporal', ok: false, detail: message(err) },
      { name: 'worker', ok: false, detail: 'skipped: Temporal unreachable' },
    ];
  }
  const checks: Check[] = [];
  try {
    const { connection } = temporal;
    try {
      await connection.workflowService.describeNamespace({ namespace: infra.temporalNamespace });
      const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace: infra.temporalNamespace });
      const missing = SEARCH_ATTRIBUTES.map((k) => k.name).filter((n) => !(n in (customAttributes ?? {})));
      checks.push(
        missing.length === 0
          ? { name: 'temporal', ok: true, detail: `${where} reachable; search attributes ${SEARCH_ATTRIBUTES.map((k) => k.name).join(', ')} registered` }
          : {
              name: 'temporal',
              ok: false,
              detail: `${where} reachable, but search attributes missing: ${missing.join(', ')} (\`btcbot up\` registers them; or \`temporal operator search-attribute create\`)`,
            },
      );
    } catch (err) {
      checks.push({ name: 'temporal', ok: false, detail: `${where}: ${message(err)}` });
    }
    try {
      const { pollers } = await connection.workflowService.describeTaskQueue({
        namespace: infra.temporalNamespace,
        taskQueue: { name: infra.taskQueue, kind: proto.temporal.api.enums.v1.TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
        taskQueueType: proto.temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
      });
      const n = pollers?.length ?? 0;
      checks.push(
        n > 0
          ? { name: 'worker', ok: true, detail: `${n} worker poller(s) on task queue ${infra.taskQueue}` }
          : { name: 'worker', ok: false, detail: `no worker polls task queue ${infra.taskQueue}: cycles would wait (start \`btcbot worker\`)` },
      );
      if (n > 0 && ourConfigHash) {
        // A worker that just stopped stays listed for a few minutes; live pollers re-poll at least every minute.
        const seconds = (p: NonNullable<typeof pollers>[number]) => Number(p.lastAccessTime?.seconds ?? 0);
        const recent = (pollers ?? []).filter((p) => Date.now() / 1000 - seconds(p) < 120);
        checks.push(compareWorkerConfig((recent.length > 0 ? recent : pollers ?? []).map((p) => p.identity ?? ''), ourConfigHash));
      }
    } catch (err) {
      checks.push({ name: 'worker', ok: false, detail: message(err) });
    }
  } finally {
    await temporal.close();
  }
  return checks;
}

/**
 * The starter's trading configuration against the workers': each worker puts the hash of its own
 * into its poller identity (`cfg:<hash>`). A cycle runs with the worker's limits and gates, so a
 * difference means this shell's settings are not the ones that will trade.
 */
export function compareWorkerConfig(identities: readonly string[], ourHash: string): Check {
  const theirs = identities.map((id) => ({ id, hash: /\bcfg:([0-9a-f]{12})\b/.exec(id)?.[1] ?? null }));
  const differing = theirs.filter((t) => t.hash !== null && t.hash !== ourHash);
  const unknown = theirs.filter((t) => t.hash === null);
  if (differing.length > 0) {
    return {
      name: 'worker config',
      ok: false,
      detail:
        `${differing.length} worker(s) trade with another configuration (${[...new Set(differing.map((d) => d.hash))].join(', ')}) than this shell (${ourHash}): ` +
        `the worker's gates, symbols and limits govern its cycles; compare \`btcbot config\` here and in the worker's environment`,
    };
  }
  if (unknown.length > 0) {
    return { name: 'worker config', ok: true, warn: true, detail: `${unknown.length} worker(s) do not report their configuration (an older btcbot, or not btcbot)` };
  }
  return { name: 'worker config', ok: true, detail: `every worker trades with this shell's configuration (${ourHash})` };
}

/** SYMBOLS against the pairs the exchange lists (an unknown one is a configuration error). */
async function checkSymbols(exchange: Exchange, trading: TradingConfig, scrub: (t: string) => string): Promise<Check> {
  let listing: Awaited<ReturnType<typeof readListing>>;
  try {
    listing = await readListing(exchange, trading.symbols);
  } catch (err) {
    return { name: 'symbols', ok: false, detail: `the exchange's pairs could not be read: ${scrub(message(err))}` };
  }
  const unknown = unknownSymbolsError(listing);
  if (unknown) return { name: 'symbols', ok: false, configError: true, detail: unknown.message };
  const notTradable = notTradableWarning(listing);
  if (notTradable) return { name: 'symbols', ok: true, warn: true, detail: notTradable };
  return { name: 'symbols', ok: true, detail: `${trading.symbols.join(', ')} listed and trading` };
}

async function checkExchange(env: NodeJS.ProcessEnv, infra: InfraSettings | null, trading: TradingConfig | null): Promise<Check[]> {
  const raw = env.BTCTURK_BASE_URL?.trim();
  if (!raw) {
    return [{ name: 'exchange', ok: false, detail: 'BTCTURK_BASE_URL is not set (the simulator: `btcbot simulator`; the exchange: https://api.btcturk.com)' }];
  }
  if (!infra?.exchangeBaseUrl) return [{ name: 'exchange', ok: false, detail: 'skipped: configuration error' }];
  const baseUrl = infra.exchangeBaseUrl;
  const creds = infra.credentials;
  // Whatever an error says, the key and secret never reach the terminal.
  const scrub = (text: string): string =>
    creds ? text.split(creds.apiSecret).join('***').split(creds.apiKey).join(maskKey(creds.apiKey)) : text;
  let exchange: ReturnType<typeof createBtcturkExchange>;
  try {
    exchange = createBtcturkExchange({
      baseUrl,
      ...(creds ? { credentials: creds } : {}),
      timeoutMs: 5_000,
      retry: { maxAttempts: 1 }, // a doctor reports what it sees; it does not wait out retries
    });
  } catch (err) {
    return [{ name: 'exchange', ok: false, detail: scrub(message(err)) }];
  }
  const checks: Check[] = [];
  try {
    try {
      const before = Date.now();
      const serverMs = await exchange.getServerTime();
      const after = Date.now();
      const skew = Math.round(serverMs - (before + after) / 2);
      const detail = `${redactUrl(baseUrl)} reachable; clock skew ${skew >= 0 ? '+' : ''}${skew} ms (BTCTurk allows ±${MAX_CLOCK_SKEW_MS} ms)`;
      checks.push({ name: 'exchange', ok: Math.abs(skew) <= MAX_CLOCK_SKEW_MS, detail: Math.abs(skew) <= MAX_CLOCK_SKEW_MS ? detail : `${detail}: fix the clock (NTP)` });
    } catch (err) {
      checks.push({ name: 'exchange', ok: false, detail: `${redactUrl(baseUrl)}: ${scrub(message(err))}` });
      return checks;
    }
    if (trading) checks.push(await checkSymbols(exchange, trading, scrub));
    if (!creds) {
      checks.push({ name: 'credentials', ok: true, detail: 'none set: public endpoints only (live trading needs BTCTURK_API_KEY and BTCTURK_API_SECRET)' });
      return checks;
    }
    const key = maskKey(creds.apiKey);
    try {
      const balances = await exchange.getBalances();
      checks.push({ name: 'credentials', ok: true, detail: `key ${key}: balances readable (${balances.length} asset(s))` });
    } catch (err) {
      checks.push({ name: 'credentials', ok: false, detail: `key ${key}: balances not readable: ${scrub(message(err))}` });
    }
    return checks;
  } finally {
    await exchange.close();
  }
}
