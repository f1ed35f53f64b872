import type { Readable } from 'node:stream';
import { BlobServiceClient, type ContainerClient, StorageSharedKeyCredential } from '@azure/storage-blob';
import type { ValetClaims } from '../../token/claims.js';
import { ValetError } from '../../token/errors.js';
import { normalizeObjectKey } from '../../token/object-key.js';
import { type CheckResult, notOk, ok } from '../../wire/readiness.js';
import { safeDownload } from '../downloads.js';
import type {
  EnforcementTable,
  HeadResult,
  MultipartUploads,
  ObjectStream,
  SignedRequest,
  SignOptions,
  StorageDriver,
} from '../types.js';
import { abortBlocks, abortStaleBlocks, blockId, commitBlocks, listBlocks, newUploadId } from './blocks.js';
import { DEFAULT_SAS_VERSION, delegationSigner, type SasSigner, sharedKeySigner } from './sas.js';

/** An Entra ID credential, as `@azure/identity`'s classes are (`DefaultAzureCredential`, …). */
export interface AzureTokenCredential {
  getToken(
    scopes: string | string[],
    options?: object,
  ): Promise<{ token: string; expiresOnTimestamp: number } | null>;
}

/** Options for {@link AzureDriver}: a container, and one way to authenticate. */
export interface AzureDriverOptions {
  /** The container objects live in (3 to 63 lower-case letters, digits and dashes). */
  container: string;
  /**
   * A connection string with the account key (`AccountName=…;AccountKey=…;BlobEndpoint=…`), as
   * the portal shows it; Azurite's too. SAS tokens are then signed with the account key.
   */
  connectionString?: string;
  /** The account name, with `accountKey` or `tokenCredential`. */
  accountName?: string;
  /** The account key (base64), instead of a connection string. */
  accountKey?: string;
  /**
   * An Entra ID credential (e.g. `DefaultAzureCredential` from `@azure/identity`): SAS tokens are
   * then user delegation SAS, signed with a key the service hands out for a few hours, so the
   * issuer holds no account key. The production choice; the identity needs the role
   * "Storage Blob Delegator" and the data roles for what it signs.
   */
  tokenCredential?: AzureTokenCredential;
  /** The blob endpoint. Default `https://{accountName}.blob.core.windows.net` (or the connection string's). */
  endpoint?: string;
  /** Seconds a SAS starts before the issuer's clock, for a store whose clock is behind. Default 60. */
  clockSkew?: number;
  /**
   * The SAS version signed (`sv`). Default `2025-11-05`, which Azure and Azurite 3.35 verify;
   * pin an older one for a store that knows only older versions (Azure Stack Hub).
   */
  sasVersion?: string;
}

/**
 * The Azure Blob Storage driver: each valet key becomes a service SAS for exactly one blob, so
 * clients talk to Azure directly under the issuer's rules (Azurite too).
 *
 * - Uploads: a SAS with `c` alone for a create-only key (Azure refuses to replace a blob), `cw`
 *   otherwise; the single `PUT` carries `x-ms-blob-type: BlockBlob` and the content type. A SAS
 *   cannot bind a size or type: the issuer checks them at completion and deletes a blob that
 *   breaks them (`422 upload_rejected`).
 * - Reads: `r` with `rscd` (attachment, a safe file name) and `rsct` (a type a browser only
 *   displays, else `application/octet-stream`). Deletes: `d`.
 * - Resumable uploads: blocks, each signed on demand (`w` on the blob, with its block id), and
 *   committed by the issuer from the blocks Azure holds (see blocks.ts).
 * - Start `now - clockSkew`, expiry the key's, `spr=https` when the endpoint is https.
 *
 * @example
 * ```ts
 * const azure = new AzureDriver({ container: 'uploads', connectionString: process.env.AZURE_STORAGE_CONNECTION_STRING })
 * const issuer = await createIssuer({ driver: azure, … })
 * ```
 */
export class AzureDriver implements StorageDriver {
  readonly name = 'azure';
  readonly completion = 'client';
  readonly service: BlobServiceClient;
  readonly container: ContainerClient;
  readonly resumable: MultipartUploads;
  readonly #signer: SasSigner;

