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

function values(grant: SasGrant, skew: number, https: boolean) {
  return {
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
export function sharedKeySigner(
  credential: StorageSharedKeyCredential,
  skew: number,
  https: boolean,
): SasSigner {
  return {
    sign: async (grant) => generateBlobSASQueryParameters(values(grant, skew, https), credential).toString(),
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
  skew: number,
  https: boolean,
): SasSigner {
  let cached: { key: UserDelegationKey; expiresAt: number } | undefined;
  let pending: Promise<{ key: UserDelegationKey; expiresAt: number }> | undefined;
  const fresh = async (now: number) => {
    const startsOn = new Date(now - skew * 1000);
    const expiresOn = new Date(now + DELEGATION_KEY_LIFETIME);
    const key = await service.getUserDelegationKey(startsOn, expiresOn);
    return { key, expiresAt: expiresOn.getTime() };
  };
  const keyFor = async (now: number, until: number) => {
    if (cached && cached.expiresAt - DELEGATION_KEY_MARGIN > now && cached.expiresAt >= until) {
      return cached;
    }
    pending ??= fresh(now).finally(() => {
      pending = undefined;
    });
    cached = await pending;
    return cached;
  };
  return {
    async sign(grant) {
      const { key, expiresAt } = await keyFor(grant.now, grant.expiresAt);
      if (grant.expiresAt > expiresAt) {
        throw new ValetError(
          'invalid_options',
          'a user delegation SAS cannot outlive its key (at most 6 h here)',
        );
      }
      return generateBlobSASQueryParameters(values(grant, skew, https), key, service.accountName).toString();
    },
  };
}
