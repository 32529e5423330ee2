// The four-gate safety model (stage4-spec "Safety model"; original behaviour §5 and §9.1).
// Pure: imported by the workflow (first step of every cycle) and by every write activity.

export const LIVE_TRADING_ACK_PHRASE = 'I_UNDERSTAND';

export interface GateSettings {
  killSwitch: boolean;
  dryRun: boolean;
  liveTrading: boolean;
  /** Must equal LIVE_TRADING_ACK_PHRASE exactly (case-sensitive) to arm live trading. */
  liveTradingAck: string | null;
}

export type BlockReason = 'kill_switch' | 'dry_run' | 'live_not_armed';

/** The operator-facing messages, verbatim from the original CLI. */
export const BLOCK_MESSAGES: Readonly<Record<BlockReason, string>> = {
  kill_switch: 'KILL_SWITCH=true blocks side effects',
  dry_run: 'DRY_RUN=true blocks side effects',
  live_not_armed:
    'Live trading is not armed; set LIVE_TRADING=true and LIVE_TRADING_ACK=I_UNDERSTAND',
};

export type TradingMode = 'live' | 'dry_run';

export type GateDecision =
  | { readonly outcome: 'run'; readonly mode: 'live'; readonly notes: readonly string[] }
  | { readonly outcome: 'run'; readonly mode: 'dry_run'; readonly notes: readonly string[] }
  | {
      readonly outcome: 'blocked';
      readonly reason: BlockReason;
      readonly message: string;
    };

export function isLiveArmed(s: GateSettings): boolean {
  return s.liveTrading && s.liveTradingAck === LIVE_TRADING_ACK_PHRASE;
}

/** First failing gate, checked in the original's order: kill switch, dry run, arming. */
export function blockReason(s: GateSettings): BlockReason | null {
  if (s.killSwitch) return 'kill_switch';
  if (s.dryRun) return 'dry_run';
  if (!isLiveArmed(s)) return 'live_not_armed';
  return null;
}

/** True only for the exact four-gate combination that permits real exchange writes. */
export function liveWritesAllowed(s: GateSettings): boolean {
  return blockReason(s) === null;
}

/**
 * Decide the mode of one cycle.
 *
 * `dryRunRequested` (the CLI's --dry-run) is OR-ed into DRY_RUN. A dry-run cycle always runs:
 * it never writes to the exchange, so no gate can be bypassed by it; the gates that would have
 * blocked a live run are reported as notes (this gives KILL_SWITCH in dry-run explicit
 * semantics, unlike the original, whose dry-run with the default kill switch did nothing).
 * A non-dry-run cycle runs live only when all four gates agree; otherwise it is blocked with
 * the first failing gate's reason.
 */
export function evaluateGates(settings: GateSettings, dryRunRequested = false): GateDecision {
  const effective: GateSettings = { ...settings, dryRun: settings.dryRun || dryRunRequested };
  if (effective.dryRun) {
    const notes: string[] = [];
    if (effective.killSwitch) notes.push('kill_switch_active');
    if (effective.liveTrading && !isLiveArmed(effective)) notes.push('live_trading_ack_missing');
    return { outcome: 'run', mode: 'dry_run', notes };
  }
  const reason = blockReason(effective);
  if (reason !== null) return { outcome: 'blocked', reason, message: BLOCK_MESSAGES[reason] };
  return { outcome: 'run', mode: 'live', notes: [] };
}
