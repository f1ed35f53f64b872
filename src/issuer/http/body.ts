import { z } from 'zod';
import { ValetError } from '../../token/errors.js';
import { findUnstorable } from '../../token/text.js';
import type { Incoming } from './messages.js';

/** Largest JSON body the issuer reads. */
export const MAX_BODY = 64 * 1024;

/** Parses text as JSON; `undefined` if it is not. */
export function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** The request's JSON body (`415` unless `application/json`, `400` if it is not JSON). */
export async function readJson(incoming: Incoming): Promise<unknown> {
  checkJsonType(incoming);
  return parseJson(await incoming.text(MAX_BODY));
}

function checkJsonType(incoming: Incoming): void {
  const type = incoming.header('content-type') ?? '';
  if (!/^application\/json\s*(;|$)/i.test(type)) {
    throw new ValetError('unsupported_media_type', 'send the request body as application/json');
  }
}

function parseJson(text: string): unknown {
  const parsed = safeJson(text);
  if (parsed === undefined) throw new ValetError('bad_request', 'the body is not valid JSON');
  return parsed;
}

/**
 * The request's JSON body, checked against a wire schema (`400` naming what is wrong). Every
 * string must be text a record store can hold (see token/text.ts), but those of `objectKeys`: the
 * naming rules check object keys and names, and refuse such text as `invalid_object_key`.
 */
export async function readBody<T>(
  incoming: Incoming,
  schema: z.ZodType<T>,
  what: string,
  objectKeys: readonly string[] = [],
): Promise<T> {
  return readBodyFrom(await readJson(incoming), schema, what, objectKeys);
}

/**
 * Like {@link readBody}, but an empty body is `{}`, whatever its `Content-Type` (older clients send
 * none; some send `application/json` with nothing after it).
 */
export async function readOptionalBody<T>(
  incoming: Incoming,
  schema: z.ZodType<T>,
  what: string,
): Promise<T> {
  const text = await incoming.text(MAX_BODY);
  if (text.trim() === '') return readBodyFrom({}, schema, what);
  checkJsonType(incoming);
  return readBodyFrom(parseJson(text), schema, what);
}

function readBodyFrom<T>(
  value: unknown,
  schema: z.ZodType<T>,
  what: string,
  objectKeys: readonly string[] = [],
): T {
  const checked =
    objectKeys.length > 0 && typeof value === 'object' && value !== null && !Array.isArray(value)
      ? Object.fromEntries(Object.entries(value).filter(([name]) => !objectKeys.includes(name)))
      : value;
  const unstorable = findUnstorable(checked);
  if (unstorable) {
    throw new ValetError('bad_request', `invalid ${what}: ${unstorable.at} holds ${unstorable.reason}`);
  }
  const body = schema.safeParse(value);
  if (!body.success) throw new ValetError('bad_request', `invalid ${what}: ${z.prettifyError(body.error)}`);
  return body.data;
}
