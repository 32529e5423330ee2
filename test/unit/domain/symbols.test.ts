import { describe, expect, it } from 'vitest';
import { configuredSymbols, InvalidSymbolError, pairOf, splitPair, toPairSymbol, uniqueSymbols } from '../../../src/domain/symbols.js';

describe('symbols', () => {
  it('every spelling of a pair canonicalises to one value', () => {
    for (const raw of ['BTC_TRY', 'btc_try', 'BTCTRY', ' BtcTry ', 'BTC-TRY', 'BTC/TRY']) {
      expect(toPairSymbol(raw)).toBe('BTCTRY');
    }
  });

  it('defect 16: a map keyed by the canonical symbol finds the underscore spelling', () => {
    const marks = new Map([[toPairSymbol('BTC_TRY'), 110]]);
    expect(marks.get(toPairSymbol('BTCTRY'))).toBe(110);
  });

  it('garbage is rejected with InvalidSymbolError', () => {
    expect(() => toPairSymbol('')).toThrow(InvalidSymbolError);
    expect(() => toPairSymbol('BTC TRY')).toThrow(InvalidSymbolError);
    expect(() => toPairSymbol('B')).toThrow(InvalidSymbolError);
  });

  it('splitPair uses the quote suffix and refuses other quotes', () => {
    expect(splitPair(toPairSymbol('BTC_TRY'))).toEqual({ base: 'BTC', quote: 'TRY' });
    expect(splitPair(toPairSymbol('BTC_USDT'))).toBeNull();
    expect(splitPair(toPairSymbol('BTC_USDT'), 'usdt')).toEqual({ base: 'BTC', quote: 'USDT' });
  });

  it('pairOf builds the canonical symbol from assets', () => {
    expect(pairOf('usdt', 'TRY')).toBe('USDTTRY');
  });

  it('uniqueSymbols canonicalises and removes duplicates keeping first order (runner test 4, defect 24)', () => {
    expect(uniqueSymbols(['btc_try', 'BTC_TRY', 'ETHTRY', 'eth_try'])).toEqual(['BTCTRY', 'ETHTRY']);
  });
});

describe('configuredSymbols: the worker decides what it trades', () => {
  it('keeps the requested symbols the worker configures, in request order; the rest are returned to report', () => {
    expect(configuredSymbols(['ETHTRY', 'btc_try', 'DOGETRY', 'BTCTRY'], ['BTCTRY', 'ETHTRY'])).toEqual({
      trade: ['ETHTRY', 'BTCTRY'],
      notConfigured: ['DOGETRY'],
    });
  });

  it('never throws on a starter\'s garbage: an unparseable symbol is reported as given', () => {
    expect(configuredSymbols(['BTCTRY', '../../etc', ''], ['BTCTRY'])).toEqual({ trade: ['BTCTRY'], notConfigured: ['../../etc', ''] });
    expect(configuredSymbols(['XRPTRY'], ['BTCTRY'])).toEqual({ trade: [], notConfigured: ['XRPTRY'] });
  });
});
