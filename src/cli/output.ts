/**
 * What commands print: JSON for scripts (`--json`: the API's snake_case shapes, one line), text
 * for people; and hints that a failure carries to the one line main.ts prints for it.
 */

const hints = new WeakMap<object, string>();

/** A failure of the CLI itself (not the issuer's or storage's), with its stable code. */
export class CliError extends Error {
  override readonly name = 'CliError';
  constructor(
    readonly code: string,
    message: string,
    /** The exit status (1; 130 for an interruption, as shells report Ctrl-C). */
    readonly status = 1,
  ) {
    super(message);
  }
}

/** Attaches a hint for people to a failure (printed after its message, not in its JSON). */
export function withHint<E extends Error>(error: E, hint: string): E {
  hints.set(error, hint);
  return error;
}

/** The hint attached to a failure, with its leading space; `''` if none. */
export function hintOf(error: unknown): string {
  const hint = typeof error === 'object' && error !== null ? hints.get(error) : undefined;
  return hint ? ` (${hint})` : '';
}

/** Prints one JSON line on stdout. */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

/** Prints lines of text on stdout. */
export function printLines(...lines: string[]): void {
  if (lines.length > 0) process.stdout.write(`${lines.join('\n')}\n`);
}
