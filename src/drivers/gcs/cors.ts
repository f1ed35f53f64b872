import { type GcsBucket, ownRequest, unexpected } from './store.js';

/**
 * The bucket's CORS configuration (XML API `PUT /bucket?cors`), so that browsers on the given
 * origins may send what the keys sign and read what the answers carry. GCS uses its response
 * header list both for the headers a preflight allows and for those a page may read.
 */

const METHODS = ['GET', 'HEAD', 'PUT', 'POST', 'DELETE'];
const HEADERS = [
  'Content-Type',
  'Content-Length',
  'Content-Range',
  'Content-Disposition',
  'Range',
  'ETag',
  'x-goog-content-length-range',
  'x-goog-if-generation-match',
  'x-goog-generation',
];

function xmlText(text: string): string {
  return text.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The `CorsConfig` document for `origins`. */
export function corsDocument(origins: readonly string[]): string {
  const list = (tag: string, items: readonly string[]) =>
    items.map((i) => `<${tag}>${xmlText(i)}</${tag}>`).join('');
  return (
    '<?xml version="1.0" encoding="UTF-8"?><CorsConfig><Cors>' +
    `<Origins>${list('Origin', origins)}</Origins><Methods>${list('Method', METHODS)}</Methods>` +
    `<ResponseHeaders>${list('ResponseHeader', HEADERS)}</ResponseHeaders><MaxAgeSec>600</MaxAgeSec>` +
    '</Cors></CorsConfig>'
  );
}

/** Sets the bucket's CORS configuration (needs storage.buckets.update on the bucket). */
export async function setCors(store: GcsBucket, origins: readonly string[], now: number): Promise<void> {
  const response = await ownRequest(
    store,
    { method: 'PUT', query: { cors: '' }, now },
    { body: corsDocument(origins), headers: { 'content-type': 'application/xml' } },
  );
  await response.body?.cancel();
  if (!response.ok) throw await unexpected(store, 'setting the CORS configuration', response);
}
