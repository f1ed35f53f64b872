import { ValetError } from '../../token/errors.js';
import { type GcsCredentials, signV4 } from './signer.js';

/**
 * The GCS driver's own requests to the XML API (head, read, delete, a readiness probe, resumable
 * sessions), each authenticated by a V4 signature the driver makes for it: the same signer as the
 * clients' keys, so the driver needs no OAuth token exchange and no SDK.
 */

/** Seconds the driver's own signed requests live. */
const OWN_REQUEST_TTL = 60;

/** Where and as whom the driver talks to the bucket. */
export interface GcsBucket {
  readonly bucket: string;
  readonly endpoint: string;
  readonly credentials: GcsCredentials;
  /** The origin whose pages may send a resumable session's chunks (sent when one starts). */
  readonly sessionOrigin?: string;
}

/** One request of the driver's own. */
export interface OwnRequest {
  method: 'GET' | 'HEAD' | 'DELETE' | 'POST' | 'PUT';
  object?: string;
  headers?: Record<string, string>;
  query?: Record<string, string>;
  now: number;
}

/**
 * Sends a request of the driver's own, signed for a minute (`unsigned`: a body and headers sent
 * along, such as its type, that the signature does not cover).
 */
export function ownRequest(
  store: GcsBucket,
  request: OwnRequest,
  unsigned: { body?: string; headers?: Record<string, string> } = {},
): Promise<Response> {
  const { url } = signV4(store.credentials, {
    method: request.method,
    endpoint: store.endpoint,
    bucket: store.bucket,
    ...(request.object !== undefined && { object: request.object }),
    ...(request.headers && { headers: request.headers }),
    ...(request.query && { query: request.query }),
    now: request.now,
    expires: OWN_REQUEST_TTL,
  });
  return send(store, url, {
    method: request.method,
    headers: { ...unsigned.headers, ...request.headers },
    ...(unsigned.body !== undefined && { body: unsigned.body }),
  });
}

/** `fetch`, with an unreachable store named as such (never the URL: it carries a signature). */
export async function send(store: GcsBucket, url: string, init: RequestInit): Promise<Response> {
  try {
    return await fetch(url, init);
  } catch (error) {
    throw new ValetError('unavailable', `the GCS endpoint ${store.endpoint} cannot be reached`, {
      cause: error,
    });
  }
}

/** The XML API's error code (`<Code>NoSuchKey</Code>`), if the body has one. */
export async function errorCode(response: Response): Promise<string | undefined> {
  const text = await response.text().catch(() => '');
  return /<Code>([^<]{1,100})<\/Code>/.exec(text)?.[1];
}

/** An answer the driver did not expect, as an error naming the bucket, the status and GCS's code. */
export async function unexpected(store: GcsBucket, what: string, response: Response): Promise<ValetError> {
  const code = await errorCode(response);
  const words = `${what} in the GCS bucket ${store.bucket}: GCS answered ${response.status}${code ? ` (${code})` : ''}`;
  if (response.status === 401 || response.status === 403) {
    return new ValetError(
      'misconfigured',
      `${words}; check the driver's credentials and their roles on the bucket (Storage Object Admin)`,
    );
  }
  return new ValetError(response.status >= 500 ? 'unavailable' : 'internal_error', words);
}
