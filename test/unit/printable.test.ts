import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hasControlCharacters, printable, terminalJson } from '../../src/cli/printable.js';

const RAW_CONTROL = /[\p{Cc}\p{Cf}\u2028\u2029]/u;

describe('text for a terminal', () => {
  it('finds escapes, newlines, DEL, C1 controls and bidi overrides; ordinary text, Turkish included, has none', () => {
    for (const bad of [
      'a\u001b[2Jb', 'line\nfake line', 'cr\r', 'del\u007f', 'csi\u009b31m', 'rtl\u202eevil', 'isolate\u2066x',
      // Format characters and separators a list-based rule missed: Arabic letter mark, line and
      // paragraph separators, zero-width space / joiner, BOM, soft hyphen, a tag character.
      'alm\u061cx', 'line\u2028sep', 'para\u2029sep', 'zw\u200bsp', 'zwj\u200dx', 'bom\ufeffx', 'soft\u00adhyphen', 'tag\u{e0041}x',
    ]) {
      expect(hasControlCharacters(bad), JSON.stringify(bad)).toBe(true);
    }
    for (const ok of ['operator halt', 'ıİşŞğĞüÜöÖçÇ: fiyat düştü', 'drift > 5% on BTCTRY (see #12)', 'emoji 🚨 ok']) {
      expect(hasControlCharacters(ok), ok).toBe(false);
    }
  });

  it('printable shows every control character escaped, so one stored line stays one printed line', () => {
    expect(printable('ok\u001b[2K\rhalt: not halted')).toBe('ok\\u001b[2K\\u000dhalt: not halted');
    expect(printable('a\u2028b\u200bc\u{e0041}d')).toBe('a\\u2028b\\u200bc\\udb40\\udc41d');
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
        expect(RAW_CONTROL.test(out.replace(/\n/g, ''))).toBe(false); // its own layout newlines aside
        expect(JSON.parse(out)).toEqual(JSON.parse(JSON.stringify(doc)));
      }),
    );
    expect(terminalJson({ s: 'x\u2029y\u{e0041}' })).toBe('{\n  "s": "x\\u2029y\\udb40\\udc41"\n}');
  });
});
