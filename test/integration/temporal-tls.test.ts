// Temporal over mTLS. The CLI dev server has no TLS flags, so a TLS-terminating loopback proxy
// (node:tls, ALPN h2, client certificates required) stands in front of its plaintext port. A real
// `btcbot worker` and a real `btcbot stage4-run` reach Temporal only through it, with the
// certificates this test makes; a client without a certificate does not get in. They also send a
// Temporal API key (TEMPORAL_API_KEY_FILE; the dev server ignores it), which the secret scan at the
// end looks for.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect as connectTcp, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer as createTlsServer, type Server as TlsServer, type TLSSocket } from 'node:tls';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';
import { startSimulator, type RunningSimulator } from '../../src/simulator/server.js';
import { listCycleAudits } from '../../src/store/audit.js';
import { temporalConnection } from '../../src/temporal-connection.js';
import { makeTestPki, writePem, type TestPki } from '../support/certs.js';
import { btcbot, type Proc } from './cli-harness.js';
import { createTestDatabase, uniqueId } from './harness.js';

interface TlsProxy {
  address: string;
  /** Common names of the client certificates that got through, one per connection. */
  accepted: string[];
  /** Handshakes refused (no certificate, or one the CA did not sign). */
  refused: number;
  close(): Promise<void>;
}

async function startTlsProxy(upstream: string, pki: TestPki): Promise<TlsProxy> {
  const [host, port] = [upstream.split(':')[0]!, Number(upstream.split(':')[1])];
  const proxy: Omit<TlsProxy, 'address' | 'close'> = { accepted: [], refused: 0 };
  const sockets = new Set<TLSSocket>();
  const server: TlsServer = createTlsServer(
    { key: pki.server.key, cert: pki.server.cert, ca: [pki.ca.cert], requestCert: true, rejectUnauthorized: true, ALPNProtocols: ['h2'] },
    (socket) => {
      sockets.add(socket);
      proxy.accepted.push(String(socket.getPeerCertificate().subject?.CN));
      const up = connectTcp({ host, port });
      socket.pipe(up).pipe(socket);
      const end = () => (socket.destroy(), up.destroy(), sockets.delete(socket));
      socket.on('error', end).on('close', end);
      up.on('error', end).on('close', end);
    },
  );
  server.on('tlsClientError', () => (proxy.refused += 1));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return Object.assign(proxy, {
    address: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  });
}

const pki = makeTestPki();
const dir = mkdtempSync(join(tmpdir(), 'btcbot-tls-'));
const pem = (name: string, text: string): string => writePem(dir, name, text);
const files = {
  TEMPORAL_TLS_CERT: pem('client.crt', pki.client.cert),
  TEMPORAL_TLS_KEY: pem('client.key', pki.client.key),
  TEMPORAL_TLS_CA: pem('ca.crt', pki.ca.cert),
  // The proxy's certificate names temporal.test (and 127.0.0.1): the override is checked too.
  TEMPORAL_TLS_SERVER_NAME: 'temporal.test',
};
const temporalApiKey = `tmprl-${randomBytes(16).toString('hex')}`;
const apiKeyFile = join(dir, 'temporal-api-key');
writeFileSync(apiKeyFile, `${temporalApiKey}\n`, { mode: 0o600 });

let proxy: TlsProxy;
let db: Awaited<ReturnType<typeof createTestDatabase>>;
let simulator: RunningSimulator;
let worker: Proc;
const taskQueue = uniqueId('tls');
let env: Record<string, string>;
let doctorOut = '';
let stage4Out = '';
const cycleIds: string[] = [];

beforeAll(async () => {
  [proxy, db, simulator] = await Promise.all([startTlsProxy(inject('temporalAddress'), pki), createTestDatabase(), startSimulator()]);
  env = { ...files, TEMPORAL_API_KEY_FILE: apiKeyFile, TEMPORAL_ADDRESS: proxy.address, BTCBOT_TASK_QUEUE: taskQueue, SYMBOLS: 'BTC_TRY' };
  worker = btcbot(['worker'], { ...env, DATABASE_URL: db.url, BTCTURK_BASE_URL: simulator.url, LOG_LEVEL: 'debug', BTCBOT_SDK_LOG_LEVEL: 'debug' });
  await worker.waitFor('worker ready');
});

afterAll(async () => {
  worker?.kill('SIGTERM');
  await worker?.exited;
  await Promise.allSettled([proxy?.close(), simulator?.close()]);
  await db?.drop();
  rmSync(dir, { recursive: true, force: true });
});

