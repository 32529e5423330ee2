// `status`: alerts that reached no channel get a line of their own, naming the newest and where to look.
import { describe, expect, test } from 'vitest';
import { formatUndeliveredAlerts, type OperatorView } from '../../../src/cli/status-operator.js';

const view = (alertsUndelivered: OperatorView['alertsUndelivered']): OperatorView => ({
  lastOk: { live: null, dry_run: null }, equity: { live: null, dry_run: null }, botEquityDefinition: '', symbols: [], alertsUndelivered,
});

describe('status: undelivered alerts', () => {
  test('nothing to say when every alert was delivered', () => {
    expect(formatUndeliveredAlerts(view({ failed: 0, unknown: 0, newest: null }))).toBeNull();
  });

  test('failed and unknown told apart, with the newest and its cycle', () => {
    expect(formatUndeliveredAlerts(view({
      failed: 2, unknown: 1, newest: { sourceId: 'cycle-7', kind: 'cycle_failed', channel: 'webhook', error: 'HTTP 500', at: '2026-12-02T10:00:00.000Z' },
    }))).toBe(
      'ALERTS NOT DELIVERED: 2 failed (every delivery attempt failed; not sent again), 1 unknown (an attempt stopped while sending; it may have arrived); ' +
        'newest: cycle_failed on webhook at 2026-12-02T10:00:00.000Z: HTTP 500 (`btcbot cycle show cycle-7`)',
    );
  });
});
