/**
 * The one mapping between the wire's casing and the code's. A body is declared once, as the
 * camelCase type the SDK returns (and the issuer builds); its wire shape is {@link Wire} of that
 * type: the same fields in snake_case (as in the valet key's own claims). {@link toWire} and
 * {@link fromWire} convert one to the other, field by field, recursively.
 *
 * Maps that belong to someone else cross unchanged: the app's `metadata`, a signed request's
 * `headers` and POST policy `fields`, a key's `constraints` (already in the claims' snake_case).
 * Their names are {@link OPAQUE_FIELDS}; a body must not use those names for anything else.
 *
 * No dependencies: the client loads this module at run time.
 */

/** Fields whose values cross as they are (their own keys are the app's, a store's or the claims'). */
export const OPAQUE_FIELDS = ['metadata', 'headers', 'fields', 'constraints'] as const;
type OpaqueField = (typeof OPAQUE_FIELDS)[number];

/** `expiresAt` → `expires_at`, at the type level. */
export type SnakeCase<S extends string> = S extends `${infer C}${infer R}`
  ? `${C extends Lowercase<C> ? C : `_${Lowercase<C>}`}${SnakeCase<R>}`
  : S;

/** A body's wire shape: its fields in snake_case, recursively, opaque maps as they are. */
export type Wire<T> = T extends readonly (infer E)[]
  ? Wire<E>[]
  : T extends object
    ? { [K in keyof T as K extends string ? SnakeCase<K> : never]: K extends OpaqueField ? T[K] : Wire<T[K]> }
    : T;

const OPAQUE: ReadonlySet<string> = new Set(OPAQUE_FIELDS);

function snake(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

function camel(name: string): string {
  return name.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

function convert(value: unknown, rename: (name: string) => string): unknown {
  if (Array.isArray(value)) return value.map((item) => convert(item, rename));
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [name, field] of Object.entries(value)) {
    // An absent optional field stays absent on the wire (JSON drops undefined anyway).
    if (field === undefined) continue;
    out[rename(name)] = OPAQUE.has(name) ? field : convert(field, rename);
  }
  return out;
}

/** A body as it goes on the wire. */
export function toWire<T>(value: T): Wire<T> {
  return convert(value, snake) as Wire<T>;
}

/** A body from the wire, as the code reads it (the caller names the type it declared). */
export function fromWire<T>(body: Wire<T>): T {
  return convert(body, camel) as T;
}
