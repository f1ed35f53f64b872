import { aborted, errorFrom, networkError } from '../errors.js';
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
  getResponseHeader(name: string): string | null;
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
    // A form upload sets its own multipart Content-Type.
    if (!key.fields)
      for (const [name, value] of Object.entries(key.headers)) xhr.setRequestHeader(name, value);
    xhr.responseType = 'text';
    xhr.upload.onprogress = (event) => onProgress?.({ loaded: event.loaded, total: blob.size });
    const onAbort = () => xhr.abort();
    signal?.addEventListener('abort', onAbort, { once: true });
    xhr.onload = () => {
      signal?.removeEventListener('abort', onAbort);
      const headers: Record<string, string> = {};
      const type = xhr.getResponseHeader('content-type');
      if (type !== null) headers['content-type'] = type;
      const offset = xhr.getResponseHeader('upload-offset');
      if (offset !== null) headers['upload-offset'] = offset;
      // A 204 (a tus chunk) has no body; Response refuses one for it.
      const response = new Response(xhr.status === 204 ? null : xhr.responseText, {
        status: xhr.status,
        headers,
      });
      if (response.ok) resolve(response);
      else void errorFrom(response).then(reject);
    };
    xhr.onerror = () => reject(networkError(undefined, signal));
    xhr.onabort = () => reject(aborted());
    xhr.send(key.fields ? formOf(key, blob) : blob);
  });
}
