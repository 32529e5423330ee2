// The deployment files: docker-compose.yml, the Dockerfile, the setup scripts and .env.example.
// No Docker engine (and here no compose plugin) runs in the test environment, so the structure
// carries the weight; `docker compose config` also runs wherever the compose plugin is installed.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { parse } from 'yaml';
import { TRADING_CONFIG_VARIABLES } from '../../src/domain/config.js';
import { searchAttributeCliArgs } from '../../src/shared.js';
import { SHUTDOWN_FORCE_TIME } from '../../src/worker.js';
import { HEALTH_PATH } from '../../src/observability/health.js';
import { copies, dockerfileStages, isProduced, produced } from '../dockerfile.js';

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sourceFiles(path) : path.endsWith('.ts') ? [path] : [];
  });
}

interface Service {
  image?: string;
  build?: unknown;
  command?: string[];
  entrypoint?: string[];
  ports?: string[];
  environment?: Record<string, string>;
  env_file?: unknown;
  /** The list form means `condition: service_started` for each. */
  depends_on?: string[] | Record<string, { condition: string }>;
  volumes?: string[];
  profiles?: string[];
  network_mode?: string;
  stop_grace_period?: string;
  healthcheck?: { test?: string[]; disable?: boolean };
  init?: boolean;
}

const composeText = readFileSync('docker-compose.yml', 'utf8');
const compose = parse(composeText) as { services: Record<string, Service> };
const services = compose.services;
const svc = (name: string): Service => {
  const s = services[name];
  if (!s) throw new Error(`no service ${name} in docker-compose.yml`);
  return s;
};
const dependsOn = (s: Service): Record<string, { condition: string }> =>
  Array.isArray(s.depends_on) ? Object.fromEntries(s.depends_on.map((d) => [d, { condition: 'service_started' }])) : (s.depends_on ?? {});

/** `30s`, `1m30s`, `45s` → seconds. */
function seconds(duration: string): number {
  const m = /^(?:(\d+)m)?(?:(\d+)s)?$/.exec(duration);
  if (!m || duration === '') throw new Error(`not a duration: ${duration}`);
  return Number(m[1] ?? 0) * 60 + Number(m[2] ?? 0);
}

/** A release, optionally `@sha256:…`, not a floating tag like `16`, `1.31` or `latest`: `name:1.2.3…`,
 *  or `postgres:16.15…` (Postgres releases have two parts). */
const PINNED = /^(postgres:\d+\.\d+|[a-z0-9./_-]+:\d+\.\d+\.\d+)(-[A-Za-z0-9._-]+)?(@sha256:[0-9a-f]{64})?$/;

