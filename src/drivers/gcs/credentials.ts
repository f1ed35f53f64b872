import { ValetError } from '../../token/errors.js';
import { type GcsCredentials, serviceAccountKey } from './signer.js';

/**
 * What signs for the GCS driver: a service account's JSON key as Google hands it out (only
 * `client_email` and `private_key` are read), or an HMAC key (Cloud Storage → Settings →
 * Interoperability: its access id and secret).
 */
export type GcsCredentialOptions =
  | { client_email: string; private_key: string }
  | { accessId: string; secret: string };

/** The signer's credentials from the driver's options, refused in words if they are not usable. */
export function gcsCredentials(options: GcsCredentialOptions | undefined): GcsCredentials {
  if (options && 'accessId' in options) {
    if (!/^GOOG[0-9A-Z]{10,}$/.test(options.accessId) || !options.secret) {
      throw new ValetError(
        'invalid_options',
        'a GCS HMAC key needs its accessId (GOOG…) and its secret (Cloud Storage → Settings → Interoperability)',
      );
    }
    return { kind: 'hmac', accessId: options.accessId, secret: options.secret };
  }
  if (options && typeof options.client_email === 'string' && typeof options.private_key === 'string') {
    return serviceAccountKey(options.client_email, options.private_key);
  }
  throw new ValetError(
    'invalid_options',
    "the GCS driver needs credentials: a service account's JSON key (client_email, private_key) or an HMAC key (accessId, secret)",
  );
}
