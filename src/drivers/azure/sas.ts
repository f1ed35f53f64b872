import {
  BlobSASPermissions,
  type BlobServiceClient,
  generateBlobSASQueryParameters,
  SASProtocol,
  type StorageSharedKeyCredential,
  type UserDelegationKey,
} from '@azure/storage-blob';
import { ValetError } from '../../token/errors.js';

/** What one service SAS grants: one blob, some permissions, a window, and response overrides. */
export interface SasGrant {
  container: string;
  blob: string;
  /** Azure's permission letters, e.g. `c`, `cw`, `r`, `d`. */
  permissions: string;
  /** The issuer's clock, ms. */
  now: number;
  /** Expiry, ms since the epoch. */
  expiresAt: number;
  /** `rscd`: the Content-Disposition a GET answers with. */
  contentDisposition?: string;
  /** `rsct`: the Content-Type a GET answers with. */
  contentType?: string;
}

/**
 * Signs service SAS tokens for single blobs, with the account key or a user delegation key.
 * The start time is the issuer's clock less `skew` (so a store whose clock is a little behind
 * still takes it); the expiry is the key's own.
 */
export interface SasSigner {
  /** The query string (without `?`) of a SAS for `grant`. */
  sign(grant: SasGrant): Promise<string>;
}

/** How every SAS of a driver is formed. */
export interface SasForm {
  /** Seconds the SAS starts before the issuer's clock. */
  skew: number;
  /** `spr=https`. */
  https: boolean;
  /** The signed version (`sv`). */
  version: string;
}

/**
 * The SAS version signed by default: one that Azure and Azurite 3.35 both verify, for service
 * and user delegation SAS alike (the SDK's newest, 2026-04-06, adds fields Azurite does not know).
 */
export const DEFAULT_SAS_VERSION = '2025-11-05';

function values(grant: SasGrant, form: SasForm) {
  const { skew, https } = form;
  return {
    version: form.version,
    containerName: grant.container,
    blobName: grant.blob,
    permissions: BlobSASPermissions.parse(grant.permissions),
    startsOn: new Date(grant.now - skew * 1000),
    expiresOn: new Date(grant.expiresAt),
    ...(https && { protocol: SASProtocol.Https }),
    ...(grant.contentDisposition !== undefined && { contentDisposition: grant.contentDisposition }),
    ...(grant.contentType !== undefined && { contentType: grant.contentType }),
  };
}

/** A signer with the storage account's shared key (a connection string or the key itself). */
export function sharedKeySigner(credential: StorageSharedKeyCredential, form: SasForm): SasSigner {
  return {
    sign: async (grant) => generateBlobSASQueryParameters(values(grant, form), credential).toString(),
  };
}

/** How long a user delegation key is asked for, and when a fresh one is fetched. */
const DELEGATION_KEY_LIFETIME = 6 * 3600_000;
const DELEGATION_KEY_MARGIN = 3600_000;

/**
 * A signer with a user delegation key (Entra ID): no account key on the issuer. The key is
 * fetched from the service with the client's token credential, kept, and fetched again an hour
 * before it expires; a SAS never outlives the key that signed it (Azure refuses such a SAS).
 */
export function delegationSigner(
  service: Pick<BlobServiceClient, 'getUserDelegationKey' | 'accountName'>,
  form: SasForm,
): SasSigner {
  type Held = { key: UserDelegationKey; startsAt: number; expiresAt: number };
  let cached: Held | undefined;
  let pending: Promise<Held> | undefined;
  const fresh = async (startsAt: number): Promise<Held> => {
    const expiresAt = startsAt + DELEGATION_KEY_LIFETIME;
    const key = await service.getUserDelegationKey(new Date(startsAt), new Date(expiresAt));
    return { key, startsAt, expiresAt };
  };
  // A key serves a SAS whose whole window lies inside its own, with an hour to spare.
  const keyFor = async (startsAt: number, until: number) => {
    const held = cached;
    if (
      held &&
      held.startsAt <= startsAt &&
      held.expiresAt - DELEGATION_KEY_MARGIN > startsAt &&
      held.expiresAt >= until
    ) {
      return held;
    }
    pending ??= fresh(startsAt).finally(() => {
      pending = undefined;
    });
    cached = await pending;
    return cached;
  };
  return {
    async sign(grant) {
      const { key, expiresAt } = await keyFor(grant.now - form.skew * 1000, grant.expiresAt);
      if (grant.expiresAt > expiresAt) {
        throw new ValetError(
          'invalid_options',
          'a user delegation SAS cannot outlive its key (at most 6 h here)',
        );
      }
      return generateBlobSASQueryParameters(values(grant, form), key, service.accountName).toString();
    },
  };
}
