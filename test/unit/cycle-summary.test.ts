// What `btcbot stage4-run` prints: each symbol that failed a step, with its cause, on its own line.
import { describe, expect, it } from 'vitest';
import { formatCycleSummary } from '../../src/cli/cycles.js';
import { formatSymbolFailure, type SymbolFailure } from '../../src/domain/failures.js';

describe('the cycle summary', () => {
  it('names every failed symbol with the step, the error class and the message; other notes stay on the notes line', () => {
    const failure: SymbolFailure = {
      symbol: 'BTCTRY', step: 'fills', errorClass: 'MalformedResponseError', message: 'GET /api/v1/users/transactions/trade HTTP 200: empty body',
    };
    const text = formatCycleSummary({
      workflowId: 'cycle-x', deduped: false, failure: null,
      result: {
        cycleId: 'cycle-x', mode: 'live', outcome: 'ok', blockReason: null, message: null, counts: { submitted: 1 },
        notes: ['opening_inferred:ETHTRY qty=0 balance=0 fills_net=0 mark=120000', formatSymbolFailure(failure)], symbolFailures: [failure], auditRecorded: true,
      },
    });
    expect(text).toMatch(/^\s+failed\s+BTCTRY fills: MalformedResponseError: GET \/api\/v1\/users\/transactions\/trade HTTP 200: empty body$/m);
    expect(text).toMatch(/^\s+notes\s+opening_inferred:ETHTRY qty=0 balance=0 fills_net=0 mark=120000$/m);
  });
});
