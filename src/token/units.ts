/**
 * Sizes and durations in the units people read: `1 MiB`, `976.6 KiB`, `12 bytes`; `45 s`,
 * `5 min`, `1 h 30 min`, `2 days`. Every message that names a size or a duration uses these.
 */

const BYTE_UNITS = ['KiB', 'MiB', 'GiB', 'TiB', 'PiB'] as const;

/** A byte count in binary units, to one decimal where it is not whole (`1.5 GiB`). */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return String(bytes);
  if (Math.abs(bytes) < 1024) return bytes === 1 ? '1 byte' : `${bytes} bytes`;
  let value = bytes;
  let unit = 0;
  for (value /= 1024; Math.abs(value) >= 1024 && unit < BYTE_UNITS.length - 1; unit++) value /= 1024;
  const rounded = Math.round(value * 10) / 10;
  // 1023.96 KiB rounds to 1024.0: say 1 MiB instead.
  if (rounded >= 1024 && unit < BYTE_UNITS.length - 1) return `1 ${BYTE_UNITS[unit + 1]}`;
  return `${Number.isInteger(rounded) ? rounded : rounded.toFixed(1)} ${BYTE_UNITS[unit]}`;
}

/** A duration given in seconds, in its two largest units (`1 h 30 min`, `2 days 3 h`, `45 s`). */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return String(seconds);
  let left = Math.max(0, Math.round(seconds));
  if (left < 60) return `${left} s`;
  const parts: string[] = [];
  for (const [size, one, many] of [
    [86_400, 'day', 'days'],
    [3_600, 'h', 'h'],
    [60, 'min', 'min'],
    [1, 's', 's'],
  ] as const) {
    const count = Math.floor(left / size);
    left -= count * size;
    if (count > 0 || parts.length > 0) parts.push(`${count} ${count === 1 ? one : many}`);
    if (parts.length === 2) break;
  }
  return parts.filter((part) => !part.startsWith('0 ')).join(' ');
}
