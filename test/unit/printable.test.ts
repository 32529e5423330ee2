import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hasControlCharacters, printable, terminalJson } from '../../src/cli/printable.js';

const RAW_CONTROL = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/;

describe('text for a terminal', () => {
  it('finds escapes, newlines, DEL, C1 controls and bidi overrides; ordinary text, Turkish included, has none', () => {
    for (const bad of ['a\u001b[2Jb', 'line\nfake line', 'cr\r', 'del\u007f', 'csi\u009b31m', 'rtl\u202eevil', 'isolate\u2066x']) {
      expect(hasControlCharacters(bad), JSON.stringify(bad)).toBe(true);
    }
    for (const ok of ['operator halt', 'ıİşŞğĞüÜöÖçÇ: fiyat düştü', 'drift > 5% on BTCTRY (see #12)', 'emoji 🚨 ok']) {
      expect(hasControlCharacters(ok), ok).toBe(false);
    }
  });

  it('printable shows every control character escaped, so one stored line stays one printed line', () => {
    expect(printable('ok\u001b[2K\rhalt: not halted')).toBe('ok\\u001b[2K\\u000dhalt: not halted');
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => {
        const out = printable(s);
        expect(RAW_CONTROL.test(out)).toBe(false);
        expect(out.includes('\n')).toBe(false);
      }),
    );
  });

  it('terminalJson parses back to the same value and writes no control character raw', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.string({ unit: 'binary' }), (value, text) => {
        const doc = { value, text };
        const out = terminalJson(doc);
        expect(RAW_CONTROL.test(out.replace(/\n/g, ''))).toBe(false);
        expect(JSON.parse(out)).toEqual(JSON.parse(JSON.stringify(doc)));
      }),
    );
  });
});