describe('Temporal over mTLS', () => {
  test('a cycle runs with the worker and the CLI both reaching Temporal only through the mTLS proxy', async () => {
    const cycleId = uniqueId('tls-cycle');
    cycleIds.push(cycleId);
    const run = await btcbot(['stage4-run', '--dry-run', '--cycle-id', cycleId], env).exited;
    stage4Out = `${run.stdout}\n${run.stderr}`;
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/outcome\s+ok/);
    expect(await listCycleAudits(db.pool, { cycleId })).toHaveLength(1);
    // Both processes presented the client certificate (the worker keeps its connection open).
    expect(proxy.accepted.length).toBeGreaterThanOrEqual(2);
    expect(new Set(proxy.accepted)).toEqual(new Set(['btcbot-worker']));
  });

  test('doctor says the connection is mTLS, with which certificate and CA', async () => {
    const { stdout } = await btcbot(['doctor'], { ...env, DATABASE_URL: db.url }).exited;
    expect(stdout).toMatch(new RegExp(`ok\\s+temporal security\\s+mTLS, client certificate CN=btcbot-worker \\(TEMPORAL_TLS_CERT=${files.TEMPORAL_TLS_CERT}\\)`));
    expect(stdout).toContain('API key from TEMPORAL_API_KEY_FILE');
    doctorOut = stdout;
    expect(stdout).toMatch(/ok\s+temporal\s+127\.0\.0\.1:\d+ namespace default reachable/);
  });

  test('a client or worker without a client certificate, or with one from another CA, is refused', async () => {
    const noCert = temporalConnection(proxy.address, { TEMPORAL_TLS_CA: files.TEMPORAL_TLS_CA, TEMPORAL_TLS_SERVER_NAME: 'temporal.test' }).options;
    const stranger = temporalConnection(proxy.address, {
      ...files,
      TEMPORAL_TLS_CERT: pem('stranger.crt', pki.strangerClient.cert),
      TEMPORAL_TLS_KEY: pem('stranger.key', pki.strangerClient.key),
    }).options;
    const refusedBefore = proxy.refused;
    const acceptedBefore = proxy.accepted.length;
    // The CLI too, as an operator would meet it: exit 1 and a one-line reason.
    const [client, strangerClient, nativeWorker, cli] = await Promise.allSettled([
      Connection.connect({ ...noCert, connectTimeout: '1s' }),
      Connection.connect({ ...stranger, connectTimeout: '1s' }),
      NativeConnection.connect(noCert),
      btcbot(['stage4-run', '--dry-run'], { ...env, TEMPORAL_TLS_CERT: '', TEMPORAL_TLS_KEY: '' }).exited,
    ]);
    expect([client.status, strangerClient.status, nativeWorker.status]).toEqual(['rejected', 'rejected', 'rejected']);
    expect(cli).toMatchObject({ status: 'fulfilled', value: { code: 1 } });
    expect((cli as PromiseFulfilledResult<{ stderr: string }>).value.stderr).toContain(`cannot reach Temporal at ${proxy.address}`);
    expect(proxy.refused).toBeGreaterThanOrEqual(refusedBefore + 4);
    expect(proxy.accepted.length).toBe(acceptedBefore); // nobody got through
  });
});

describe('the Temporal API key', () => {
  test('appears in no log line, workflow history, database row, command output or status --json', async () => {
    const status = await btcbot(['status', '--json'], { ...env, DATABASE_URL: db.url }).exited;
    expect(status.code, status.stderr).toBe(0);
    worker.kill('SIGTERM');
    const workerExit = await worker.exited;
    const connection = await Connection.connect(temporalConnection(proxy.address, env).options);
    const histories = await Promise.all(cycleIds.map((id) => new Client({ connection }).workflow.getHandle(id).fetchHistory()));
    await connection.close();
    const rows = await db.pool.query("SELECT string_agg(row_to_json(t)::text, E'\\n') AS j FROM cycle_audit t");
    const haystacks: Array<[string, string]> = [
      ['worker stdout', workerExit.stdout], ['worker stderr', workerExit.stderr], ['stage4-run', stage4Out], ['doctor', doctorOut],
      ['status --json', status.stdout], ['histories', JSON.stringify(histories, (_k, v: unknown) => (v instanceof Uint8Array ? Buffer.from(v).toString('utf8') : v))],
      ['cycle_audit', String(rows.rows[0]?.j)],
    ];
    // Not vacuous: the worker logged at debug level, the cycle is in the history and the audit.
    expect(workerExit.stdout.split('\n').length).toBeGreaterThan(10);
    expect(haystacks.find(([n]) => n === 'cycle_audit')?.[1]).toContain(cycleIds[0]);
    for (const [name, text] of haystacks) expect(text.includes(temporalApiKey), `${name} contains the Temporal API key`).toBe(false);
  });
});
