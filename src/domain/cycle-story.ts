// What one cycle did and why, from its audit record: the one place that reads the audit's decision
// and alert strings (`canary_skip:SOLTRY:insufficient_budget required=100.18 budget=99.80`, ...).
// `btcbot cycle show`, the "why not trading" lines of `status`, the per-symbol trading-state
// gauge and the alerts all read cycles through it. Pure. A string it does not know is kept raw as
// `unknown`, never dropped and never an error: audit rows written by older or newer versions must
// always be shown.
import type { Detail } from './errors.js';
import { isOwnClientOrderId } from './ids.js';

/** The audit record as read back (a cycle_audit row), only what the story needs. */
export interface AuditView {
  readonly cycleId: string;
  readonly mode: string;
  readonly outcome: string;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly counts: Readonly<Record<string, number>>;
  readonly decisions: readonly string[];
  readonly alerts: readonly string[];
  readonly envelope: Readonly<Record<string, unknown>>;
  readonly errorClass: string | null;
  readonly errorMessage: string | null;
}

/** How much an alert string matters to an operator. `integrity`: the books may be wrong. */
export type Severity = 'note' | 'warning' | 'integrity';

export type AuditEntry = { readonly raw: string } & (
  | { readonly kind: 'policy_block'; readonly reason: string; readonly by: 'starter' | 'worker' }
  | { readonly kind: 'halted'; readonly reason: string }
  | { readonly kind: 'skipped'; readonly reason: string; readonly detail: string }
  | { readonly kind: 'failed_at'; readonly step: string }
  | { readonly kind: 'canary_skip'; readonly symbol: string; readonly reason: string; readonly detail: Detail }
  | { readonly kind: 'planned'; readonly action: 'submit' | 'cancel'; readonly ref: string; readonly reason: string; readonly detail: Detail }
  | { readonly kind: 'lifecycle'; readonly decision: string; readonly clientOrderId: string }
  | { readonly kind: 'risk'; readonly clientOrderId: string; readonly reason: string; readonly detail: Detail }
  | { readonly kind: 'exec'; readonly clientOrderId: string; readonly outcome: string; readonly detail: string | null }
  | { readonly kind: 'reconcile'; readonly what: string; readonly subject: string; readonly text: string }
  | { readonly kind: 'gate_note'; readonly note: string }
  | { readonly kind: 'symbol_problem'; readonly symbol: string; readonly problem: SymbolProblem; readonly reason: string }
  | { readonly kind: 'integrity'; readonly source: string; readonly subject: string; readonly text: string }
  | { readonly kind: 'balance_drift'; readonly asset: string; readonly detail: Detail }
  | { readonly kind: 'trading_state'; readonly state: string }
  | { readonly kind: 'unknown' }
);

/** Why a symbol sat a cycle out (or was never traded). */
export type SymbolProblem = 'not_configured' | 'unavailable' | 'mark_failed' | 'fills_fetch_failed' | 'open_orders_failed' | 'quarantined';

/** `reason k1=v1 k2=v2` back into its parts (errors.formatReason). Tokens without `=` stay in the reason. */
export function parseReason(text: string): { reason: string; detail: Detail } {
  const words: string[] = [];
  const detail: Record<string, string> = {};
  for (const token of text.split(' ').filter((t) => t !== '')) {
    const eq = token.indexOf('=');
    if (eq > 0) detail[token.slice(0, eq)] = token.slice(eq + 1);
    else words.push(token);
  }
  return { reason: words.join(' '), detail };
}

/** `reason k=v`, as errors.formatReason writes it. */
export function describeReason(reason: string, detail: Detail): string {
  const parts = Object.entries(detail).map(([k, v]) => `${k}=${v}`);
  return [reason, ...parts].filter((p) => p !== '').join(' ');
}

/** `s4-<hash>-btctry-buy-0` → BTCTRY and buy; null for ids the bot did not make. */
export function orderIdParts(clientOrderId: string): { symbol: string; side: 'buy' | 'sell' } | null {
  if (!isOwnClientOrderId(clientOrderId)) return null;
  const [, , symbol, side] = clientOrderId.split('-');
  return { symbol: symbol!.toUpperCase(), side: side as 'buy' | 'sell' };
}

