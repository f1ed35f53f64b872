import type { Wire } from './case.js';

/**
 * Where an upload's validation stands (`GET /v1/keys/:id/validation`): `pending` (its rule's
 * validators have not decided; nobody may read it), `published` (readable), `rejected` (removed:
 * `reason` says why, in words for the uploader), or `replaced` (a newer upload or a deletion of the
 * object came before the verdict: this version is gone).
 */
export interface ValidationState {
  object: string;
  status: 'pending' | 'published' | 'rejected' | 'replaced';
  reason?: string;
}

/** {@link ValidationState} on the wire. */
export type ValidationBody = Wire<ValidationState>;
