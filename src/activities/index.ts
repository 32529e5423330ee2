// Activities: one thin function per cycle step. They call the exchange and the store, call the
// domain, and return small plain data. Built from injected dependencies.
import { accountingActivities } from './accounting.js';
import { alertActivities } from './alerts.js';
import { auditActivities } from './audit.js';
import type { ActivityDeps } from './deps.js';
import { executionActivities } from './execution.js';
import { haltActivities } from './halt.js';
import { marketActivities } from './market.js';
import { paperActivities } from './paper.js';
import { prepareActivities } from './prepare.js';
import { reconcileActivities } from './reconcile.js';
import { guardWrites } from './write-guard.js';

export type { ActivityDeps } from './deps.js';

export function createActivities(deps: ActivityDeps) {
  // Dry runs take the paper path through the market and accounting steps (./paper.ts).
  const market = marketActivities(deps);
  const accounting = accountingActivities(deps);
  // Exchange writes are checked against the worker's own configuration, whoever scheduled them.
  return guardWrites({
    ...prepareActivities(deps),
    ...market,
    ...reconcileActivities(deps),
    ...accounting,
    ...paperActivities(deps, { ...market, ...accounting }),
    ...executionActivities(deps),
    ...haltActivities(deps),
    ...auditActivities(deps),
    ...alertActivities(deps),
  }, deps);
}
