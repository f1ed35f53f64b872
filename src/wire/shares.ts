import type { Wire } from './case.js';

/**
 * Share links as they cross the wire, each declared once (camelCase; the wire carries
 * {@link Wire} of it).
 */

/**
 * A share link, as `POST /v1/shares` and the issuer's `share()` answer it: shown once (only its
 * hash is kept), to a version of one object, until `expiresAt`.
 */
export interface ShareLink {
  id: string;
  url: string;
  object: string;
  expiresAt: string;
}

/** {@link ShareLink} on the wire. */
export type ShareBody = Wire<ShareLink>;

/** A live link in the caller's list: its URL is not kept, so not listed. */
export interface SharedLink {
  id: string;
  object: string;
  createdAt: string;
  expiresAt: string;
}

/** `GET /v1/shares`: the caller's live links. */
export interface ShareList {
  shares: SharedLink[];
}

/** {@link ShareList} on the wire. */
export type ShareListBody = Wire<ShareList>;