  constructor(options: AzureDriverOptions) {
    if (!options?.container || !/^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$/.test(options.container)) {
      throw new ValetError(
        'invalid_options',
        'the Azure driver needs a container name (3-63 of a-z, 0-9 and -)',
      );
    }
    const { service, credential } = serviceFrom(options);
    this.service = service;
    this.container = service.getContainerClient(options.container);
    const form = {
      skew: options.clockSkew ?? 60,
      https: new URL(service.url).protocol === 'https:',
      version: options.sasVersion ?? DEFAULT_SAS_VERSION,
    };
    this.#signer = credential ? sharedKeySigner(credential, form) : delegationSigner(service, form);
    const store = { container: this.container };
    this.resumable = {
      protocol: 'azure-blocks',
      partLength: 'issuer',
      create: async () => newUploadId(),
      signPart: (o, context) => this.#signPart({ ...o, now: context.now }),
      listParts: (object, uploadId) => listBlocks(store, object, uploadId),
      complete: (o) => commitBlocks(store, o),
      abort: async (object) => {
        await abortBlocks(store, object);
      },
      abortStale: (olderThan) => abortStaleBlocks(store, new Date(olderThan)),
    };
  }

  /**
   * Who enforces each constraint on Azure. `store`: Azure refuses the request. `issuer`: checked
   * when the client reports the upload done (a blob that breaks it is deleted). `none`: nobody.
   */
  enforcement(): EnforcementTable {
    return {
      // A SAS binds no length and no type: Azure takes any body the permission allows.
      max_size: 'issuer',
      min_size: 'issuer',
      size: 'issuer',
      content_types: 'issuer',
      // Azure computes no SHA-256 (only MD5 of a single Put Blob, and CRC64 per request).
      sha256: 'none',
      // A SAS works until it expires, as often as it is used.
      once: 'none',
      // A SAS with `c` and no `w` creates a blob but never replaces one.
      no_overwrite: 'store',
      // One SAS cannot be revoked (only a stored access policy, shared by all its SAS, or the key).
      revocation: 'none',
      expiry: 'store',
    };
  }

