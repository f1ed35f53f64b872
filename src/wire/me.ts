import type { Wire } from './case.js';

/**
 * `GET /v1/me`: who the caller is, the rules as they apply to them (with their limits), and the
 * caller's quota and usage: what a user interface shows before a file is picked. Declared once:
 * the issuer builds it, the SDK's `me()` returns it, the wire carries {@link MeBody}.
 */
export interface Me {
  subject: string;
  rules: Array<{
    name: string;
    op: 'put' | 'get' | 'delete' | 'share';
    /** The namespace the rule covers for the caller (an upload's object is this plus its name). */
    prefix: string;
    maxSize?: number;
    minSize?: number;
    contentTypes?: string[];
    /** Key lifetime, seconds (put, get, delete). */
    ttl?: number;
  }>;
  /** `null` limits: none. Usage counts complete objects and uploads under way. */
  quota: { maxBytes: number | null; maxObjects: number | null; usedBytes: number; usedObjects: number };
}

/** {@link Me} on the wire. */
export type MeBody = Wire<Me>;
