// Postgres access through `pg`. One pool per process; each logical step runs in one transaction.
import pg from 'pg';

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;

export function createPool(connectionString: string, max = 10): Pool {
  const pool = new pg.Pool({ connectionString, max, application_name: 'btcbot' });
  // An idle client that errors (e.g. Postgres restarted) must not crash the worker.
  pool.on('error', () => {});
  return pool;
}

/** Run `fn` in one transaction: committed if it resolves, rolled back (nothing written) if it throws. */
export async function inTransaction<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  // A checked-out client has no pool listener: a connection dropped between two queries (Postgres
  // restarting) would emit an unhandled 'error' and crash the process. The failing query reports it.
  let broken: Error | undefined;
  const onError = (err: Error): void => {
    broken = err;
  };
  client.on('error', onError);
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch((rollbackErr: Error) => {
      broken ??= rollbackErr;
    });
    throw err;
  } finally {
    client.removeListener('error', onError);
    // A broken connection is destroyed, never handed to the next caller.
    client.release(broken);
  }
}