describe('docker-compose.yml', () => {
  test('Temporal is set up as Temporal documents for self-hosting: schema step, then the server, then the namespace', () => {
    const images = Object.values(services).map((s) => s.image ?? '');
    expect(images.some((i) => i.includes('auto-setup'))).toBe(false);
    expect(svc('temporal').image).toMatch(/^temporalio\/server:/);
    expect(svc('temporal').environment).toMatchObject({ DB: 'postgres12', POSTGRES_SEEDS: 'postgres', POSTGRES_USER: 'temporal' });
    expect(svc('temporal-schema').image).toMatch(/^temporalio\/admin-tools:/);
    expect(svc('temporal-schema').entrypoint).toEqual(['/bin/sh', '/deploy/setup-schema.sh']);
    expect(dependsOn(svc('temporal'))['temporal-schema']?.condition).toBe('service_completed_successfully');
    expect(dependsOn(svc('temporal-setup')).temporal?.condition).toBe('service_healthy');
    // The server and its tools move together.
    expect(svc('temporal').image!.split(':')[1]).toBe(svc('temporal-schema').image!.split(':')[1]);
    expect(svc('temporal-setup').image).toBe(svc('temporal-schema').image);

    const schema = readFileSync('deploy/temporal/setup-schema.sh', 'utf8');
    for (const step of ['create', 'setup-schema -v 0.0', 'update-schema -d "$dir"']) expect(schema).toContain(`--db "$db" ${step}`);
    expect(schema).toContain('for db in temporal temporal_visibility');
    expect(schema).toContain('/temporal/versioned');
    expect(schema).toContain('/visibility/versioned');
  });

  test("workers start only after the namespace and btcbot's search attributes are registered", () => {
    expect(dependsOn(svc('worker'))['temporal-setup']?.condition).toBe('service_completed_successfully');
    expect(svc('temporal-setup').entrypoint).toEqual(['/bin/sh', '/deploy/setup-namespace.sh']);
    const script = readFileSync('deploy/temporal/setup-namespace.sh', 'utf8');
    const registered = [...script.matchAll(/^register (\w+) (\w+)$/gm)].map((m) => `${m[1]}=${m[2]}`);
    const expected = searchAttributeCliArgs().filter((a) => a !== '--search-attribute');
    expect(registered.sort()).toEqual(expected.sort());
  });

  test('every image is pinned by version; refreshing and digest pinning are explained', () => {
    const images = Object.values(services).flatMap((s) => (s.image && !s.build ? [s.image] : []));
    expect(images.length).toBeGreaterThanOrEqual(4);
    for (const image of images) expect(image, image).toMatch(PINNED);
    expect(composeText).toContain('docker buildx imagetools inspect');
  });

  test('passwords are required, never defaulted; the worker connects as its own role, not the superuser or Temporal', () => {
    expect(svc('postgres').environment?.POSTGRES_PASSWORD).toMatch(/^\$\{POSTGRES_PASSWORD:\?.+\}$/);
    expect(composeText).not.toMatch(/PASSWORD:-/);
    expect(composeText).not.toMatch(/PWD:-/);

    const url = new URL(svc('worker').environment!.DATABASE_URL!.replace(/\$\{[^}]+\}/, 'pw'));
    expect(url.username).toBe('btcbot');
    expect(url.host).toBe('postgres:5432');
    expect(url.pathname).toBe('/btcbot');
    expect(svc('worker').environment!.DATABASE_URL).toContain('${BTCBOT_DB_PASSWORD:?');
    expect(svc('temporal').environment!.POSTGRES_USER).not.toBe(url.username);

    // The roles come from the roles step (test/integration/deployment.test.ts runs it for real).
    const roles = readFileSync('deploy/postgres/roles.sh', 'utf8');
    expect(roles).toMatch(/ALTER ROLE :"btcbot_user" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE/);
    expect(roles).toMatch(/ALTER ROLE :"temporal_user" LOGIN CREATEDB NOSUPERUSER NOCREATEROLE/);
    expect(svc('postgres-roles').environment?.PGPASSWORD).toMatch(/^\$\{POSTGRES_PASSWORD:\?.+\}$/);

    // The worker gets .env, but not the database passwords that are compose's.
    for (const name of ['POSTGRES_PASSWORD', 'BTCBOT_DB_PASSWORD', 'TEMPORAL_DB_PASSWORD']) expect(svc('worker').environment![name]).toBe('');
  });

  test('an existing deployment keeps its data: Postgres stays on 15 (the earlier file\'s major; pinned), the project keeps compose\'s default name, so the pgdata volume is the one it had', () => {
    expect(svc('postgres').image).toMatch(/^postgres:15\.\d+(-bookworm)?$/);
    expect((compose as { name?: string }).name).toBeUndefined();
    expect(svc('postgres').volumes).toContain('pgdata:/var/lib/postgresql/data');
  });

  test('the roles step is its own service that runs at every start, against a new or an existing database, before Temporal\'s schema and the workers', () => {
    const roles = svc('postgres-roles');
    expect(roles.image).toBe(svc('postgres').image);
    expect(roles.entrypoint).toEqual(['/bin/sh', '/deploy/roles.sh']);
    expect(roles.volumes).toContain('./deploy/postgres:/deploy:ro');
    expect(dependsOn(roles).postgres?.condition).toBe('service_healthy');
    for (const next of ['temporal-schema', 'worker']) expect(dependsOn(svc(next))['postgres-roles']?.condition, next).toBe('service_completed_successfully');
    // Not an initdb script any more: that runs only on an empty volume.
    expect(JSON.stringify(svc('postgres').volumes)).not.toContain('docker-entrypoint-initdb.d');
  });

  test('the worker is stopped gracefully: a stop grace period longer than its shutdown force time', () => {
    expect(seconds(svc('worker').stop_grace_period!)).toBeGreaterThan(seconds(SHUTDOWN_FORCE_TIME));
  });

  test('the worker reaches Temporal and Postgres by service name and defaults to the safe gates', () => {
    const env = svc('worker').environment!;
    expect(env.TEMPORAL_ADDRESS).toBe('temporal:7233');
    expect(env.KILL_SWITCH).toBe('${KILL_SWITCH:-true}');
    expect(env.DRY_RUN).toBe('${DRY_RUN:-true}');
    expect(env.LIVE_TRADING).toBe('${LIVE_TRADING:-false}');
    expect(svc('worker').build).toBe('.');
  });

  test('the rehearsal profile runs the simulator where the worker reaches it on loopback', () => {
    const sim = svc('simulator');
    expect(sim.profiles).toEqual(['rehearsal']);
    expect(sim.network_mode).toBe('service:worker');
    expect(sim.command?.slice(0, 1)).toEqual(['simulator']);
    expect(sim.image).toBe(svc('worker').image);
    // Everything else runs without the profile.
    expect(Object.entries(services).filter(([, s]) => s.profiles).map(([n]) => n)).toEqual(['simulator']);
  });

  test('published ports bind to loopback only', () => {
    const ports = Object.values(services).flatMap((s) => s.ports ?? []);
    expect(ports.length).toBeGreaterThan(0);
    for (const p of ports) expect(p).toMatch(/^127\.0\.0\.1:/);
  });

  test('docker compose config accepts the file (where the compose plugin is installed)', () => {
    // Structure first: every dependency names a service, every condition is one compose knows.
    const conditions = new Set(['service_started', 'service_healthy', 'service_completed_successfully']);
    for (const [name, s] of Object.entries(services)) {
      for (const [dep, { condition }] of Object.entries(dependsOn(s))) {
        expect(services[dep], `${name} depends on ${dep}`).toBeDefined();
        expect(conditions.has(condition), `${name}: ${condition}`).toBe(true);
        if (condition === 'service_healthy') expect(services[dep]!.healthcheck?.test, `${dep} has a healthcheck`).toBeDefined();
      }
      for (const v of s.volumes ?? []) {
        const host = v.split(':')[0]!;
        if (host.startsWith('./')) expect(existsSync(host), `${name} mounts ${host}`).toBe(true);
      }
    }
    const plugin = spawnSync('docker', ['compose', 'version'], { encoding: 'utf8' });
    if (plugin.status !== 0) return; // no compose plugin here (this machine: docker CLI only); the checks above stand
    const env = { ...process.env, POSTGRES_PASSWORD: 'x', BTCBOT_DB_PASSWORD: 'x', TEMPORAL_DB_PASSWORD: 'x', BTCTURK_BASE_URL: 'https://api.btcturk.com' };
    const config = spawnSync('docker', ['compose', '--profile', 'rehearsal', 'config', '--quiet'], { encoding: 'utf8', env });
    expect(config.status, config.stderr).toBe(0);
    const missing = spawnSync('docker', ['compose', 'config', '--quiet'], { encoding: 'utf8', env: { ...env, POSTGRES_PASSWORD: '' } });
    expect(missing.status).not.toBe(0);
    expect(missing.stderr).toContain('POSTGRES_PASSWORD');
  });
});

