// `btcbot trades`, `btcbot orders` and `btcbot pnl --daily`: the history, as a table or as CSV.
// Filters: --since (a date, a zoned time or an age), --symbol, --mode. Times are UTC ISO-8601;
// trading days follow DAY_BOUNDARY_TZ, as "realized today" does.
import { dayBoundary, parseTradingConfig } from '../domain/config.js';
import { Decimal, parseDecimal, toDecimalString } from '../domain/decimal.js';
import type { TradingMode } from '../domain/gates.js';
import { dailyPnl, parseSince, SinceError, tradingDay } from '../domain/history.js';
import type { OrderMode } from '../domain/lifecycle.js';
import { botEquityTry } from '../domain/pnl.js';
import { InvalidSymbolError, toPairSymbol } from '../domain/types.js';
import { listFills, listOrderHistory, type FillRow, type OrderRow } from '../store/history.js';
import { listSnapshots } from '../store/pnl.js';
import { log, openDatabase } from './context.js';
import { toCsv, type CsvColumn } from './csv.js';
import { EXIT, UsageError } from './errors.js';
import { table } from './table.js';

/** The account every store row belongs to until multi-account support exists. */
const ACCOUNT_ID = 'default';

export interface HistoryOptions {
  since?: string;
  symbol?: string;
  mode?: string;
  csv: boolean;
}

/** DAY_BOUNDARY_TZ alone: a bad trading variable elsewhere must not stop a history read. */
const dayOffset = (env: NodeJS.ProcessEnv): number => dayBoundary(env).offset;

function filter<M extends string>(o: HistoryOptions, modes: readonly M[], offset: number, nowMs: number) {
  let sinceMs: number | null = null;
  try {
    if (o.since !== undefined) sinceMs = parseSince(o.since, nowMs, offset);
  } catch (err) {
    if (err instanceof SinceError) throw new UsageError(err.message);
    throw err;
  }
  let symbol: string | null = null;
  try {
    if (o.symbol !== undefined) symbol = toPairSymbol(o.symbol);
  } catch (err) {
    if (err instanceof InvalidSymbolError) throw new UsageError(`--symbol: ${err.message}`);
    throw err;
  }
  const wanted = o.mode === undefined || o.mode === 'all' ? [...modes] : o.mode.split(',').map((m) => m.trim());
  for (const m of wanted) {
    if (!(modes as readonly string[]).includes(m)) throw new UsageError(`--mode must be ${[...modes, 'all'].join(', ')} (or a comma-separated list), got ${JSON.stringify(m)}`);
  }
  return { sinceMs, symbol, modes: wanted as M[] };
}

const iso = (ms: number): string => new Date(ms).toISOString();

/** CSV (every column), or a titled table without the `hidden` columns (`-` for a missing value). */
function print<R>(csv: boolean, title: string, columns: readonly CsvColumn<R>[], rows: readonly R[], hidden: readonly string[]): void {
  if (csv) {
    process.stdout.write(toCsv(columns, rows));
    return;
  }
  console.log(`${title}${rows.length ? '' : '\n  none'}`);
  if (rows.length === 0) return;
  const shown = columns.filter((c) => !hidden.includes(c.name));
  console.log(table([shown.map((c) => c.name), ...rows.map((r) => shown.map((c) => String(c.value(r) ?? '-')))]).join('\n'));
}

export async function trades(o: HistoryOptions, env = process.env): Promise<number> {
  const offset = dayOffset(env);
  const f = filter<TradingMode>(o, ['live', 'dry_run'], offset, Date.now());
  const { pool } = await openDatabase(env);
  let fills: FillRow[];
  try {
    fills = await listFills(pool, f);
  } finally {
    await pool.end();
  }
  const columns: CsvColumn<FillRow>[] = [
    { name: 'time', value: (r) => iso(r.tsMs) },
    { name: 'trading_day', value: (r) => tradingDay(r.tsMs, offset) },
    { name: 'mode', value: (r) => r.mode },
    { name: 'symbol', value: (r) => r.symbol },
    { name: 'side', value: (r) => r.side },
    { name: 'qty', value: (r) => r.qty, decimal: true },
    { name: 'price', value: (r) => r.price, decimal: true },
    { name: 'gross_try', value: (r) => r.grossTry, decimal: true },
    { name: 'fee', value: (r) => r.fee, decimal: true },
    { name: 'tax', value: (r) => r.tax, decimal: true },
    { name: 'fee_asset', value: (r) => r.feeAsset },
    { name: 'fee_and_tax_try', value: (r) => r.feeTry, decimal: true },
    { name: 'realized_pnl_try', value: (r) => r.realizedPnlTry, decimal: true },
    { name: 'fill_id', value: (r) => r.fillId },
    { name: 'exchange_order_id', value: (r) => r.exchangeOrderId },
    { name: 'client_order_id', value: (r) => r.clientOrderId },
    { name: 'cycle_id', value: (r) => r.cycleId },
  ];
  print(o.csv, `trades (${fills.length})`, columns, fills, ['trading_day', 'exchange_order_id', 'cycle_id']);
  return EXIT.ok;
}

