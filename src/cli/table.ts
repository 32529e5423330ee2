// Aligned text tables for a terminal: the first row is the header. Cells are stored text made
// printable (no control or format characters reach the terminal).
import { printable } from './printable.js';

export function table(rows: readonly (readonly string[])[], indent = '  '): string[] {
  const cells = rows.map((r) => r.map(printable));
  const widths = cells.reduce<number[]>((w, r) => r.map((c, i) => Math.max(w[i] ?? 0, c.length)), []);
  return cells.map((r) => `${indent}${r.map((c, i) => c.padEnd(widths[i]!)).join('  ')}`.trimEnd());
}