const LIFECYCLE = new Set(['deduped', 'invalid_intent', 'unresolved_order', 'cancel_needs_exchange_id']);
const GATE_NOTES = new Set(['kill_switch_active', 'live_trading_ack_missing']);
const SYMBOL_PROBLEMS: Readonly<Record<string, SymbolProblem>> = {
  symbol_not_configured: 'not_configured',
  symbol_unavailable: 'unavailable',
  mark_failed: 'mark_failed',
  fills_fetch_failed: 'fills_fetch_failed',
  reconcile_skipped: 'open_orders_failed',
  quarantined: 'quarantined',
};
/** Alerts that mean the books may be wrong (counted by btcbot_integrity_alerts, sent as alerts). */
const INTEGRITY = new Set(['integrity', 'fee_conversion_missing', 'duplicate_fill_conflict', 'reconcile_anomaly']);

/** `a:b:c` split on the first `n` colons; the last part keeps any further colons. */
function split(raw: string, n: number): string[] {
  const parts: string[] = [];
  let rest = raw;
  for (let i = 0; i < n; i++) {
    const at = rest.indexOf(':');
    if (at < 0) break;
    parts.push(rest.slice(0, at));
    rest = rest.slice(at + 1);
  }
  parts.push(rest);
  return parts;
}

/** One decision or alert string, typed. Never throws: what it does not recognise is `unknown`. */
export function parseEntry(raw: string): AuditEntry {
  if (typeof raw !== 'string') return { raw: String(raw), kind: 'unknown' };
  const unknown: AuditEntry = { raw, kind: 'unknown' };
  if (GATE_NOTES.has(raw)) return { raw, kind: 'gate_note', note: raw };
  const colon = raw.indexOf(':');
  if (colon <= 0) return unknown;
  const tag = raw.slice(0, colon);
  const rest = raw.slice(colon + 1);
  if (rest === '') return unknown;
  switch (tag) {
    case 'policy_block': {
      const [reason, by] = split(rest, 1);
      return { raw, kind: 'policy_block', reason: reason!, by: by === 'worker' ? 'worker' : 'starter' };
    }
    case 'halted':
      return { raw, kind: 'halted', reason: rest };
    case 'skipped': {
      const [reason, detail] = split(rest, 1);
      return { raw, kind: 'skipped', reason: reason!, detail: detail ?? '' };
    }
    case 'failed_at':
      return { raw, kind: 'failed_at', step: rest };
    case 'canary_skip': {
      const [symbol, text] = split(rest, 1);
      if (text === undefined) return unknown;
      return { raw, kind: 'canary_skip', symbol: symbol!, ...parseReason(text) };
    }
    case 'submit':
    case 'cancel': {
      const [ref, text] = split(rest, 1);
      if (text === undefined) return unknown;
      return { raw, kind: 'planned', action: tag, ref: ref!, ...parseReason(text) };
    }
    case 'risk': {
      const [cid, text] = split(rest, 1);
      if (text === undefined) return unknown;
      return { raw, kind: 'risk', clientOrderId: cid!, ...parseReason(text) };
    }
    case 'exec': {
      const [cid, outcome, detail] = split(rest, 2);
      if (outcome === undefined) return unknown;
      return { raw, kind: 'exec', clientOrderId: cid!, outcome, detail: detail ?? null };
    }
    case 'reconcile':
    case 'reconcile_pending': {
      const [subject, text] = split(rest, 1);
      return { raw, kind: 'reconcile', what: tag, subject: subject!, text: text ?? '' };
    }
    case 'trading_state':
      return { raw, kind: 'trading_state', state: rest };
    case 'balance_drift': {
      const { reason: asset, detail } = parseReason(rest);
      return { raw, kind: 'balance_drift', asset, detail };
    }
  }
  if (LIFECYCLE.has(tag)) return { raw, kind: 'lifecycle', decision: tag, clientOrderId: rest };
  if (INTEGRITY.has(tag)) {
    const [subject] = split(rest, 1);
    return { raw, kind: 'integrity', source: tag, subject: tag === 'integrity' ? rest : subject!, text: rest };
  }
  const problem = SYMBOL_PROBLEMS[tag];
  if (problem !== undefined) {
    const [symbol, reason] = split(rest, 1);
    return { raw, kind: 'symbol_problem', symbol: symbol!, problem, reason: reason ?? '' };
  }
  return unknown;
}

export function severityOf(e: AuditEntry): Severity {
  switch (e.kind) {
    case 'gate_note':
      return 'note';
    case 'integrity':
    case 'balance_drift':
      return 'integrity';
    case 'symbol_problem':
      return e.problem === 'quarantined' ? 'integrity' : e.problem === 'not_configured' ? 'note' : 'warning';
    default:
      return 'warning';
  }
}

