// No Docker engine runs here, so the deployment files are checked for structure and safe defaults.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { parse } from 'yaml';
import { TRADING_CONFIG_VARIABLES } from '../../src/domain/config.js';

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sourceFiles(path) : path.endsWith('.ts') ? [path] : [];
  });
}

interface Service {
  image?: string;
  build?: unknown;
  ports?: string[];
  environment?: Record<string, string>;
  depends_on?: unknown;
}

const compose = parse(readFileSync('docker-compose.yml', 'utf8')) as { services: Record<string, Service> };

describe('docker-compose.yml', () => {
  test('runs Postgres, a Temporal server persisted in Postgres, the Temporal UI and a worker built from the Dockerfile', () => {
    const { postgres, temporal, 'temporal-ui': ui, worker } = compose.services;
    expect(postgres?.image).toMatch(/^postgres:/);
    expect(temporal?.environment).toMatchObject({ DB: 'postgres12', POSTGRES_SEEDS: 'postgres' });
    expect(ui?.environment?.TEMPORAL_ADDRESS).toBe('temporal:7233');
    expect(worker?.build).toBe('.');
    expect(existsSync('Dockerfile')).toBe(true);
  });

  test('the worker reaches Temporal and Postgres by service name and defaults to the safe gates', () => {
    const env = compose.services.worker!.environment!;
    expect(env.TEMPORAL_ADDRESS).toBe('temporal:7233');
    expect(env.DATABASE_URL).toMatch(/@postgres:5432\//);
    expect(env.KILL_SWITCH).toBe('${KILL_SWITCH:-true}');
    expect(env.DRY_RUN).toBe('${DRY_RUN:-true}');
    expect(env.LIVE_TRADING).toBe('${LIVE_TRADING:-false}');
  });

  test('published ports bind to loopback only', () => {
    const ports = Object.values(compose.services).flatMap((s) => s.ports ?? []);
    expect(ports.length).toBeGreaterThan(0);
    for (const p of ports) expect(p).toMatch(/^127\.0\.0\.1:/);
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

  test('carries no credentials', () => {
    expect(vars.BTCTURK_API_KEY).toBe('');
    expect(vars.BTCTURK_API_SECRET).toBe('');
  });
});
