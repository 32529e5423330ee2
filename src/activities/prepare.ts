// First activity of a cycle: the worker's config and gates, the persisted halt, the account lease.
import { parseTradingConfig, toGateSettings } from '../domain/config.js';
import { tradingConfigToWire } from '../domain/wire.js';
import { acquireLease } from '../store/leases.js';
import { getHalt } from '../store/runtime.js';
import type { PrepareInput, PrepareResult } from '../workflows/types.js';
import { CYCLE_LEASE_TTL_MS, DEFAULT_ACCOUNT_ID, type ActivityDeps } from './deps.js';

export function prepareActivities(deps: ActivityDeps) {
  const accountId = deps.accountId ?? DEFAULT_ACCOUNT_ID;
  return {
    async prepareCycle({ cycleId }: PrepareInput): Promise<PrepareResult> {
      const config = parseTradingConfig(deps.env ?? {});
      const halt = await getHalt(deps.pool);
      const lease = halt ? ({ acquired: true } as const) : await acquireLease(deps.pool, accountId, cycleId, CYCLE_LEASE_TTL_MS);
      return {
        config: tradingConfigToWire(config),
        workerGates: toGateSettings(config),
        halt,
        lease: lease.acquired ? { acquired: true } : { acquired: false, holder: lease.holder },
        accountId,
        hasCredentials: deps.hasCredentials ?? false,
      };
    },
  };
}