/** The alerts of a cycle that may mean wrong books: what canary step 5 asks the operator to watch. */
export function integrityAlerts(audit: Pick<AuditView, 'alerts' | 'decisions'>): string[] {
  return [...audit.alerts, ...audit.decisions].filter((raw) => severityOf(parseEntry(raw)) === 'integrity');
}

/** Where a symbol stands after a cycle: can it trade, and if not, why. */
export type SymbolState = 'active' | 'reduce_only' | 'quarantined' | 'sitting_out' | 'halted' | 'blocked' | 'not_traded' | 'unknown';
export const SYMBOL_STATES: readonly SymbolState[] = ['active', 'reduce_only', 'quarantined', 'sitting_out', 'halted', 'blocked', 'not_traded', 'unknown'];

/** The cycle's trading state from its plan step; null when the cycle never planned. */
export type TradingState = 'active' | 'reduce_only' | 'halted';

export interface ActionStory {
  readonly clientOrderId: string;
  readonly symbol: string | null;
  readonly action: 'submit' | 'cancel' | null;
  readonly side: string | null;
  readonly price: string | null;
  readonly qty: string | null;
  /** Why it was planned (canary, stale, replace, ...), when the audit says. */
  readonly reason: string | null;
  /** Risk's verdict: `accepted`, or the limit that hit with its numbers. */
  readonly risk: string | null;
  readonly outcome: string | null;
  readonly outcomeDetail: string | null;
}

export interface SymbolStory {
  readonly symbol: string;
  readonly state: SymbolState;
  /** One line: what happened, or why nothing did. */
  readonly why: string;
  readonly actions: readonly ActionStory[];
  readonly skips: readonly string[];
  readonly problems: readonly string[];
}

export interface CycleStory {
  readonly cycleId: string;
  readonly mode: string;
  readonly outcome: string;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly trigger: string | null;
  readonly gates: {
    readonly killSwitch: boolean | null;
    readonly dryRun: boolean | null;
    readonly liveMode: boolean | null;
    readonly block: { readonly reason: string; readonly by: 'starter' | 'worker' } | null;
    readonly notes: readonly string[];
  };
  readonly tradingState: TradingState | null;
  readonly halt: string | null;
  readonly skipped: string | null;
  readonly symbols: readonly SymbolStory[];
  readonly actions: readonly ActionStory[];
  readonly reconcile: readonly string[];
  readonly alerts: ReadonlyArray<{ readonly text: string; readonly severity: Severity }>;
  readonly error: { readonly errorClass: string; readonly message: string; readonly step: string | null } | null;
  /** Non-zero counters. */
  readonly counts: Readonly<Record<string, number>>;
  /** Strings this version does not understand, shown as they are. */
  readonly unknown: readonly string[];
}

const REDUCE_ONLY_REASONS = new Set(['max_daily_loss', 'max_drawdown', 'fee_conversion_missing', 'balance_drift']);

const bool = (v: unknown): boolean | null => (typeof v === 'boolean' ? v : null);

/** The trading state the cycle's plan step reached; null when the cycle never got there. */
export function tradingStateOf(audit: Pick<AuditView, 'alerts' | 'counts'>): TradingState | null {
  for (const raw of audit.alerts) {
    const e = parseEntry(raw);
    if (e.kind === 'trading_state' && (e.state === 'reduce_only' || e.state === 'halted')) return e.state;
  }
  // The plan step always adds its counters (zero or not); without them the cycle never planned.
  return 'planned_actions' in audit.counts ? 'active' : null;
}

