/**
 * Compile-time checks that an options type and the zod schema that validates it name the same
 * fields, so that neither can gain one the other lacks: `const ok: SameKeys<A, B> = true` fails to
 * compile when they differ (the error names the type).
 */
export type SameKeys<A, B> = [Exclude<keyof A, keyof B>, Exclude<keyof B, keyof A>] extends [never, never]
  ? true
  : { extraInFirst: Exclude<keyof A, keyof B>; extraInSecond: Exclude<keyof B, keyof A> };

/** `true` when every field of A is a field of B, of a type B accepts (settings that are options). */
export type FieldsOf<A, B> = [Exclude<keyof A, keyof B>] extends [never]
  ? A extends Partial<B>
    ? true
    : never
  : never;
