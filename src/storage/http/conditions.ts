import type http from 'node:http';
import type { ObjectMeta } from '../disk/object-file.js';

/**
 * RFC 9110 §13: conditional requests on a stored version, evaluated in the order of §13.2.2:
 * If-Match, else If-Unmodified-Since (412); then If-None-Match, else If-Modified-Since (304 for
 * GET and HEAD); If-Range decides whether a Range applies. Dates count only as HTTP-dates (§5.6.7):
 * anything else (ISO 8601, say) is ignored, as the RFC asks of recipients.
 */

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const DAY = '(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)';
const DAY_LONG = '(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)';
const MONTH = `(${MONTHS.join('|')})`;
const TIME = '(\\d{2}):(\\d{2}):(\\d{2})';
// IMF-fixdate, the obsolete RFC 850 form and asctime: the three a recipient must accept.
const IMF_FIXDATE = new RegExp(`^${DAY}, (\\d{2}) ${MONTH} (\\d{4}) ${TIME} GMT$`);
const RFC850 = new RegExp(`^${DAY_LONG}, (\\d{2})-${MONTH}-(\\d{2}) ${TIME} GMT$`);
const ASCTIME = new RegExp(`^${DAY} ${MONTH} ([ \\d]\\d) ${TIME} (\\d{4})$`);

/** The parts of an HTTP-date in one of its three forms, or undefined. */
function dateParts(text: string): { day: string; month: string; year: number; time: string[] } | undefined {
  const fixdate = IMF_FIXDATE.exec(text);
  if (fixdate) {
    const [, day, month, year, ...time] = fixdate as unknown as string[];
    return { day: day as string, month: month as string, year: Number(year), time };
  }
  const rfc850 = RFC850.exec(text);
  if (rfc850) {
    const [, day, month, yy, ...time] = rfc850 as unknown as string[];
    // Two-digit years: more than 50 years in the future means the past century (§5.6.7).
    const year = 2000 + Number(yy);
    const now = new Date().getUTCFullYear();
    return { day: day as string, month: month as string, year: year > now + 50 ? year - 100 : year, time };
  }
  const asctime = ASCTIME.exec(text);
  if (asctime) {
    const [, month, day, h, min, sec, year] = asctime as unknown as string[];
    return {
      day: (day as string).trim(),
      month: month as string,
      year: Number(year),
      time: [h, min, sec] as string[],
    };
  }
  return undefined;
}

/** An HTTP-date in ms since the epoch, or undefined if `value` is not one (ISO 8601 is not). */
export function parseHttpDate(value: string | undefined): number | undefined {
  const parts = value === undefined ? undefined : dateParts(value.trim());
  if (!parts) return undefined;
  const [h, min, s] = parts.time.map(Number) as [number, number, number];
  const ms = Date.UTC(parts.year, MONTHS.indexOf(parts.month), Number(parts.day), h, min, s);
  // 31 Feb, 25:00 and the like are not dates.
  if (new Date(ms).getUTCDate() !== Number(parts.day) || h > 23 || min > 59 || s > 60) return undefined;
  return ms;
}

/** Entity tags of a list header (`"a", W/"b"`), or `*`. */
function tags(value: string): string[] | '*' {
  if (value.trim() === '*') return '*';
  return value.split(',').map((tag) => tag.trim());
}

/** What the preconditions decide: go on, `412`, or `304`. */
export type Precondition = 'proceed' | 'failed' | 'not_modified';

/** §13.2.2 for GET and HEAD of an existing version. */
export function evaluatePreconditions(req: http.IncomingMessage, meta: ObjectMeta): Precondition {
  const seconds = Math.floor(meta.created / 1000) * 1000;
  const ifMatch = req.headers['if-match'];
  if (ifMatch !== undefined) {
    // Strong comparison: a weak tag never matches.
    const list = tags(ifMatch);
    if (list !== '*' && !list.includes(meta.etag)) return 'failed';
  } else {
    const since = parseHttpDate(req.headers['if-unmodified-since']);
    if (since !== undefined && seconds > since) return 'failed';
  }
  const ifNoneMatch = req.headers['if-none-match'];
  if (ifNoneMatch !== undefined) {
    // Weak comparison.
    const list = tags(ifNoneMatch);
    if (list === '*' || list.some((tag) => tag.replace(/^W\//, '') === meta.etag)) return 'not_modified';
    return 'proceed';
  }
  const since = parseHttpDate(req.headers['if-modified-since']);
  if (since !== undefined && seconds <= since) return 'not_modified';
  return 'proceed';
}

/** §13.1.5: a Range applies only if If-Range (a strong ETag, or exactly the HTTP-date) still matches. */
export function ifRangeHolds(req: http.IncomingMessage, meta: ObjectMeta): boolean {
  const ifRange = req.headers['if-range'];
  if (ifRange === undefined) return true;
  const value = String(ifRange).trim();
  if (value.startsWith('"')) return value === meta.etag;
  if (value.startsWith('W/')) return false;
  return parseHttpDate(value) === Math.floor(meta.created / 1000) * 1000;
}