  /** The SAS request for a key's claims: PUT with `c` or `cw`, GET with `r` and safe headers, DELETE with `d`. */
  async sign(claims: ValetClaims, options: SignOptions): Promise<SignedRequest> {
    const object = normalizeObjectKey(claims.obj);
    const blob = this.container.getBlockBlobClient(object);
    const grant = {
      container: this.container.containerName,
      blob: object,
      now: options.now,
      expiresAt: claims.exp * 1000,
    };
    if (claims.op === 'put') {
      const sas = await this.#signer.sign({ ...grant, permissions: claims.no_overwrite ? 'c' : 'cw' });
      const headers: Record<string, string> = { 'x-ms-blob-type': 'BlockBlob' };
      if (options.contentType !== undefined) headers['content-type'] = options.contentType;
      if (claims.size !== undefined) headers['content-length'] = String(claims.size);
      return { method: 'PUT', url: `${blob.url}?${sas}`, headers };
    }
    if (claims.op === 'delete') {
      const sas = await this.#signer.sign({ ...grant, permissions: 'd' });
      return { method: 'DELETE', url: `${blob.url}?${sas}`, headers: {} };
    }
    // The blob is served with the type signed here: the recorded one if safe to show (shown
    // inline, as Valet storage does, unless the key asks for a download), else a download.
    const { contentType, disposition } = safeDownload(claims, await options.objectType(), object);
    const sas = await this.#signer.sign({
      ...grant,
      permissions: 'r',
      contentDisposition: disposition,
      contentType,
    });
    return { method: 'GET', url: `${blob.url}?${sas}`, headers: {} };
  }

  /** The request for block `partNumber` of an upload: `w` on the blob, with that block's id. */
  async #signPart(options: {
    object: string;
    uploadId: string;
    partNumber: number;
    size: number;
    ttl: number;
    now: number;
  }): Promise<SignedRequest> {
    const object = normalizeObjectKey(options.object);
    const id = blockId(options.uploadId, options.partNumber);
    const sas = await this.#signer.sign({
      container: this.container.containerName,
      blob: object,
      permissions: 'w',
      now: options.now,
      expiresAt: options.now + options.ttl * 1000,
    });
    const url = `${this.container.getBlockBlobClient(object).url}?comp=block&blockid=${encodeURIComponent(id)}&${sas}`;
    return { method: 'PUT', url, headers: { 'content-length': String(options.size) } };
  }

  /** The blob's size, type and ETag; `undefined` if it does not exist (uncommitted blocks are not a blob). */
  async head(object: string): Promise<HeadResult | undefined> {
    try {
      const head = await this.container.getBlobClient(normalizeObjectKey(object)).getProperties();
      return {
        size: head.contentLength ?? 0,
        contentType: head.contentType ?? 'application/octet-stream',
        etag: head.etag ?? '',
        ...(head.lastModified !== undefined && { modifiedAt: head.lastModified.getTime() }),
        // A put SAS also lets its holder Copy Blob into it: Azure requires the source to be public
        // or authorised, Azurite copied a private blob without either. Valet refuses it either way.
        ...((head.copyId !== undefined || head.copyStatus !== undefined) && { copied: true }),
      };
    } catch (error) {
      if ((error as { statusCode?: number }).statusCode === 404) return undefined;
      throw error;
    }
  }

  /** Streams a blob (as the issuer; `etag`: only that version). */
  async read(
    object: string,
    _context?: unknown,
    options: { etag?: string } = {},
  ): Promise<ObjectStream | undefined> {
    try {
      const got = await this.container
        .getBlobClient(normalizeObjectKey(object))
        .download(0, undefined, options.etag === undefined ? {} : { conditions: { ifMatch: options.etag } });
      if (!got.readableStreamBody) return undefined;
      return { body: got.readableStreamBody as Readable, size: got.contentLength ?? 0, etag: got.etag ?? '' };
    } catch (error) {
      const status = (error as { statusCode?: number }).statusCode;
      if (status === 404 || status === 412) return undefined;
      throw error;
    }
  }

  /** Deletes a blob and its snapshots (as the issuer, with the driver's own authority). */
  async delete(object: string): Promise<void> {
    await this.container
      .getBlobClient(normalizeObjectKey(object))
      .deleteIfExists({ deleteSnapshots: 'include' });
  }

  /** Lets browsers on these origins upload and download directly (the account's Blob CORS rules). */
  async allowOrigins(origins: readonly string[]): Promise<void> {
    await this.service.setProperties({
      cors: [
        {
          allowedOrigins: origins.join(','),
          allowedMethods: 'GET,HEAD,PUT,DELETE,OPTIONS',
          allowedHeaders: '*',
          exposedHeaders:
            'etag,content-length,content-type,content-disposition,x-ms-request-id,x-ms-error-code',
          maxAgeInSeconds: 600,
        },
      ],
    });
  }

  /** The container answers and exists, for the issuer's readiness. */
  async ready(): Promise<CheckResult> {
    try {
      return (await this.container.exists())
        ? ok()
        : notOk('failing', `the Azure container ${this.container.containerName} does not exist`);
    } catch (error) {
      const status = (error as { statusCode?: number }).statusCode;
      return notOk(
        'failing',
        `the Azure container ${this.container.containerName} ${status ? `answers ${status}` : 'cannot be reached'}`,
      );
    }
  }

  /** Creates the container if it does not exist (private: no anonymous access). */
  async ensureContainer(): Promise<void> {
    await this.container.createIfNotExists();
  }
}

/** The service client, and the shared key if SAS tokens are signed with one. */
function serviceFrom(options: AzureDriverOptions): {
  service: BlobServiceClient;
  credential?: StorageSharedKeyCredential;
} {
  if (options.connectionString) {
    const service = BlobServiceClient.fromConnectionString(options.connectionString);
    if (!(service.credential instanceof StorageSharedKeyCredential)) {
      throw new ValetError(
        'invalid_options',
        'the connection string has no AccountKey (a SAS connection string cannot sign)',
      );
    }
    return { service, credential: service.credential };
  }
  if (!options.accountName) {
    throw new ValetError(
      'invalid_options',
      'the Azure driver needs a connectionString, or an accountName with accountKey or tokenCredential',
    );
  }
  const endpoint = options.endpoint ?? `https://${options.accountName}.blob.core.windows.net`;
  if (options.accountKey) {
    const credential = new StorageSharedKeyCredential(options.accountName, options.accountKey);
    return { service: new BlobServiceClient(endpoint, credential), credential };
  }
  if (options.tokenCredential) return { service: new BlobServiceClient(endpoint, options.tokenCredential) };
  throw new ValetError(
    'invalid_options',
    'the Azure driver needs an accountKey or a tokenCredential with the accountName',
  );
}
