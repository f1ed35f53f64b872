import { type ParseArgsConfig, parseArgs } from 'node:util';

/** A command-line mistake: printed as one line with a pointer to `--help`, exit status 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** Options of one command, in `node:util` `parseArgs` form. */
export type OptionSpec = NonNullable<ParseArgsConfig['options']>;

/** One `valet` command. */
export interface Command {
  name: string;
  summary: string;
  /** Full help text, shown by `valet <command> --help`. */
  help: string;
  options: OptionSpec;
  /** Whether positional arguments are allowed. */
  positionals?: boolean;
  run(values: Record<string, unknown>, positionals: string[]): Promise<number | undefined>;
}

/** Parses a command's arguments strictly: unknown flags and missing values are {@link UsageError}s. */
export function parseCommandArgs(
  command: Command,
  argv: string[],
): { values: Record<string, unknown>; positionals: string[] } {
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      options: { ...command.options, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: command.positionals ?? false,
    });
    return { values: values as Record<string, unknown>, positionals };
  } catch (error) {
    const message = (error as Error).message;
    // A value that starts with '-' (a key id can) reads as a flag: say how to pass it.
    const ambiguous = /^Option '(--[\w-]+)' argument is ambiguous/.exec(message);
    if (ambiguous)
      throw new UsageError(
        `the value after ${ambiguous[1]} starts with "-", so it reads as an option: write ${ambiguous[1]}=VALUE`,
      );
    throw new UsageError(
      message.replace(/\. To specify a positional argument.*$/s, '.').split('\n')[0] as string,
    );
  }
}

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/;
const DURATION_UNITS: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400 };

/**
 * A duration such as `90s`, `5m`, `1h`, `2d`, `500ms` or a plain number of seconds, in seconds.
 *
 * @example
 * ```ts
 * parseDuration('5m', '--ttl') // 300
 * ```
 */
export function parseDuration(text: string, flag: string): number {
  const match = DURATION.exec(text.trim());
  if (!match) throw new UsageError(`${flag}: "${text}" is not a duration (examples: 90s, 5m, 1h)`);
  const seconds = Number(match[1]) * (DURATION_UNITS[match[2] ?? 's'] ?? 1);
  if (!Number.isFinite(seconds)) throw new UsageError(`${flag}: "${text}" is too long`);
  return seconds;
}

/** A duration in whole seconds, at least `min`. */
export function parseWholeSeconds(text: string, flag: string, min = 1): number {
  const seconds = parseDuration(text, flag);
  if (!Number.isInteger(seconds) || seconds < min) {
    throw new UsageError(`${flag}: "${text}" must be a whole number of seconds, at least ${min}`);
  }
  return seconds;
}

const SIZE = /^(\d+)(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)?$/;
const SIZE_UNITS: Record<string, number> = {
  B: 1,
  KB: 1e3,
  MB: 1e6,
  GB: 1e9,
  TB: 1e12,
  KiB: 2 ** 10,
  MiB: 2 ** 20,
  GiB: 2 ** 30,
  TiB: 2 ** 40,
};

/**
 * A size in bytes: a whole number, optionally with a unit (`KB`, `MB`, `GB`, `KiB`, `MiB`, `GiB`, …).
 *
 * @example
 * ```ts
 * parseSize('10MiB', '--max-size') // 10485760
 * ```
 */
export function parseSize(text: string, flag: string): number {
  const match = SIZE.exec(text.trim());
  if (!match)
    throw new UsageError(`${flag}: "${text}" is not a size in bytes (examples: 1048576, 10MiB, 5GB)`);
  const bytes = Number(match[1]) * (SIZE_UNITS[match[2] ?? 'B'] ?? 1);
  if (!Number.isSafeInteger(bytes)) throw new UsageError(`${flag}: "${text}" is too large`);
  return bytes;
}

/** A required string option. */
export function required(values: Record<string, unknown>, name: string): string {
  const value = values[name];
  if (typeof value !== 'string' || value === '') throw new UsageError(`--${name} is required`);
  return value;
}

/** An optional string option. */
export function optional(values: Record<string, unknown>, name: string): string | undefined {
  const value = values[name];
  return typeof value === 'string' ? value : undefined;
}

/** A repeatable string option. */
export function many(values: Record<string, unknown>, name: string): string[] {
  const value = values[name];
  return Array.isArray(value) ? value.map(String) : [];
}

/** A whole number of at least `min`. */
export function parseCount(text: string, flag: string, min = 1): number {
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(n) || n < min) {
    throw new UsageError(`${flag}: "${text}" must be a whole number, at least ${min}`);
  }
  return n;
}

/** A TCP port: 0 (any free port) to 65535. */
export function parsePort(text: string, flag: string): number {
  const port = Number(text);
  if (!/^\d+$/.test(text) || port > 65535) throw new UsageError(`${flag} must be a number from 0 to 65535`);
  return port;
}

/** A pino log level. */
export function parseLogLevel(text: string): string {
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(text)) {
    throw new UsageError('--log-level must be fatal, error, warn, info, debug or silent');
  }
  return text;
}
