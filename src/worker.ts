// The worker process: Temporal connection, activities, task queue, graceful shutdown.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Context as ActivityContext } from '@temporalio/activity';
import { NativeConnection, Worker, type ActivityInterceptors, type WorkerOptions } from '@temporalio/worker';
import { createActivities, type ActivityDeps } from './activities/index.js';
import type { ActivityTracker } from './observability/health.js';

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

/** How often every activity reports liveness; the workflow's heartbeat timeout is a few of these. */
export const HEARTBEAT_INTERVAL_MS = 1_000;

/**
 * Every activity heartbeats while it runs, so when a worker dies mid-activity Temporal notices
 * within the heartbeat timeout (seconds) and retries on a live worker, instead of waiting out the
 * whole start-to-close timeout. Retries are safe by construction (see src/activities/execution.ts).
 */
function heartbeating(ctx: ActivityContext): ActivityInterceptors {
  return {
    inbound: {
      async execute(input, next) {
        const timer = setInterval(() => ctx.heartbeat(), HEARTBEAT_INTERVAL_MS);
        try {
          return await next(input);
        } finally {
          clearInterval(timer);
        }
      },
    },
  };
}

export function createCycleWorker(opts: CycleWorkerOptions): Promise<Worker> {
  return Worker.create({
    connection: opts.connection,
    namespace: opts.namespace,
    taskQueue: opts.taskQueue,
    ...workflowCode(opts.workflowBundle),
    activities: opts.activityTracker ? opts.activityTracker.track(createActivities(opts.deps)) : createActivities(opts.deps),
    interceptors: { activity: [heartbeating] },
    ...(opts.dataConverter ? { dataConverter: opts.dataConverter } : {}),
    ...(opts.identity ? { identity: opts.identity } : {}),
    maxCachedWorkflows: 100,
    maxConcurrentActivityTaskExecutions: 20,
    shutdownGraceTime: SHUTDOWN_GRACE_TIME,
    shutdownForceTime: SHUTDOWN_FORCE_TIME,
  });
}
