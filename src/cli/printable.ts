// Text that came from the database or from Temporal, on its way to a terminal. Control characters
// in it would be commands to the terminal (clear the screen, rewrite the line above, reorder what
// is shown), so an operator reading `status` could be shown something that is not there.

/** C0 and C1 controls, DEL, and the bidirectional marks and overrides. */
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/;
const CONTROL_ALL = new RegExp(CONTROL.source, 'g');
/** What JSON.stringify leaves raw: DEL, C1 and the bidi characters (it escapes C0 itself). */
const CONTROL_AFTER_JSON = /[\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

const escape = (c: string): string => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;

export function hasControlCharacters(text: string): boolean {
  return CONTROL.test(text);
}

/** One line for a terminal: every control character (a newline too) shown as `\u001b`. */
export function printable(line: string): string {
  return line.replace(CONTROL_ALL, escape);
}

/** JSON for a terminal: the same value when parsed, with no control character written raw. */
export function terminalJson(value: unknown): string {
  return JSON.stringify(value, null, 2).replace(CONTROL_AFTER_JSON, escape);
}