export function cycleStory(audit: AuditView): CycleStory {
  const entries = [...audit.decisions, ...audit.alerts].map(parseEntry);
  const envelope = audit.envelope ?? {};
  const requested = Array.isArray(envelope.symbols) ? envelope.symbols.filter((s): s is string => typeof s === 'string') : [];

  type Draft = { -readonly [K in keyof ActionStory]?: ActionStory[K] } & { clientOrderId: string };
  const actions = new Map<string, Draft>();
  const action = (cid: string) => {
    let a = actions.get(cid);
    if (!a) actions.set(cid, (a = { clientOrderId: cid }));
    return a;
  };
  const skips = new Map<string, string[]>();
  const problems = new Map<string, Array<{ problem: SymbolProblem; text: string }>>();
  const lifecycle = new Map<string, string[]>();
  const push = <T>(m: Map<string, T[]>, k: string, v: T) => m.set(k, [...(m.get(k) ?? []), v]);
  let block: CycleStory['gates']['block'] = null;
  let halt: string | null = null;
  let skipped: string | null = null;
  let failedStep: string | null = null;
  const notes: string[] = [];
  const reconcile: string[] = [];
  const unknown: string[] = [];

  for (const e of entries) {
    switch (e.kind) {
      case 'policy_block':
        block = { reason: e.reason, by: e.by };
        break;
      case 'halted':
        halt = e.reason;
        break;
      case 'skipped':
        skipped = describeReason(e.reason, e.detail === '' ? {} : { holder: e.detail });
        break;
      case 'failed_at':
        failedStep = e.step;
        break;
      case 'canary_skip':
        push(skips, e.symbol, describeReason(e.reason, e.detail));
        break;
      case 'planned': {
        const a = action(e.ref);
        const { symbol, side, price, qty, ...rest } = e.detail;
        Object.assign(a, { action: e.action, reason: describeReason(e.reason, rest) });
        if (symbol !== undefined) a.symbol = symbol;
        if (side !== undefined) a.side = side;
        if (price !== undefined) a.price = price;
        if (qty !== undefined) a.qty = qty;
        break;
      }
      case 'risk':
        action(e.clientOrderId).risk = describeReason(e.reason, e.detail);
        break;
      case 'exec':
        Object.assign(action(e.clientOrderId), { outcome: e.outcome, outcomeDetail: e.detail });
        break;
      case 'lifecycle': {
        const parts = orderIdParts(e.clientOrderId);
        if (parts) push(lifecycle, parts.symbol, `${e.decision} ${e.clientOrderId}`);
        else reconcile.push(e.raw);
        break;
      }
      case 'reconcile':
        reconcile.push(e.raw);
        break;
      case 'gate_note':
        notes.push(e.note);
        break;
      case 'symbol_problem':
        push(problems, e.symbol, { problem: e.problem, text: e.raw });
        break;
      case 'unknown':
        unknown.push(e.raw);
        break;
      default:
        break;
    }
  }

  const actionStories: ActionStory[] = [...actions.values()].map((a) => {
    const parts = orderIdParts(a.clientOrderId);
    return {
      clientOrderId: a.clientOrderId,
      symbol: a.symbol ?? parts?.symbol ?? null,
      action: a.action ?? (a.outcome == null ? null : CANCEL_OUTCOMES.has(a.outcome) ? 'cancel' : 'submit'),
      side: a.side ?? parts?.side ?? null,
      price: a.price ?? null,
      qty: a.qty ?? null,
      reason: a.reason ?? null,
      risk: a.risk ?? null,
      outcome: a.outcome ?? null,
      outcomeDetail: a.outcomeDetail ?? null,
    };
  });

  const tradingState = tradingStateOf(audit);
  const error = audit.errorClass !== null && audit.outcome === 'failed'
    ? { errorClass: audit.errorClass, message: audit.errorMessage ?? '', step: failedStep }
    : null;
  const symbolNames = [...new Set([
    ...requested, ...skips.keys(), ...problems.keys(), ...lifecycle.keys(),
    ...actionStories.map((a) => a.symbol).filter((s): s is string => s !== null),
  ])].sort();

  const cycleWide = (): { state: SymbolState; why: string } | null => {
    if (audit.outcome === 'blocked') {
      return { state: 'blocked', why: `cycle blocked${block ? ` (${block.reason}${block.by === 'worker' ? ', by the worker' : ''})` : ''}: ${audit.errorMessage ?? 'policy'}` };
    }
    if (audit.outcome === 'skipped') return { state: 'unknown', why: `cycle skipped: ${audit.errorMessage ?? skipped ?? 'another cycle was running'}` };
    if (halt !== null && tradingState === null) return { state: 'halted', why: `trading halted: ${halt}` };
    if (audit.outcome === 'failed' && tradingState === null) {
      return { state: 'unknown', why: `cycle failed${failedStep ? ` at ${failedStep}` : ''} before planning: ${audit.errorClass ?? 'Error'}` };
    }
    return null;
  };

  const symbols: SymbolStory[] = symbolNames.map((symbol) => {
    const mine = actionStories.filter((a) => a.symbol === symbol);
    const mySkips = skips.get(symbol) ?? [];
    const myProblems = problems.get(symbol) ?? [];
    const verdict = cycleWide() ?? symbolVerdict(symbol, { actions: mine, skips: mySkips, problems: myProblems, lifecycle: lifecycle.get(symbol) ?? [], tradingState, halt });
    return { symbol, ...verdict, actions: mine, skips: mySkips, problems: myProblems.map((p) => p.text) };
  });

  return {
    cycleId: audit.cycleId,
    mode: audit.mode,
    outcome: audit.outcome,
    startedAt: audit.startedAt,
    finishedAt: audit.finishedAt,
    trigger: typeof envelope.trigger === 'string' ? envelope.trigger : null,
    gates: { killSwitch: bool(envelope.kill_switch), dryRun: bool(envelope.dry_run), liveMode: bool(envelope.live_mode), block, notes },
    tradingState,
    halt,
    skipped,
    symbols,
    actions: actionStories,
    reconcile,
    alerts: audit.alerts.map((text) => ({ text, severity: severityOf(parseEntry(text)) })),
    error,
    counts: Object.fromEntries(Object.entries(audit.counts).filter(([, v]) => v !== 0)),
    unknown,
  };
}

