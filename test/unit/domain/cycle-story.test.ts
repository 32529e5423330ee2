import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseTradingConfig } from '../../../src/domain/config.js';
import { cycleStory, integrityAlerts, parseEntry, tradingStateOf, type AuditView } from '../../../src/domain/cycle-story.js';
import { planCycle, type CyclePlanInput } from '../../../src/domain/plan.js';
import { BTCTRY, D, ETHTRY, rules, SOLTRY, tracked } from './fixtures.js';

/** An audit row as the workflow writes it (src/workflows/trading-cycle.ts): envelope, counts, decisions, alerts. */
function audit(over: Partial<AuditView> = {}): AuditView {
  return {
    cycleId: 'cycle-test-1',
    mode: 'dry_run',
    outcome: 'ok',
    startedAt: '2026-12-02T01:52:33.700Z',
    finishedAt: '2026-12-02T01:52:34.818Z',
    counts: {},
    decisions: [],
    alerts: [],
    envelope: { cycle_id: 'cycle-test-1', trigger: 'up', dry_run: true, live_mode: false, kill_switch: true, symbols: ['BTCTRY', 'ETHTRY', 'SOLTRY'] },
    errorClass: null,
    errorMessage: null,
    ...over,
  };
}

/** What the plan step really writes: decisions and counts from planCycle itself, so the parser is held to the producer. */
function planned(over: Partial<CyclePlanInput> = {}) {
  const config = parseTradingConfig({ TRY_CASH_TARGET: '0', TRY_CASH_MAX: '100000' });
  const plan = planCycle({
    cycleId: 'cycle-test-1', nowMs: 1_000_000, mode: 'dry_run', config,
    symbols: [BTCTRY, ETHTRY, SOLTRY], excludedSymbols: [],
    rules: new Map([BTCTRY, ETHTRY, SOLTRY].map((s) => [s, rules({ symbol: s, minNotional: D(s === SOLTRY ? '100000' : '10') })])),
    marks: new Map([[BTCTRY, D(3_400_000)], [ETHTRY, D(120_000)], [SOLTRY, D(9_000)]]),
    orders: [], positions: [], pnl: { realizedTodayTry: D(0), drawdownPct: D(0) },
    tryBalance: { free: D(1000), locked: D(0) }, reduceOnly: [], quarantinedSymbols: [], halted: false,
    ...over,
  });
  return { plan, counts: plan.counts as unknown as Record<string, number> };
}

describe('cycle story: what the plan step wrote', () => {
  it('a canary skip is the symbol\'s "why not", with the numbers of the rule that stopped it', () => {
    const { plan, counts } = planned();
    const story = cycleStory(audit({ counts, decisions: plan.decisions, alerts: ['kill_switch_active'] }));
    const sol = story.symbols.find((s) => s.symbol === 'SOLTRY')!;
    expect(sol.state).toBe('active');
    expect(sol.why).toMatch(/^no order: insufficient_budget required=\S+ budget=\S+/);
    expect(story.gates.notes).toEqual(['kill_switch_active']);
    expect(story.tradingState).toBe('active');
    expect(story.unknown).toEqual([]);
  });

  it('each planned action carries its symbol, side, price and qty, the risk verdict and the outcome', () => {
    const { plan, counts } = planned();
    const cid = plan.accepted[0]!.clientOrderId;
    const story = cycleStory(audit({ counts, decisions: [...plan.decisions, `exec:${cid}:simulated`] }));
    const a = story.actions.find((x) => x.clientOrderId === cid)!;
    expect(a).toMatchObject({ symbol: 'BTCTRY', action: 'submit', side: 'buy', risk: 'accepted', outcome: 'simulated', reason: 'new_intent' });
    expect(a.price).toBe(plan.accepted[0]!.price.toFixed());
    expect(story.symbols.find((s) => s.symbol === 'BTCTRY')!.why).toMatch(new RegExp(`^buy ${a.qty} @ ${a.price} simulated \\(${cid}\\)$`));
  });

  it('a risk rejection names the limit that hit and its numbers', () => {
    const config = parseTradingConfig({ TRY_CASH_TARGET: '0', TRY_CASH_MAX: '100000', MAX_OPEN_ORDERS: '1' });
    const { plan, counts } = planned({ config, orders: [tracked({ cid: 'ext-1', mode: 'external', symbol: SOLTRY })] });
    const story = cycleStory(audit({ counts, decisions: plan.decisions }));
    const rejected = story.symbols.filter((s) => s.why.includes('rejected by risk'));
    expect(rejected.length).toBeGreaterThan(0);
    expect(rejected[0]!.why).toMatch(/rejected by risk: max_open_orders open=1 limit=1$/);
  });

  it('reduce-only: the loss limit and its numbers, and every symbol reduce_only', () => {
    const { plan, counts } = planned({ pnl: { realizedTodayTry: D(-1500), drawdownPct: D(0) } });
    const story = cycleStory(audit({ counts, decisions: plan.decisions, alerts: [`trading_state:${plan.tradingState}`] }));
    expect(story.tradingState).toBe('reduce_only');
    const btc = story.symbols.find((s) => s.symbol === 'BTCTRY')!;
    expect(btc.state).toBe('reduce_only');
    expect(btc.why).toMatch(/rejected by risk: max_daily_loss realized_today_try=-1500 limit=1000/);
  });
});