describe('Dockerfile', () => {
  const stages = dockerfileStages(readFileSync('Dockerfile', 'utf8'));
  const runtime = stages.at(-1)!;
  const build = stages.find((s) => s.name === 'build');

  test('a build stage compiles and checks; the runtime stage holds only the compiled output and production dependencies', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    for (const s of stages) expect(s.from, s.from).toMatch(PINNED);
    expect(build?.instructions).toContain('RUN npm run build && npm prune --omit=dev');
    const copies = runtime.instructions.filter((i) => i.startsWith('COPY'));
    expect(copies.every((c) => c.startsWith('COPY --from=build '))).toBe(true);
    const copied = copies.map((c) => c.split(/\s+/)[2]);
    expect(copied).toEqual(expect.arrayContaining(['/app/dist', '/app/bin', '/app/node_modules', '/app/package.json']));
    expect(copied.some((p) => p === '/app/src' || p?.includes('tsconfig'))).toBe(false);
    expect(runtime.instructions.join('\n')).not.toMatch(/tsx/);
  });

  test('every COPY --from=<stage> source is produced in that stage (copied into it, or made by its npm ci or npm run build)', () => {
    const outDir = /"outDir":\s*"([^"]+)"/.exec(readFileSync('tsconfig.build.json', 'utf8'))?.[1];
    expect(outDir).toBeDefined();
    const fromStages = stages.flatMap((s) => copies(s).filter((c) => c.from !== null));
    expect(fromStages.length).toBeGreaterThan(0);
    for (const copy of fromStages) {
      const stage = stages.find((s) => s.name === copy.from);
      expect(stage, `COPY --from=${copy.from}`).toBeDefined();
      const made = produced(stage!, outDir!);
      expect(isProduced(copy.source, made), `COPY --from=${copy.from} ${copy.source}: nothing in that stage makes it (it has ${made.join(', ')})`).toBe(true);
    }
  });

  test('tini is PID 1 and runs the compiled bin with node, so docker stop reaches the worker', () => {
    const entrypoint = runtime.instructions.find((i) => i.startsWith('ENTRYPOINT'))!;
    expect(JSON.parse(entrypoint.slice('ENTRYPOINT'.length))).toEqual(['/usr/bin/tini', '--', 'node', '/app/bin/btcbot.js']);
    expect(runtime.instructions.some((i) => /apt-get install .*\btini\b/.test(i))).toBe(true);
    expect(runtime.instructions).toContain('CMD ["worker"]');
  });

  test("the HEALTHCHECK asks the worker's health endpoint, which the image turns on", () => {
    const hc = runtime.instructions.find((i) => i.startsWith('HEALTHCHECK'))!;
    expect(hc).toContain(HEALTH_PATH);
    expect(hc).toContain('process.env.BTCBOT_HEALTH_ADDRESS');
    expect(runtime.instructions.some((i) => /^ENV BTCBOT_HEALTH_ADDRESS=127\.0\.0\.1:\d+$/.test(i))).toBe(true);
    expect(runtime.instructions).toContain('ENV KILL_SWITCH=true DRY_RUN=true LIVE_TRADING=false');
  });

  test('a .env made from .env.example blanks none of the image\'s defaults: env_file values override the image ENV', () => {
    const imageEnv = Object.fromEntries(
      runtime.instructions.filter((i) => i.startsWith('ENV ')).flatMap((i) => i.slice(4).trim().split(/\s+/).map((kv) => kv.split('=') as [string, string])),
    );
    const blankInExample = readFileSync('.env.example', 'utf8').split('\n').filter((l) => /^[A-Z][A-Z0-9_]*=$/.test(l)).map((l) => l.slice(0, -1));
    const worker = svc('worker');
    expect(worker.env_file).toBeDefined();
    const trapped = blankInExample.filter((name) => name in imageEnv);
    expect(trapped).toContain('BTCBOT_HEALTH_ADDRESS'); // the HEALTHCHECK's own variable
    for (const name of trapped) expect(worker.environment?.[name], `${name}: set in the worker's environment, which wins over env_file`).toBe(imageEnv[name]);
  });

  test('the build context never carries local state or secrets', () => {
    const ignored = readFileSync('.dockerignore', 'utf8').split('\n');
    for (const p of ['.env', 'node_modules', '.data', 'dist']) expect(ignored).toContain(p);
  });
});

