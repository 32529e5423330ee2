// A local HTTP receiver for alert tests: it records every request (path and JSON body) and
// answers with the status it is told to. Listens on loopback only.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedRequest {
  readonly path: string;
  readonly body: Record<string, unknown>;
}

export interface AlertReceiver {
  readonly url: string;
  readonly received: ReceivedRequest[];
  /** Resolves once `predicate` holds over the requests so far; rejects after `timeoutMs`. */
  waitUntil(predicate: (r: readonly ReceivedRequest[]) => boolean, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export async function startAlertReceiver({ status = 200 }: { status?: number } = {}): Promise<AlertReceiver> {
  const received: ReceivedRequest[] = [];
  const waiters = new Set<() => void>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let body: Record<string, unknown> = {};
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
      } catch {
        body = { unparsed: Buffer.concat(chunks).toString('utf8') };
      }
      received.push({ path: req.url ?? '/', body });
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(status === 200 ? '{"ok":true}' : '{"ok":false,"description":"receiver told to fail"}');
      for (const w of [...waiters]) w();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    waitUntil: (predicate, timeoutMs = 30_000) => new Promise<void>((resolve, reject) => {
      const check = () => {
        if (!predicate(received)) return;
        clearTimeout(timer);
        waiters.delete(check);
        resolve();
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`alert receiver: condition not met within ${timeoutMs} ms; received ${JSON.stringify(received.map((r) => [r.path, r.body.kind ?? r.body.text]))}`));
      }, timeoutMs);
      waiters.add(check);
      check();
    }),
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
