// Hostile configuration: any environment ends in a valid config or a typed error naming the
// variable — never a crash, never a silently different value.
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { parseTradingConfig, TRADING_CONFIG_VARIABLES } from '../../src/domain/config.js';
import { ConfigError } from '../../src/domain/errors.js';
import { liveWritesAllowed } from '../../src/domain/gates.js';
import { toGateSettings } from '../../src/domain/config.js';
import { loadInfraSettings } from '../../src/settings.js';

const hostileValue = fc.oneof(
  fc.string(),
  fc.string({ unit: 'binary', maxLength: 50 }),
  fc.constantFrom('', ' ', 'true', 'FALSE', 'yes', '1', '0', '-1', '1e9', 'NaN', 'Infinity', '-0', '0x10', '1,5', '١٢',
    'I_UNDERSTAND', 'i_understand', 'I_UNDERSTAND ', '[]', '["BTC_TRY"', '"', 'BTC_TRY,,ETH_TRY', 'UTC+14', 'Mars/Olympus'),
  fc.double().map(String),
  fc.bigInt().map(String),
  fc.string({ minLength: 5_000, maxLength: 20_000 }).map((x) => x.slice(0, 20_000)),
);
const hostileEnv = fc.dictionary(fc.constantFrom(...TRADING_CONFIG_VARIABLES), hostileValue, { maxKeys: 8 });

describe('config under hostile input', () => {
  test('parseTradingConfig returns a valid config or throws ConfigError naming a real variable', () => {
    fc.assert(
      fc.property(hostileEnv, (env) => {
        try {
          const c = parseTradingConfig(env);
          expect(c.symbols.length).toBeGreaterThan(0);
          expect(Number.isInteger(c.maxOpenOrders) && c.maxOpenOrders >= 0).toBe(true);
          for (const d of [c.maxPositionNotionalTry, c.maxDailyLossTry, c.maxDrawdownPct, c.tryCashTarget, c.tryCashMax]) {
            expect(d.isFinite() && !d.isNeg()).toBe(true);
          }
        } catch (err) {
          expect(err).toBeInstanceOf(ConfigError);
          expect(TRADING_CONFIG_VARIABLES).toContain((err as ConfigError).variable);
          expect((err as Error).message.length).toBeLessThan(500); // a 20 kB value is not echoed back
        }
      }),
      { numRuns: 600 },
    );
  });

  test('no hostile environment arms live trading unless it spells out all four gates exactly', () => {
    fc.assert(
      fc.property(hostileEnv, (env) => {
        let armed = false;
        try {
          armed = liveWritesAllowed(toGateSettings(parseTradingConfig(env)));
        } catch {
          return; // a rejected config arms nothing
        }
        // The defaults are safe, so arming needs every gate set explicitly, the ACK exactly.
        if (armed) {
          expect(env.LIVE_TRADING_ACK).toBe('I_UNDERSTAND');
          expect([env.KILL_SWITCH, env.DRY_RUN, env.LIVE_TRADING].every((v) => v !== undefined)).toBe(true);
        }
      }),
      { numRuns: 1_000 },
    );
  });

  test('infra settings reject hostile URLs and half credentials with a typed error', () => {
    const infraEnv = fc.record(
      {
        BTCTURK_BASE_URL: hostileValue,
        BTCTURK_API_KEY: hostileValue,
        TEMPORAL_ADDRESS: hostileValue,
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(infraEnv, (env) => {
        try {
          const s = loadInfraSettings(env);
          if (s.exchangeBaseUrl !== null) {
            const u = new URL(s.exchangeBaseUrl);
            expect(u.protocol === 'https:' || ['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname) || /^127\./.test(u.hostname)).toBe(true);
          }
        } catch (err) {
          expect((err as Error).name).toBe('ConfigError');
        }
      }),
      { numRuns: 500 },
    );
  });
});