export async function orders(o: HistoryOptions, env = process.env): Promise<number> {
  const f = filter<OrderMode>(o, ['live', 'dry_run', 'external'], dayOffset(env), Date.now());
  const { pool } = await openDatabase(env);
  let rows: OrderRow[];
  try {
    rows = await listOrderHistory(pool, f);
  } finally {
    await pool.end();
  }
  const columns: CsvColumn<OrderRow>[] = [
    { name: 'created_at', value: (r) => r.createdAt },
    { name: 'updated_at', value: (r) => r.updatedAt },
    { name: 'mode', value: (r) => r.mode },
    { name: 'symbol', value: (r) => r.symbol },
    { name: 'side', value: (r) => r.side },
    { name: 'qty', value: (r) => r.qty, decimal: true },
    { name: 'filled_qty', value: (r) => r.filledQty, decimal: true },
    { name: 'left_qty', value: (r) => r.leftQty, decimal: true },
    { name: 'price', value: (r) => r.price, decimal: true },
    { name: 'state', value: (r) => r.state },
    { name: 'client_order_id', value: (r) => r.clientOrderId },
    { name: 'exchange_order_id', value: (r) => r.exchangeOrderId },
    { name: 'cycle_id', value: (r) => r.cycleId },
    { name: 'last_error', value: (r) => r.lastError },
  ];
  print(o.csv, `orders (${rows.length})`, columns, rows, ['updated_at', 'cycle_id']);
  return EXIT.ok;
}

interface DailyLine {
  day: string;
  mode: TradingMode;
  fills: number;
  realizedPnlTry: string;
  feesTry: string;
  equityTry: string | null;
  botEquityTry: string | null;
  snapshots: number;
}

/** TRY_CASH_MAX of this environment, for the bot's equity; null (and said once) when the config does not parse. */
function tryCashMax(env: NodeJS.ProcessEnv): Decimal | null {
  try {
    return parseTradingConfig(env).tryCashMax;
  } catch (err) {
    log(`bot equity not shown: ${(err as Error).message}`);
    return null;
  }
}

export async function pnlDaily(o: HistoryOptions, env = process.env): Promise<number> {
  const offset = dayOffset(env);
  const f = filter<TradingMode>(o, ['live', 'dry_run'], offset, Date.now());
  if (f.symbol !== null) throw new UsageError('pnl --daily is per account: --symbol does not apply (use `btcbot trades --symbol`)');
  const cashMax = tryCashMax(env);
  const { pool } = await openDatabase(env);
  const lines: DailyLine[] = [];
  try {
    for (const mode of f.modes) {
      const [fills, snapshots] = await Promise.all([
        listFills(pool, { modes: [mode], sinceMs: f.sinceMs }),
        listSnapshots(pool, ACCOUNT_ID, mode, f.sinceMs),
      ]);
      const days = dailyPnl(
        fills.map((r) => ({ tsMs: r.tsMs, realizedPnlTry: parseDecimal(r.realizedPnlTry), feeTry: parseDecimal(r.feeTry) })),
        snapshots.map((s) => ({
          tsMs: s.tsMs,
          totalEquityTry: s.totalEquityTry,
          botEquityTry: cashMax === null || s.tryCashTry === null || s.positionsValueTry === null
            ? null : botEquityTry({ tryCashTry: s.tryCashTry, positionsValueTry: s.positionsValueTry }, cashMax),
        })),
        offset,
      );
      for (const d of days) {
        lines.push({
          day: d.day, mode, fills: d.fills, realizedPnlTry: toDecimalString(d.realizedPnlTry), feesTry: toDecimalString(d.feesTry),
          equityTry: d.equityTry === null ? null : toDecimalString(d.equityTry),
          botEquityTry: d.botEquityTry === null ? null : toDecimalString(d.botEquityTry), snapshots: d.snapshots,
        });
      }
    }
  } finally {
    await pool.end();
  }
  lines.sort((a, b) => (a.day < b.day ? -1 : a.day > b.day ? 1 : a.mode < b.mode ? -1 : a.mode > b.mode ? 1 : 0));
  const columns: CsvColumn<DailyLine>[] = [
    { name: 'trading_day', value: (r) => r.day },
    { name: 'mode', value: (r) => r.mode },
    { name: 'fills', value: (r) => r.fills, decimal: true },
    { name: 'realized_pnl_try', value: (r) => r.realizedPnlTry, decimal: true },
    { name: 'fee_and_tax_try', value: (r) => r.feesTry, decimal: true },
    { name: 'equity_try', value: (r) => r.equityTry, decimal: true },
    { name: 'bot_equity_try', value: (r) => r.botEquityTry, decimal: true },
    { name: 'snapshots', value: (r) => r.snapshots, decimal: true },
  ];
  const title = `realized PnL per trading day (DAY_BOUNDARY_TZ=${dayBoundary(env).tz}); equity at the day's last snapshot`;
  print(o.csv, title, columns, lines, []);
  return EXIT.ok;
}
