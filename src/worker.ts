// The worker process: Temporal connection, activities, task queue, graceful shutdown.
import { fileURLToPath } from 'node:url';
import type { Context as ActivityContext } from '@temporalio/activity';
import { NativeConnection, Worker, type ActivityInterceptors, type WorkerOptions } from '@temporalio/worker';
import { createActivities, type ActivityDeps } from './activities/index.js';
import { withProgress } from './progress.js';

/** Path of the workflow entry point, .ts under tsx/vitest and .js when compiled. */
export const workflowsPath = fileURLToPath(
  new URL(`./workflows/index${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url),
);

export interface CycleWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  deps: ActivityDeps;
  /** A prebuilt bundle (tests bundle once per file); otherwise the worker bundles workflowsPath. */
  workflowBundle?: WorkerOptions['workflowBundle'];
  /** Payload encryption (see src/codec.ts); the same converter must be used by every client. */
  dataConverter?: WorkerOptions['dataConverter'];
}

/**
 * Heartbeats come from the work (src/progress.ts): each activity reports the steps it reaches, and
 * the bounded waits inside it (rate-limit sleeps, HTTP requests) keep reporting while they last,
 * with what they wait for. So a killed worker's activity moves to a live worker within the
 * heartbeat timeout (seconds), an activity stuck outside a known wait is timed out, and a
 * cancellation (a halt, a timeout) reaches a waiting write: heartbeats are the only way it can.
 * Retries are safe by construction (see src/activities/execution.ts).
 */
function heartbeating(ctx: ActivityContext): ActivityInterceptors {
  return {
    inbound: {
      execute(input, next) {
        return withProgress({ beat: (details) => ctx.heartbeat(details) }, () => {
          ctx.heartbeat({ step: 'started', activity: ctx.info.activityType, attempt: ctx.info.attempt });
          return next(input);
        });
      },
    },
  };
}

/**
 * Heartbeats leave at most this often (the SDK's default is 80 % of the heartbeat timeout, 8 s): a
 * halt's cancellation reaches a waiting write within about a second.
 */
export const HEARTBEAT_THROTTLE = '1s';

export function createCycleWorker(opts: CycleWorkerOptions): Promise<Worker> {
  return Worker.create({
    connection: opts.connection,
    namespace: opts.namespace,
    taskQueue: opts.taskQueue,
    ...(opts.workflowBundle ? { workflowBundle: opts.workflowBundle } : { workflowsPath }),
    activities: createActivities(opts.deps),
    interceptors: { activity: [heartbeating] },
    maxHeartbeatThrottleInterval: HEARTBEAT_THROTTLE,
    ...(opts.dataConverter ? { dataConverter: opts.dataConverter } : {}),
    maxCachedWorkflows: 100,
    maxConcurrentActivityTaskExecutions: 20,
    // On SIGINT/SIGTERM: stop polling, let in-flight activities finish for up to 10 s.
    shutdownGraceTime: '10s',
    shutdownForceTime: '30s',
  });
}