describe('package.json', () => {
  const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { files?: string[]; scripts: Record<string, string>; bin: Record<string, string> };

  test('the package ships the compiled build and the bin, not the sources or tests', () => {
    expect(pkg.files).toEqual(expect.arrayContaining(['bin/', 'dist/']));
    expect(pkg.files!.some((f) => /^(src|test|scripts)\b/.test(f))).toBe(false);
  });

  test('prepare needs no dev dependency to run (npm ci --omit=dev runs it)', () => {
    expect(pkg.scripts.prepare).toMatch(/^node /);
  });
});

describe('tsconfig.build.json', () => {
  test('a type error emits nothing (noEmitOnError)', () => {
    expect(readFileSync('tsconfig.build.json', 'utf8')).toMatch(/"noEmitOnError":\s*true/);
  });
});

describe('.env.example', () => {
  const vars = Object.fromEntries(
    readFileSync('.env.example', 'utf8')
      .split('\n')
      .filter((l) => /^[A-Z][A-Z0-9_]*=/.test(l))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );

  test('ships the safe gate defaults', () => {
    expect(vars).toMatchObject({ KILL_SWITCH: 'true', DRY_RUN: 'true', LIVE_TRADING: 'false', LIVE_TRADING_ACK: '' });
  });

  test('lists every variable the code reads', () => {
    const read = new Set<string>(TRADING_CONFIG_VARIABLES);
    for (const file of sourceFiles('src')) {
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(/env\??\.([A-Z][A-Z0-9_]{2,})|env\[['"]([A-Z][A-Z0-9_]+)['"]\]|'((?:BTCBOT|BTCTURK|TEMPORAL)_[A-Z0-9_]+)'/g)) {
        read.add((m[1] ?? m[2] ?? m[3])!);
      }
    }
    read.delete('PATH');
    const missing = [...read].filter((v) => !(v in vars)).sort();
    expect(missing).toEqual([]);
  });

  test('carries no credentials, and leaves TEMPORAL_ADDRESS unset so the stack `btcbot up` recorded is found', () => {
    expect(vars.BTCTURK_API_KEY).toBe('');
    expect(vars.BTCTURK_API_SECRET).toBe('');
    expect(vars.TEMPORAL_ADDRESS).toBe('');
  });
});
