import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { toCsv, type CsvColumn } from '../../../src/cli/csv.js';
import { Decimal } from '../../../src/domain/decimal.js';
import { parseCsv } from '../../support/csv-parse.js';

interface Row { price: string; qty: string; note: string | null }
const columns: CsvColumn<Row>[] = [
  { name: 'price', value: (r) => r.price, decimal: true },
  { name: 'qty', value: (r) => r.qty, decimal: true },
  { name: 'note, free text', value: (r) => r.note },
];

describe('CSV (RFC 4180)', () => {
  it('quotes fields with commas, quotes and line breaks, ends every record with CRLF', () => {
    const csv = toCsv(columns, [{ price: '3400000', qty: '0.00002939', note: 'a "quoted", multi\r\nline note' }]);
    expect(csv).toBe('price,qty,"note, free text"\r\n3400000,0.00002939,"a ""quoted"", multi\r\nline note"\r\n');
    expect(parseCsv(csv)).toEqual([['price', 'qty', 'note, free text'], ['3400000', '0.00002939', 'a "quoted", multi\r\nline note']]);
  });

  it('a text cell that starts like a formula is defused; a negative decimal is written as is', () => {
    const csv = toCsv(columns, [{ price: '-12.5', qty: '+1', note: '=HYPERLINK("x")' }]);
    expect(parseCsv(csv)[1]).toEqual(['-12.5', '+1', '\'=HYPERLINK("x")']);
  });

  it('a text cell with terminal escapes or bidi overrides is written escaped (as printable shows it), never raw; its line breaks stay', () => {
    const csv = toCsv(columns, [{ price: '1', qty: '2', note: 'x\u001b]0;pwned\u0007\u001b[2J \u202etxt.exe\u009b1m\r end\r\nnext' }]);
    expect(csv).not.toMatch(/[\u001b\u0007\u202e\u009b]/);
    expect(parseCsv(csv)[1]).toEqual(['1', '2', 'x\\u001b]0;pwned\\u0007\\u001b[2J \\u202etxt.exe\\u009b1m\\u000d end\r\nnext']);
  });

  it('decimals parse back to the very same decimals, whatever the text around them (property)', () => {
    const decimal = fc.tuple(fc.boolean(), fc.bigInt({ min: 0n, max: 10n ** 30n }), fc.integer({ min: 0, max: 20 }))
      .map(([neg, digits, scale]) => {
        const s = digits.toString().padStart(scale + 1, '0');
        const d = scale === 0 ? s : `${s.slice(0, -scale)}.${s.slice(-scale)}`;
        return neg && digits !== 0n ? `-${d}` : d;
      });
    const row = fc.record({ price: decimal, qty: decimal, note: fc.option(fc.string({ unit: 'binary' }), { nil: null }) });
    fc.assert(fc.property(fc.array(row, { maxLength: 20 }), (rows) => {
      const back = parseCsv(toCsv(columns, rows));
      expect(back).toHaveLength(rows.length + 1);
      rows.forEach((r, i) => {
        expect(back[i + 1]![0]).toBe(r.price);
        expect(new Decimal(back[i + 1]![1]!).eq(new Decimal(r.qty))).toBe(true);
      });
    }));
  });
});
