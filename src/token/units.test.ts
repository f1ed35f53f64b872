import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatBytes, formatDuration } from './units.js';

describe('units', () => {
  it('says sizes in binary units, whole where they are whole', () => {
    const cases: Array<[number, string]> = [
      [0, '0 bytes'],
      [1, '1 byte'],
      [1023, '1023 bytes'],
      [1024, '1 KiB'],
      [1536, '1.5 KiB'],
      [1_000_000, '976.6 KiB'],
      [2 ** 20, '1 MiB'],
      [2 ** 20 - 1, '1 MiB'],
      [64 * 2 ** 20, '64 MiB'],
      [5 * 2 ** 30 + 2 ** 29, '5.5 GiB'],
      [2 ** 50, '1 PiB'],
    ];
    for (const [bytes, text] of cases) assert.equal(formatBytes(bytes), text, String(bytes));
  });

  it('says durations in their two largest units', () => {
    const cases: Array<[number, string]> = [
      [0, '0 s'],
      [45, '45 s'],
      [59.6, '1 min'],
      [60, '1 min'],
      [90, '1 min 30 s'],
      [3600, '1 h'],
      [5400, '1 h 30 min'],
      [3661, '1 h 1 min'],
      [86_400 * 2 + 3 * 3600, '2 days 3 h'],
      [86_400 + 59, '1 day'],
    ];
    for (const [seconds, text] of cases) assert.equal(formatDuration(seconds), text, String(seconds));
  });
});