describe('cycle story: cycles that ended early', () => {
  it('a blocked cycle says which gate, whose gates, and blocks every symbol', () => {
    const story = cycleStory(audit({
      mode: 'live', outcome: 'blocked', decisions: ['policy_block:kill_switch:worker'],
      errorMessage: 'worker: KILL_SWITCH=true blocks side effects', envelope: { dry_run: false, live_mode: true, kill_switch: false, symbols: ['BTCTRY'] },
    }));
    expect(story.gates.block).toEqual({ reason: 'kill_switch', by: 'worker' });
    expect(story.symbols).toEqual([expect.objectContaining({ symbol: 'BTCTRY', state: 'blocked', why: expect.stringContaining('worker: KILL_SWITCH=true') })]);
    expect(story.tradingState).toBeNull();
  });

  it('a failed cycle keeps its error and the step it failed at', () => {
    const story = cycleStory(audit({
      outcome: 'failed', decisions: ['failed_at:accounting'], alerts: ['integrity:oversell_detected fill_id=9 symbol=BTCTRY'],
      errorClass: 'AccountingIntegrityError', errorMessage: 'oversell_detected fill_id=9 symbol=BTCTRY',
    }));
    expect(story.error).toEqual({ errorClass: 'AccountingIntegrityError', message: 'oversell_detected fill_id=9 symbol=BTCTRY', step: 'accounting' });
    expect(story.alerts).toEqual([{ text: 'integrity:oversell_detected fill_id=9 symbol=BTCTRY', severity: 'integrity' }]);
    expect(story.symbols.every((s) => s.state === 'unknown' && s.why.includes('failed at accounting'))).toBe(true);
  });

  it('a halt reason with colons is kept whole', () => {
    const story = cycleStory(audit({ outcome: 'halted', decisions: ['halted:canary: cancel-path check'] }));
    expect(story.halt).toBe('canary: cancel-path check');
    expect(story.symbols[0]!.why).toBe('trading halted: canary: cancel-path check');
  });

  it('a quarantine and a symbol that sat out are told apart from trading', () => {
    const story = cycleStory(audit({
      counts: { planned_actions: 0 },
      alerts: ['quarantined:ETHTRY:oversell_detected fill_id=7 held=2 cycles=3 since=2026-12-01T00:00:00Z', 'mark_failed:SOLTRY:crossed_book'],
    }));
    const by = Object.fromEntries(story.symbols.map((s) => [s.symbol, s]));
    expect(by.ETHTRY!.state).toBe('quarantined');
    expect(by.SOLTRY!.state).toBe('sitting_out');
    expect(by.SOLTRY!.why).toContain('mark_failed:SOLTRY:crossed_book');
    expect(by.BTCTRY!.state).toBe('active');
  });
});

describe('the audit parser', () => {
  it('gate notes are notes, not integrity alerts: a clean dry-run row has none (canary step 5)', () => {
    expect(integrityAlerts({ alerts: ['kill_switch_active', 'live_trading_ack_missing'], decisions: ['risk:x:accepted'] })).toEqual([]);
    expect(integrityAlerts({
      alerts: ['fee_conversion_missing:123:BNB', 'balance_drift:BTC balance=1 positions=0.5 diff=0.5 cycles=3'],
      decisions: ['reconcile_anomaly:s4-1:illegal_transition'],
    })).toHaveLength(3);
  });

  it('tells the trading state the plan reached, or that the cycle never planned', () => {
    expect(tradingStateOf({ alerts: [], counts: { planned_actions: 0 } })).toBe('active');
    expect(tradingStateOf({ alerts: ['trading_state:reduce_only'], counts: { planned_actions: 0 } })).toBe('reduce_only');
    expect(tradingStateOf({ alerts: [], counts: { blocked_by_policy: 1 } })).toBeNull();
  });

  it('an unknown or malformed string is kept raw, never an error', () => {
    for (const raw of ['', ':', 'risk:', 'exec:only-cid', 'something_new:x:y', 'canary_skip:BTCTRY', 'a'.repeat(5000)]) {
      expect(parseEntry(raw)).toEqual({ raw, kind: 'unknown' });
    }
  });

  it('never throws, and shows every string it does not recognise exactly as stored (property)', () => {
    const text = fc.oneof(fc.string(), fc.constantFrom('risk:', 'exec:a:b:c', 'submit:x:y k=v =z', 'halted:', 'canary_skip::', 'balance_drift:'));
    fc.assert(fc.property(fc.array(text), fc.array(text), fc.dictionary(fc.string(), fc.integer()), (decisions, alerts, counts) => {
      const story = cycleStory(audit({ decisions, alerts, counts, envelope: {} }));
      const unknown = [...decisions, ...alerts].filter((s) => parseEntry(s).kind === 'unknown');
      expect(story.unknown).toEqual(unknown);
      expect(story.alerts.map((a) => a.text)).toEqual(alerts);
    }));
  });
});
