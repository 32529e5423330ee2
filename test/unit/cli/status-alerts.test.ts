// `status`: alerts that reached no channel get a line of their own, naming the newest and where to look.
import { describe, expect, test } from 'vitest';
import { formatUndeliveredAlerts, type OperatorView } from '../../../src/cli/status-operator.js';

const view = (alertsUndelivered: OperatorView['alertsUndelivered']): OperatorView => ({
  lastOk: { live: null, dry_run: null }, equity: { live: null, dry_run: null }, botEquityDefinition: '', symbols: [], alertsUndelivered,
});

describe('status: undelivered alerts', () => {
  test('nothing to say when every alert of the window was delivered', () => {
    expect(formatUndeliveredAlerts(view({ failed: 0, rejected: 0, unknown: 0, newest: null }))).toBeNull();
  });

  test('failed, rejected and unknown told apart, with the newest and its cycle', () => {
    expect(formatUndeliveredAlerts(view({
      failed: 2, rejected: 1, unknown: 1,
      newest: { sourceId: 'cycle-7', kind: 'cycle_failed', channel: 'telegram', status: 'rejected', error: 'HTTP 400', at: '2026-12-02T10:00:00.000Z' },
    }))).toBe(
      'ALERTS NOT DELIVERED in the last 24 h: 2 failed (not delivered; retried for about 5 minutes, then left), ' +
        '1 rejected (the receiver refused it: check the chat id, token or URL), 1 unknown (an attempt stopped while sending; it may have arrived); ' +
        'newest: cycle_failed on telegram at 2026-12-02T10:00:00.000Z, rejected: HTTP 400 (`btcbot cycle show cycle-7`)',
    );
  });
});
