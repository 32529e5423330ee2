// CSV for spreadsheets and tax tools, RFC 4180: comma-separated, CRLF line ends, a field quoted
// (with `"` doubled) when it holds a comma, a quote or a line break; a header row first.
// Decimal columns are written exactly as stored. A text cell that starts like a formula (= + - @,
// tab, CR) gets a leading `'`, so a spreadsheet shows it instead of evaluating it (stored text
// such as an exchange's error message is not ours to trust); decimal columns are never touched.
// CSV goes to the terminal as often as to a file: a text cell's control and format characters
// (ESC, C1, bidi overrides) are written escaped, as printable() shows them; only its line breaks
// (LF, CRLF) stay, inside the quoted field.
import { printable } from './printable.js';

export interface CsvColumn<T> {
  readonly name: string;
  readonly value: (row: T) => string | number | null;
  /** A decimal string (or integer) column: written as is. */
  readonly decimal?: boolean;
}

const NEEDS_QUOTES = /[",\r\n]/;
const FORMULA_START = /^[=+\-@\t\r]/;

/** A text cell as a terminal may show it: every control or format character escaped but line breaks. */
function textCell(v: string): string {
  return v.split(/(\r\n|\n)/).map((part, i) => (i % 2 === 1 ? part : printable(part))).join('');
}

function field(v: string): string {
  return NEEDS_QUOTES.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

export function toCsv<T>(columns: readonly CsvColumn<T>[], rows: readonly T[]): string {
  const lines = [columns.map((c) => field(c.name)).join(',')];
  for (const row of rows) {
    lines.push(columns.map((c) => {
      const v = c.value(row);
      if (v === null) return '';
      if (c.decimal) return field(String(v));
      const s = textCell(String(v));
      return field(FORMULA_START.test(s) ? `'${s}` : s);
    }).join(','));
  }
  return `${lines.join('\r\n')}\r\n`;
}
