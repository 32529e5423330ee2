// DNS rebinding from a local browser: a page on evil.example whose name resolves to 127.0.0.1 can
// reach the simulator, but its requests carry `Host: evil.example`; and without a CORS preflight
// it can POST only forms or text/plain. Neither may read or change the simulator.
import { connect } from 'node:net';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type RunningSimulator } from '../../src/simulator/server.js';

let sim: RunningSimulator;
beforeAll(async () => {
  sim = await startSimulator();
});
afterAll(async () => {
  await sim?.close();
});

const call = async (path: string, opts: { method?: 'GET' | 'POST'; host?: string; type?: string; body?: string } = {}) => {
  const res = await request(`${sim.url}${path}`, {
    method: opts.method ?? 'GET',
    headers: { ...(opts.host ? { host: opts.host } : {}), ...(opts.type ? { 'content-type': opts.type } : {}) },
    body: opts.body ?? null,
  });
  return { status: res.statusCode, text: await res.body.text() };
};

/** The status of a POST whose request line carries `path` byte for byte. */
function rawPost(path: string, type: string, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port: sim.port }, () => {
      socket.write(`POST ${path} HTTP/1.1\r\nHost: 127.0.0.1:${sim.port}\r\nContent-Type: ${type}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
    });
    let answer = '';
    socket.on('data', (b: Buffer) => (answer += b.toString('latin1')));
    socket.on('end', () => resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] ?? 0)));
    socket.on('error', reject);
  });
}

describe('the simulator answers only its own host and takes control writes only as JSON', () => {
  it('a foreign Host header is refused on the control plane and on the API, and changes nothing', async () => {
    const before = sim.engine.groundTruth().balances;
    const foreign = `evil.example:${sim.port}`;
    expect((await call('/__sim/state', { host: foreign })).status).toBe(421);
    expect((await call('/api/v2/server/time', { host: foreign })).status).toBe(421);
    const write = await call('/__sim/balances', { method: 'POST', host: foreign, type: 'application/json', body: JSON.stringify({ balances: { TRY: '1' } }) });
    expect(write.status).toBe(421);
    expect(sim.engine.groundTruth().balances).toEqual(before);
    expect(sim.requests.filter((r) => r.path === '/api/v2/server/time')).toHaveLength(0); // never reached the API
  });

  it('a control write sent as text/plain or as a form is refused with 415 and changes nothing', async () => {
    const before = sim.engine.groundTruth().balances;
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', undefined]) {
      const r = await call('/__sim/balances', { method: 'POST', ...(type ? { type } : {}), body: JSON.stringify({ balances: { TRY: '1' } }) });
      expect(r.status, String(type)).toBe(415);
    }
    expect(sim.engine.groundTruth().balances).toEqual(before);
  });

  it('the content-type rule sees the path the router sees: /./__sim/, /x/../__sim/, %2E and upper-case spellings are refused as text/plain too', async () => {
    const before = sim.engine.groundTruth().balances;
    // Sent as written (an HTTP client would normalise the path first; a browser's form need not).
    for (const path of ['/./__sim/balances', '/x/../__sim/balances', '/%2E/__sim/balances', '/__SIM/balances']) {
      expect(await rawPost(path, 'text/plain', JSON.stringify({ balances: { TRY: '1' } })), path).toBe(415);
    }
    expect(sim.engine.groundTruth().balances).toEqual(before);
  });

  it('its own names are answered: 127.0.0.1, localhost, any port (a proxy in front keeps its Host), JSON writes', async () => {
    expect((await call('/api/v2/server/time', { host: `localhost:${sim.port}` })).status).toBe(200);
    expect((await call('/__sim/state', { host: '127.0.0.1:1' })).status).toBe(200);
    const write = await call('/__sim/balances', { method: 'POST', type: 'application/json; charset=utf-8', body: JSON.stringify({ balances: { TRY: '12345' } }) });
    expect(write.status).toBe(200);
    expect(sim.engine.groundTruth().balances['TRY']).toMatchObject({ free: '12345' });
    await sim.control.reset(); // the typed control client still works
  });
});
