import { crc32 } from 'node:zlib';

/**
 * The small-object journal's records (see journal.ts) and their encoding: u32 length, u32 CRC-32
 * of what follows, kind, key, key id, content. A reader stops at the first torn or corrupt one.
 *
 * Records: `put` (an object file's bytes), `delete` (a deletion of a key with a `put` in the
 * journal, appended before the unlink, so a replay does not bring the object back), `supersede`
 * (a version committed the fsync way over a key with a `put` in the journal: replay keeps that
 * version if it landed) and `void` (a journaled `put` whose rename failed).
 */

export type JournalRecord =
  | { kind: 'put'; key: string; keyId: string; content: Buffer[] }
  | { kind: 'delete'; key: string }
  | { kind: 'supersede'; key: string; keyId: string }
  | { kind: 'void'; key: string; keyId: string };

const KINDS = ['put', 'delete', 'supersede', 'void'] as const;

/** Encodes a record: u32 length, u32 CRC-32 of what follows, kind, key, key id, content. */
export function encodeRecord(record: JournalRecord): Buffer[] {
  const key = Buffer.from(record.key, 'utf8');
  const keyId = Buffer.from('keyId' in record ? record.keyId : '', 'utf8');
  const head = Buffer.alloc(8 + 1 + 2 + 1);
  head.writeUInt8(KINDS.indexOf(record.kind), 8);
  head.writeUInt16BE(key.length, 9);
  head.writeUInt8(keyId.length, 11);
  const content = record.kind === 'put' ? record.content : [];
  const parts = [head.subarray(8), key, keyId, ...content];
  let length = 0;
  let crc = 0;
  for (const part of parts) {
    length += part.length;
    crc = crc32(part, crc);
  }
  head.writeUInt32BE(length, 0);
  head.writeUInt32BE(crc, 4);
  return [head.subarray(0, 8), ...parts];
}

/** Decodes the records of one journal file's bytes, up to the first torn or corrupt one. */
export function decodeRecords(bytes: Buffer): JournalRecord[] {
  const records: JournalRecord[] = [];
  let at = 0;
  while (at + 12 <= bytes.length) {
    const length = bytes.readUInt32BE(at);
    if (length < 4 || at + 8 + length > bytes.length) break;
    const body = bytes.subarray(at + 8, at + 8 + length);
    if (crc32(body) !== bytes.readUInt32BE(at + 4)) break;
    const kind = KINDS[body.readUInt8(0)];
    const keyEnd = 4 + body.readUInt16BE(1);
    const idEnd = keyEnd + body.readUInt8(3);
    if (kind === undefined || idEnd > body.length) break;
    const key = body.subarray(4, keyEnd).toString('utf8');
    const keyId = body.subarray(keyEnd, idEnd).toString('utf8');
    if (kind === 'put') records.push({ kind, key, keyId, content: [Buffer.from(body.subarray(idEnd))] });
    else if (kind === 'delete') records.push({ kind, key });
    else records.push({ kind, key, keyId });
    at += 8 + length;
  }
  return records;
}
