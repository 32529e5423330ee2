// Text that came from the database or from Temporal, on its way to a terminal. Control characters
// in it would be commands to the terminal (clear the screen, rewrite the line above), and format
// characters reorder or hide what is shown (bidirectional overrides, zero-width characters, tags),
// so an operator reading `status` could be shown something that is not there.

/**
 * By Unicode category, not by a list: controls (Cc: C0, DEL, C1), format characters (Cf: bidi
 * marks and overrides, U+061C, zero-width characters, U+FEFF, U+00AD, tag characters), and the
 * line and paragraph separators U+2028/U+2029 (Zl, Zp).
 */
const CONTROL = /[\p{Cc}\p{Cf}\u2028\u2029]/u;
const CONTROL_ALL = new RegExp(CONTROL.source, 'gu');
/** The same, less C0: JSON.stringify escapes C0 in strings, and its own newlines are layout. */
const CONTROL_AFTER_JSON = /[\u007f-\u009f\p{Cf}\u2028\u2029]/gu;

/** `\u001b`; a character beyond the BMP as its surrogate pair (`\udb40\udc41`), which JSON reads back as the same character. */
const escape = (c: string): string =>
  c.split('').map((unit) => `\\u${unit.charCodeAt(0).toString(16).padStart(4, '0')}`).join('');

export function hasControlCharacters(text: string): boolean {
  return CONTROL.test(text);
}

/** One line for a terminal: every control or format character (a newline too) shown as `\u001b`. */
export function printable(line: string): string {
  return line.replace(CONTROL_ALL, escape);
}

/**
 * JSON for a terminal: the same value when parsed, with no control or format character written
 * raw. JSON.stringify escapes C0 itself; the others appear only inside strings, where an escape
 * means the same character.
 */
export function terminalJson(value: unknown): string {
  return JSON.stringify(value, null, 2).replace(CONTROL_AFTER_JSON, escape);
}
