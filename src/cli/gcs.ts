import { readFile } from 'node:fs/promises';
import type { GcsDriver } from '../drivers/gcs/index.js';
import type { GcsSettings } from '../drivers/gcs/settings.js';
import { UsageError } from './args.js';

/** The `gcs` block of `valet issuer --config`, and what `valet dev --storage gcs` takes. */
export type GcsCliOptions = GcsSettings;

/**
 * The GCS driver for the CLI. The key comes from the environment, never from a config file:
 * `GOOGLE_APPLICATION_CREDENTIALS` names a service account's JSON key file (Google's own
 * variable), or `GCS_HMAC_ACCESS_ID` and `GCS_HMAC_SECRET` give an HMAC key.
 */
export async function gcsDriver(options: GcsCliOptions, what: string): Promise<GcsDriver> {
  const { GcsDriver } = await import('../drivers/gcs/index.js');
  return new GcsDriver({ ...options, credentials: await gcsKey(what) });
}

async function gcsKey(what: string) {
  const accessId = process.env.GCS_HMAC_ACCESS_ID;
  const secret = process.env.GCS_HMAC_SECRET;
  if (accessId && secret) return { accessId, secret };
  const file = process.env.GOOGLE_APPLICATION_CREDENTIALS;
  if (!file) {
    throw new UsageError(
      `${what} needs a key in the environment: GOOGLE_APPLICATION_CREDENTIALS naming a service account's JSON key file, or GCS_HMAC_ACCESS_ID and GCS_HMAC_SECRET`,
    );
  }
  let key: { type?: string; client_email?: string; private_key?: string };
  try {
    key = JSON.parse(await readFile(file, 'utf8'));
  } catch (error) {
    throw new UsageError(
      `GOOGLE_APPLICATION_CREDENTIALS: cannot read ${file} as a JSON key file (${(error as NodeJS.ErrnoException).code ?? 'not JSON'})`,
    );
  }
  if (key.type !== 'service_account' || !key.client_email || !key.private_key) {
    throw new UsageError(
      `GOOGLE_APPLICATION_CREDENTIALS: ${file} is not a service account key (type "${key.type}"): signing needs one (IAM → Service accounts → Keys → JSON), or an HMAC key in GCS_HMAC_ACCESS_ID and GCS_HMAC_SECRET`,
    );
  }
  return { client_email: key.client_email, private_key: key.private_key };
}
