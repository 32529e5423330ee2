// The gauges btcbot exports, and the example Prometheus alert rules that use them.
import { readFileSync } from 'node:fs';
import type { MetricMeter } from '@temporalio/common';
import { describe, expect, test } from 'vitest';
import { parse } from 'yaml';
import { Decimal } from '../../../src/domain/decimal.js';
import { toPairSymbol } from '../../../src/domain/types.js';
import { GAUGES, recordStateGauges } from '../../../src/observability/gauges.js';
import type { OperatorState } from '../../../src/store/operator-state.js';

/** A meter that keeps the last value per gauge and label set. */
function recordingMeter() {
  const values = new Map<string, number>();
  const meter = {
    createGauge: (name: string) => ({
      set: (v: number, tags: Record<string, string> = {}) => values.set(`${name}${JSON.stringify(Object.fromEntries(Object.entries(tags).sort()))}`, v),
    }),
  } as unknown as MetricMeter;
  const get = (name: string, tags: Record<string, string>) => values.get(`${name}${JSON.stringify(Object.fromEntries(Object.entries(tags).sort()))}`);
  return { meter, values, get };
}

const snapshot = { cycleId: 'c1', tsMs: 0, totalEquityTry: new Decimal('100000'), realizedTotalTry: new Decimal('12.5'), realizedTodayTry: new Decimal('-3.25'),
  drawdownPct: new Decimal('0.5'), highWaterMarkTry: new Decimal('100500'), tryCashTry: new Decimal('99000'), positionsValueTry: new Decimal('1000') };

const state: OperatorState = {
  halt: { reason: 'ops', haltedAt: '2026-12-02T10:00:00.000Z', by: 'cli:ops' },
  snapshots: { live: snapshot, dry_run: null },
  openOrders: { live: 2, dry_run: 0, external: 1 },
  positions: [{ symbol: toPairSymbol('BTCTRY'), qty: new Decimal('0.01'), costBasisTry: new Decimal('34000'), realizedPnlTry: new Decimal('0'), lastFillTsMs: null }],
  paperPositions: [{ symbol: toPairSymbol('BTCTRY'), qty: new Decimal('0.0003'), costBasisTry: new Decimal('1020'), realizedPnlTry: new Decimal('0'), lastFillTsMs: null }],
  alertsUndelivered: { failed: 2, rejected: 3, unknown: 1, newest: { sourceId: 'c2', kind: 'cycle_failed', channel: 'webhook', status: 'failed', error: 'HTTP 500', at: '2026-12-02T10:00:02.000Z' } },
  lastOk: { live: { cycleId: 'c1', finishedAt: '2026-12-02T09:59:00.000Z' }, dry_run: null },
  latestCycles: {
    live: { cycleId: 'c2', workflowId: 'c2', runId: 'r', mode: 'live', outcome: 'ok', startedAt: '2026-12-02T10:00:00.000Z', finishedAt: '2026-12-02T10:00:01.000Z',
      counts: { planned_actions: 1 }, decisions: [], alerts: ['trading_state:reduce_only', 'symbol_not_configured:SOLTRY'], envelope: { symbols: ['BTCTRY', 'SOLTRY'] },
      errorClass: null, errorMessage: null, recordedAt: '2026-12-02T10:00:01.000Z' },
    dry_run: null,
  },
};

