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
