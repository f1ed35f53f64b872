import { aborted, errorFrom, networkError, stored } from '../errors.js';
import type { Progress } from '../types.js';

/** A request to send: where, how, with which headers (and a POST policy's form fields). */
export interface Target {
  url: string;
  method: string;
  headers: Record<string, string>;
  fields?: Record<string, string>;
}

/** A POST policy's form: its signed fields, then the file (S3-style). */
export function formOf(key: { fields?: Record<string, string> }, blob: Blob): FormData {
  const form = new FormData();
  for (const [name, value] of Object.entries(key.fields ?? {})) form.append(name, value);
  // The policy may allow a range of types (`image/*`): the file's own type is sent.
  if (key.fields?.['Content-Type'] === undefined && blob.type) form.append('Content-Type', blob.type);
  form.append('file', blob);
  return form;
}

/** The part of the browser's XMLHttpRequest the client uses (the project compiles without the DOM lib). */
interface Xhr {
  open(method: string, url: string): void;
  setRequestHeader(name: string, value: string): void;
  getAllResponseHeaders(): string;
  send(body: Blob | FormData): void;
  abort(): void;
  responseType: string;
  readonly responseText: string;
  readonly status: number;
  readonly upload: { onprogress: ((event: { loaded: number }) => void) | null };
  onload: (() => void) | null;
  onerror: (() => void) | null;
  onabort: (() => void) | null;
}
type XhrConstructor = new () => Xhr;

/** Request headers only the browser sets (setting them logs an error and does nothing). */
const BROWSER_SET = new Set(['content-length', 'host', 'connection', 'transfer-encoding', 'expect']);

/**
 * The response's headers the page may read (CORS-exposed ones only, as the browser lists them:
 * asking for any other one by name logs "Refused to get unsafe header").
 */
function responseHeaders(all: string): Headers {
  const headers = new Headers();
  for (const line of all.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    try {
      headers.append(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
    } catch {
      // A header the Headers class will not hold is left out.
    }
  }
  return headers;
}

export function browserXhr(): XhrConstructor | undefined {
  return (globalThis as { XMLHttpRequest?: XhrConstructor }).XMLHttpRequest;
}

/** Browser upload with progress events; resolves with the response like fetch would. */
export function sendWithXhr(
  key: Target,
  blob: Blob,
  onProgress: ((p: Progress) => void) | undefined,
  signal: AbortSignal | undefined,
): Promise<Response> {
  return new Promise((resolve, reject) => {
    const Xhr = browserXhr() as XhrConstructor;
    const xhr = new Xhr();
    xhr.open(key.method, key.url);
    // A form upload sets its own multipart Content-Type; the browser sets the length itself.
    if (!key.fields) {
      for (const [name, value] of Object.entries(key.headers)) {
        if (!BROWSER_SET.has(name.toLowerCase())) xhr.setRequestHeader(name, value);
      }
    }
    xhr.responseType = 'text';
    xhr.upload.onprogress = (event) => onProgress?.({ loaded: event.loaded, total: blob.size });
    const onAbort = () => xhr.abort();
    signal?.addEventListener('abort', onAbort, { once: true });
    xhr.onload = () => {
      signal?.removeEventListener('abort', onAbort);
      const headers = responseHeaders(xhr.getAllResponseHeaders());
      // A 204 (a tus chunk) has no body; Response refuses one for it.
      const response = new Response(xhr.status === 204 ? null : xhr.responseText, {
        status: xhr.status,
        headers,
      });
      if (stored(response)) resolve(response);
      else void errorFrom(response).then(reject);
    };
    xhr.onerror = () => reject(networkError(undefined, signal, key.url, 'storage'));
    xhr.onabort = () => reject(aborted());
    xhr.send(key.fields ? formOf(key, blob) : blob);
  });
}
