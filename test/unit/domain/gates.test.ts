import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  BLOCK_MESSAGES,
  LIVE_TRADING_ACK_PHRASE,
  blockReason,
  evaluateGates,
  isLiveArmed,
  liveWritesAllowed,
  type GateSettings,
} from '../../../src/domain/gates.js';

const ARMED: GateSettings = { killSwitch: false, dryRun: false, liveTrading: true, liveTradingAck: 'I_UNDERSTAND' };

describe('gates', () => {
  it('the armed combination runs live with no notes', () => {
    expect(evaluateGates(ARMED)).toEqual({ outcome: 'run', mode: 'live', notes: [] });
    expect(liveWritesAllowed(ARMED)).toBe(true);
  });

  it('production defaults (kill on, dry on, live off) allow no live write', () => {
    const defaults: GateSettings = { killSwitch: true, dryRun: true, liveTrading: false, liveTradingAck: null };
    expect(liveWritesAllowed(defaults)).toBe(false);
    expect(blockReason(defaults)).toBe('kill_switch');
  });

  it('kill switch is checked first and blocks with the original message', () => {
    const d = evaluateGates({ ...ARMED, killSwitch: true });
    expect(d).toEqual({ outcome: 'blocked', reason: 'kill_switch', message: 'KILL_SWITCH=true blocks side effects' });
  });

  it('live trading without the exact ack is not armed and blocks with the arming message', () => {
    const d = evaluateGates({ ...ARMED, liveTradingAck: 'i_understand' });
    expect(d).toEqual({
      outcome: 'blocked',
      reason: 'live_not_armed',
      message: 'Live trading is not armed; set LIVE_TRADING=true and LIVE_TRADING_ACK=I_UNDERSTAND',
    });
  });

  it('the ack alone does not arm when LIVE_TRADING is false', () => {
    expect(isLiveArmed({ ...ARMED, liveTrading: false })).toBe(false);
    expect(blockReason({ ...ARMED, liveTrading: false })).toBe('live_not_armed');
  });

  it('DRY_RUN=true blocks live writes with reason dry_run when kill switch is off', () => {
    expect(blockReason({ ...ARMED, dryRun: true })).toBe('dry_run');
    expect(BLOCK_MESSAGES.dry_run).toBe('DRY_RUN=true blocks side effects');
  });

  it('a requested dry run always runs in dry_run mode and reports the kill switch as a note (defect 23)', () => {
    const d = evaluateGates({ ...ARMED, killSwitch: true }, true);
    expect(d).toEqual({ outcome: 'run', mode: 'dry_run', notes: ['kill_switch_active'] });
  });

  it('LIVE_TRADING without ack in dry run is a note, not an exception (defect 23)', () => {
    const d = evaluateGates({ killSwitch: false, dryRun: true, liveTrading: true, liveTradingAck: null });
    expect(d).toEqual({ outcome: 'run', mode: 'dry_run', notes: ['live_trading_ack_missing'] });
  });

  it('the --dry-run flag turns an armed configuration into a dry run', () => {
    expect(evaluateGates(ARMED, true)).toEqual({ outcome: 'run', mode: 'dry_run', notes: [] });
  });

  describe('full matrix: 2 × 2 × 2 × 4 acks × 2 flags = 64 combinations', () => {
    const acks: (string | null)[] = [null, '', 'i_understand', LIVE_TRADING_ACK_PHRASE];
    const rows: [boolean, boolean, boolean, string | null, boolean][] = [];
    for (const k of [false, true])
      for (const d of [false, true])
        for (const l of [false, true])
          for (const a of acks) for (const f of [false, true]) rows.push([k, d, l, a, f]);

    it.each(rows)('kill=%s dry=%s live=%s ack=%j flag=%s', (killSwitch, dryRun, liveTrading, liveTradingAck, flag) => {
      const s: GateSettings = { killSwitch, dryRun, liveTrading, liveTradingAck };
      const decision = evaluateGates(s, flag);
      const armed = liveTrading && liveTradingAck === 'I_UNDERSTAND';
      if (dryRun || flag) {
        const notes = [...(killSwitch ? ['kill_switch_active'] : []), ...(liveTrading && !armed ? ['live_trading_ack_missing'] : [])];
        expect(decision).toEqual({ outcome: 'run', mode: 'dry_run', notes });
      } else if (killSwitch) {
        expect(decision).toMatchObject({ outcome: 'blocked', reason: 'kill_switch' });
      } else if (!armed) {
        expect(decision).toMatchObject({ outcome: 'blocked', reason: 'live_not_armed' });
      } else {
        expect(decision).toEqual({ outcome: 'run', mode: 'live', notes: [] });
      }
      expect(liveWritesAllowed(s)).toBe(!killSwitch && !dryRun && armed);
    });
  });

  it('property: a live write is allowed only for the exact four-gate combination', () => {
    const settings = fc.record({
      killSwitch: fc.boolean(),
      dryRun: fc.boolean(),
      liveTrading: fc.boolean(),
      liveTradingAck: fc.option(fc.oneof(fc.string(), fc.constant('I_UNDERSTAND'), fc.constant('I_UNDERSTAND ')), { nil: null }),
    });
    fc.assert(
      fc.property(settings, fc.boolean(), (s, flag) => {
        const exact = !s.killSwitch && !s.dryRun && s.liveTrading && s.liveTradingAck === 'I_UNDERSTAND';
        expect(liveWritesAllowed(s)).toBe(exact);
        const d = evaluateGates(s, flag);
        expect(d.outcome === 'run' && d.mode === 'live').toBe(exact && !flag);
      }),
      { numRuns: 2000 },
    );
  });
});
