// Temporal over mTLS. The CLI dev server has no TLS flags, so a TLS-terminating loopback proxy
// (node:tls, ALPN h2, client certificates required) stands in front of its plaintext port. A real
// `btcbot worker` and a real `btcbot stage4-run` reach Temporal only through it, with the
// certificates this test makes; a client without a certificate does not get in.
import { mkdtempSync, rmSync } from 'node:fs';
import { connect as connectTcp, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer as createTlsServer, type Server as TlsServer, type TLSSocket } from 'node:tls';
import { Connection } from '@temporalio/client';
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

let proxy: TlsProxy;
let db: Awaited<ReturnType<typeof createTestDatabase>>;
let simulator: RunningSimulator;
let worker: Proc;
const taskQueue = uniqueId('tls');
let env: Record<string, string>;

beforeAll(async () => {
  [proxy, db, simulator] = await Promise.all([startTlsProxy(inject('temporalAddress'), pki), createTestDatabase(), startSimulator()]);
  env = { ...files, TEMPORAL_ADDRESS: proxy.address, BTCBOT_TASK_QUEUE: taskQueue, SYMBOLS: 'BTC_TRY' };
  worker = btcbot(['worker'], { ...env, DATABASE_URL: db.url, BTCTURK_BASE_URL: simulator.url });
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
    const run = await btcbot(['stage4-run', '--dry-run', '--cycle-id', cycleId], env).exited;
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
