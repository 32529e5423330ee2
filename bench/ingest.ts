// Ingestion: 100,000 fills for one symbol through the real pipeline (ingestFills: dedupe against
// the ledger, weighted-average accounting, bulk insert, position and cursor) into Postgres.
import { Decimal } from '../src/domain/decimal.js';
import { asExchangeOrderId, asFillId, toPairSymbol, type FillReport } from '../src/domain/types.js';
import { createPool } from '../src/store/db.js';
import { countFills, ingestFills } from '../src/store/fills.js';
import { migrate } from '../src/store/migrations.js';
import { benchDatabase, report, withPeakRss } from './support.js';

export function syntheticFills(n: number, startId = 1190000000000000001n): FillReport[] {
  const symbol = toPairSymbol('BTCTRY');
  const fills: FillReport[] = [];
  let held = new Decimal(0);
  for (let i = 0; i < n; i++) {
    // Mostly buys with sells that never exceed the holding, prices drifting around 3.4M TRY.
    const side = i % 3 === 2 && held.gt('0.002') ? 'sell' : 'buy';
    const qty = new Decimal('0.001').add(new Decimal(i % 7).mul('0.0001'));
    const sellQty = Decimal.min(qty, held);
    const q = side === 'sell' ? sellQty : qty;
    held = side === 'sell' ? held.sub(q) : held.add(q);
    const price = new Decimal(3_400_000 + ((i * 37) % 20_000));
    const fee = price.mul(q).mul('0.0009').toDecimalPlaces(8);
    fills.push({
      fillId: asFillId((startId + BigInt(i)).toString()),
      exchangeOrderId: asExchangeOrderId(String(31500000000 + Math.floor(i / 3))),
      clientOrderId: null,
      symbol,
      side,
      price,
      qty: q,
      fee,
      tax: fee.mul('0.2'),
      feeAsset: 'TRY',
      tsMs: 1_764_000_000_000 + i * 10,
    });
  }
  return fills;
}

export async function benchIngest(n = 100_000, batch = 10_000): Promise<void> {
  const db = await benchDatabase();
  const pool = createPool(db.url, 4);
  try {
    await migrate(pool);
    await pool.query('TRUNCATE stage4_fills, stage4_positions, cursors');
    const fills = syntheticFills(n);
    const symbol = toPairSymbol('BTCTRY');
    const t0 = performance.now();
    const { peakRssMb } = await withPeakRss(async () => {
      for (let i = 0; i < fills.length; i += batch) {
        await ingestFills(pool, { symbol, fills: fills.slice(i, i + batch), marks: new Map(), cycleId: 'bench' });
      }
    });
    const seconds = (performance.now() - t0) / 1000;
    const stored = await countFills(pool, symbol);
    if (stored !== n) throw new Error(`expected ${n} fills stored, found ${stored}`);
    report({ bench: 'ingest_fills', fills: n, batch, seconds: +seconds.toFixed(3), fills_per_sec: Math.round(n / seconds), peak_rss_mb: peakRssMb, target_fills_per_sec: 20_000 });

    // Re-ingesting the same window (a re-poll) must apply nothing and stay fast.
    const t1 = performance.now();
    for (let i = 0; i < fills.length; i += batch) {
      const r = await ingestFills(pool, { symbol, fills: fills.slice(i, i + batch), marks: new Map(), cycleId: 'bench-repoll' });
      if (r.applied !== 0) throw new Error('a re-polled fill was applied twice');
    }
    const s2 = (performance.now() - t1) / 1000;
    report({ bench: 'reingest_duplicates', fills: n, seconds: +s2.toFixed(3), fills_per_sec: Math.round(n / s2) });
  } finally {
    await pool.end();
    await db.stop();
  }
}
