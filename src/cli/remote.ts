import { type ClientOptions, createClient, type ValetClient } from '../client/client.js';
import { type OptionSpec, optional, UsageError } from './args.js';

/** The options every command that talks to an issuer takes. */
export const REMOTE_OPTIONS: OptionSpec = {
  issuer: { type: 'string' },
  token: { type: 'string' },
};

/** Help lines for {@link REMOTE_OPTIONS}. */
export const REMOTE_HELP = `  --issuer URL         the issuer (default: $VALET_ISSUER)
  --token TOKEN        your bearer token for the issuer (default: $VALET_TOKEN)`;

/** A client for the issuer and token given on the command line (or in the environment). */
export function remoteClient(
  values: Record<string, unknown>,
  extra: Partial<Omit<ClientOptions, 'issuer' | 'getToken'>> = {},
): ValetClient {
  const issuer = optional(values, 'issuer') ?? process.env.VALET_ISSUER;
  const token = optional(values, 'token') ?? process.env.VALET_TOKEN;
  if (!issuer) throw new UsageError('--issuer is required');
  if (!/^https?:\/\//.test(issuer)) throw new UsageError('--issuer must be an http(s) URL');
  if (!token) throw new UsageError('--token is required');
  return createClient({ issuer, getToken: () => token, ...extra });
}

/** A one-line progress bar on stderr, when stderr is a terminal. */
export function progressBar(label: string): { update(loaded: number, total?: number): void; done(): void } {
  const tty = process.stderr.isTTY === true;
  let last = 0;
  return {
    update(loaded, total) {
      if (!tty) return;
      const now = Date.now();
      if (now - last < 100 && loaded !== total) return;
      last = now;
      const width = 30;
      const ratio = total ? Math.min(1, loaded / total) : 0;
      const bar = '#'.repeat(Math.round(ratio * width)).padEnd(width, '.');
      const pct = total ? `${Math.floor(ratio * 100)}%`.padStart(4) : '';
      process.stderr.write(
        `\r${label} [${bar}] ${pct} ${formatBytes(loaded)}${total ? ` / ${formatBytes(total)}` : ''}  `,
      );
    },
    done() {
      if (tty) process.stderr.write('\n');
    },
  };
}

/** Bytes for people: `1.5 MiB`. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}
