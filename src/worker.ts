// The worker process: Temporal connection, activities, task queue, graceful shutdown.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Context as ActivityContext } from '@temporalio/activity';
import { NativeConnection, Worker, type ActivityInterceptors, type WorkerOptions } from '@temporalio/worker';
import { createActivities, type ActivityDeps } from './activities/index.js';
import type { ActivityTracker } from './observability/health.js';
import { withProgress } from './progress.js';

const compiled = !import.meta.url.endsWith('.ts');

/** Path of the workflow entry point, .ts under tsx/vitest and .js when compiled. */
export const workflowsPath = fileURLToPath(new URL(`./workflows/index${compiled ? '.js' : '.ts'}`, import.meta.url));

/** The bundle `npm run build` writes (and checks against the committed histories) next to dist/worker.js. */
export const prebuiltBundlePath = fileURLToPath(new URL('./workflow-bundle.js', import.meta.url));

/**
 * The workflow code a worker runs. Compiled, it loads the prebuilt bundle: no webpack at start, and
 * the code that runs is the code the build checked (Temporal's recommended production setup). From
 * the sources (tsx, vitest) it bundles them at start, so an edit takes effect without a build.
 */
function workflowCode(bundle: WorkerOptions['workflowBundle'] | undefined): Pick<WorkerOptions, 'workflowBundle' | 'workflowsPath'> {
  if (bundle) return { workflowBundle: bundle };
  if (!compiled) return { workflowsPath };
  if (!existsSync(prebuiltBundlePath)) throw new Error(`no workflow bundle at ${prebuiltBundlePath}: run \`npm run build\``);
  return { workflowBundle: { codePath: prebuiltBundlePath } };
}

export interface CycleWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  deps: ActivityDeps;
  /** A prebuilt bundle (tests bundle once per file); otherwise the worker bundles workflowsPath. */
  workflowBundle?: WorkerOptions['workflowBundle'];
  /** Payload encryption (see src/codec.ts); the same converter must be used by every client. */
  dataConverter?: WorkerOptions['dataConverter'];
  /** Shown to Temporal as the pollers' identity (`btcbot doctor` reads the configuration hash in it). */
  identity?: string;
  /** Sees every activity start and finish, for the health endpoint (src/observability/health.ts). */
  activityTracker?: ActivityTracker;
}

/** On SIGINT/SIGTERM: stop polling, let in-flight activities finish for the grace time; give up
 *  after the force time. A process manager must wait at least the force time (compose: stop_grace_period). */
export const SHUTDOWN_GRACE_TIME = '10s';
export const SHUTDOWN_FORCE_TIME = '30s';

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
    ...workflowCode(opts.workflowBundle),
    activities: opts.activityTracker ? opts.activityTracker.track(createActivities(opts.deps)) : createActivities(opts.deps),
    interceptors: { activity: [heartbeating] },
    maxHeartbeatThrottleInterval: HEARTBEAT_THROTTLE,
    ...(opts.dataConverter ? { dataConverter: opts.dataConverter } : {}),
    ...(opts.identity ? { identity: opts.identity } : {}),
    maxCachedWorkflows: 100,
    maxConcurrentActivityTaskExecutions: 20,
    shutdownGraceTime: SHUTDOWN_GRACE_TIME,
    shutdownForceTime: SHUTDOWN_FORCE_TIME,
  });
}