describe('state gauges', () => {
  test('halted, equity (whole account and the bot\'s TRY_CASH_MAX share), open orders, last ok cycle', () => {
    const { meter, get } = recordingMeter();
    recordStateGauges(meter, state, { accountId: 'acct', tryCashMax: new Decimal('600'), nowMs: 1_000_000 });
    expect(get('btcbot_halted', { account: 'acct' })).toBe(1);
    expect(get('btcbot_equity_try', { account: 'acct', mode: 'live' })).toBe(100000);
    expect(get('btcbot_bot_equity_try', { account: 'acct', mode: 'live' })).toBe(1600); // min(99000, 600) + 1000
    expect(get('btcbot_realized_today_try', { account: 'acct', mode: 'live' })).toBe(-3.25);
    expect(get('btcbot_equity_try', { account: 'acct', mode: 'dry_run' })).toBeUndefined(); // no snapshot: no value, not 0
    expect(get('btcbot_open_orders', { account: 'acct', mode: 'external' })).toBe(1);
    expect(get('btcbot_last_success_timestamp_seconds', { account: 'acct', mode: 'live' })).toBe(Date.parse('2026-12-02T09:59:00.000Z') / 1000);
  });

  test('positions per mode (the paper ledger apart from the account) and alerts that reached no channel', () => {
    const { meter, get } = recordingMeter();
    recordStateGauges(meter, state, { accountId: 'acct', tryCashMax: new Decimal('600'), nowMs: 0 });
    expect(get('btcbot_position_qty', { account: 'acct', mode: 'live', symbol: 'BTCTRY' })).toBe(0.01);
    expect(get('btcbot_position_qty', { account: 'acct', mode: 'dry_run', symbol: 'BTCTRY' })).toBe(0.0003);
    expect(get('btcbot_alerts_undelivered', { account: 'acct', status: 'failed' })).toBe(2);
    expect(get('btcbot_alerts_undelivered', { account: 'acct', status: 'rejected' })).toBe(3);
    expect(get('btcbot_alerts_undelivered', { account: 'acct', status: 'unknown' })).toBe(1);
  });

  test('trading state is one-hot per symbol', () => {
    const { meter, values } = recordingMeter();
    recordStateGauges(meter, state, { accountId: 'acct', tryCashMax: new Decimal('600'), nowMs: 0 });
    const on = [...values].filter(([k, v]) => k.startsWith('btcbot_trading_state') && v === 1).map(([k]) => JSON.parse(k.slice('btcbot_trading_state'.length)) as Record<string, string>);
    expect(on.map((t) => `${t.symbol}=${t.state}`).sort()).toEqual(['BTCTRY=reduce_only', 'SOLTRY=not_traded']);
    for (const symbol of new Set(on.map((t) => t.symbol))) expect(on.filter((t) => t.symbol === symbol)).toHaveLength(1);
  });
});

describe('deploy/prometheus/alerts.yml', () => {
  const rules = (parse(readFileSync(new URL('../../../deploy/prometheus/alerts.yml', import.meta.url), 'utf8')) as {
    groups: Array<{ name: string; rules: Array<{ alert: string; expr: string; for?: string; labels?: Record<string, string>; annotations?: Record<string, string> }> }>;
  }).groups.flatMap((g) => g.rules);

  test('parses as Prometheus rule groups: each rule named, with an expression, a severity and a summary', () => {
    expect(rules.length).toBeGreaterThan(5);
    expect(new Set(rules.map((r) => r.alert)).size).toBe(rules.length);
    for (const r of rules) {
      expect(r.alert).toMatch(/^[A-Z][A-Za-z]+$/);
      expect(typeof r.expr).toBe('string');
      expect(r.labels?.severity).toMatch(/^(critical|warning)$/);
      expect(r.annotations?.summary).toBeTruthy();
      if (r.for !== undefined) expect(r.for).toMatch(/^\d+[smh]$/);
      // Balanced brackets: a typo would make Prometheus refuse the whole file.
      for (const [open, close] of [['(', ')'], ['{', '}'], ['[', ']']] as const) expect(r.expr.split(open).length, r.alert).toBe(r.expr.split(close).length);
    }
  });

  test('uses only metrics btcbot exports', () => {
    const used = new Set(rules.flatMap((r) => [...r.expr.matchAll(/\bbtcbot_\w+/g)].map((m) => m[0])));
    const counters = ['btcbot_cycles'];
    for (const name of used) expect([...Object.keys(GAUGES), ...counters], name).toContain(name);
    expect(used).toContain('btcbot_halted');
    expect(used).toContain('btcbot_last_success_timestamp_seconds');
  });
});