const CANCEL_OUTCOMES = new Set(['cancel_requested', 'canceled', 'already_closed', 'cancel_failed']);
const PLACED = new Set(['submitted', 'simulated']);

/** `buy 0.001 @ 3400000` from what the audit knows of an action. */
export function actionLine(a: ActionStory): string {
  const what = a.action === 'cancel' ? `cancel ${a.side ?? ''}`.trim() : (a.side ?? a.action ?? 'order');
  const size = a.qty !== null && a.price !== null ? ` ${a.qty} @ ${a.price}` : a.price !== null ? ` @ ${a.price}` : '';
  return `${what}${size}`;
}

function symbolVerdict(
  symbol: string,
  s: {
    actions: readonly ActionStory[];
    skips: readonly string[];
    problems: ReadonlyArray<{ problem: SymbolProblem; text: string }>;
    lifecycle: readonly string[];
    tradingState: TradingState | null;
    halt: string | null;
  },
): { state: SymbolState; why: string } {
  const problem = (p: SymbolProblem) => s.problems.find((x) => x.problem === p);
  const q = problem('quarantined');
  if (q) return { state: 'quarantined', why: `quarantined, no new orders: ${q.text}` };
  if (problem('not_configured')) return { state: 'not_traded', why: `not in the worker's SYMBOLS` };
  const sitting = s.problems.find((p) => p.problem !== 'not_configured');
  if (sitting) return { state: 'sitting_out', why: `sat this cycle out: ${sitting.text}` };

  const base: SymbolState = s.tradingState === 'reduce_only' ? 'reduce_only' : s.tradingState === 'halted' || s.halt !== null ? 'halted' : 'active';
  const placed = s.actions.filter((a) => a.outcome !== null && PLACED.has(a.outcome));
  if (placed.length > 0) {
    return { state: base, why: placed.map((a) => `${actionLine(a)} ${a.outcome} (${a.clientOrderId})`).join('; ') };
  }
  const rejected = s.actions.find((a) => a.risk !== null && !a.risk.startsWith('accepted'));
  if (rejected) {
    const reason = rejected.risk!.split(' ')[0]!;
    const state: SymbolState = reason === 'halted' ? 'halted' : REDUCE_ONLY_REASONS.has(reason) ? 'reduce_only' : base;
    return { state, why: `${actionLine(rejected)} rejected by risk: ${rejected.risk}` };
  }
  const other = s.actions.find((a) => a.outcome !== null);
  if (other) return { state: base, why: `${actionLine(other)} ${other.outcome}${other.outcomeDetail ? ` (${other.outcomeDetail})` : ''}` };
  if (s.skips.length > 0) {
    const skip = s.skips[0]!;
    return { state: base, why: skip.startsWith('open_buy_exists') ? `waiting on its open buy: ${skip}` : `no order: ${skip}` };
  }
  if (s.lifecycle.length > 0) return { state: base, why: `no new order: ${s.lifecycle.join(', ')}` };
  if (s.tradingState === null) return { state: 'unknown', why: 'the cycle did not plan' };
  return { state: base, why: base === 'active' ? 'nothing planned' : `nothing planned (${base})` };
}
