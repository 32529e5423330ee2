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
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}
