/**
 * Checks of an Ed25519 public key's encoding (RFC 8032 §5.1.3), with the curve arithmetic done
 * here in BigInt: keys are checked when a key set is loaded, never per request.
 *
 * A public key that is small-order (one of the eight torsion points) or non-canonically encoded
 * (y ≥ p, or x = 0 with the sign bit set) lets a signature with R = identity and S = 0 verify for
 * any message in a verifier that does not check for it: such a key is refused at load.
 */

const P = 2n ** 255n - 19n;
const D = mod(-121665n * inverse(121666n));
const SQRT_M1 = pow(2n, (P - 1n) / 4n);

function mod(a: bigint): bigint {
  const r = a % P;
  return r >= 0n ? r : r + P;
}

function pow(base: bigint, exponent: bigint): bigint {
  let result = 1n;
  let b = mod(base);
  let e = exponent;
  while (e > 0n) {
    if (e & 1n) result = mod(result * b);
    b = mod(b * b);
    e >>= 1n;
  }
  return result;
}

function inverse(a: bigint): bigint {
  return pow(a, P - 2n);
}

/** Why a 32-byte Ed25519 public key is unfit to verify with, or undefined if it is fit. */
export function publicKeyProblem(bytes: Uint8Array): string | undefined {
  if (bytes.length !== 32) return 'an Ed25519 public key is 32 bytes';
  let y = 0n;
  for (let i = 31; i >= 0; i--) y = (y << 8n) | BigInt(bytes[i] as number);
  const sign = y >> 255n;
  y &= (1n << 255n) - 1n;
  if (y >= P) return 'the key is not canonically encoded (y is not below p)';
  // x² = (y² - 1) / (d y² + 1)
  const u = mod(y * y - 1n);
  const v = mod(D * y * y + 1n);
  let x = mod(u * pow(v, 3n) * pow(u * pow(v, 7n), (P - 5n) / 8n));
  const vx2 = mod(v * x * x);
  if (vx2 !== u) {
    if (vx2 !== mod(-u)) return 'the key is not a point on the curve';
    x = mod(x * SQRT_M1);
  }
  if (x === 0n && sign === 1n) return 'the key is not canonically encoded (x = 0 with the sign bit set)';
  if ((x & 1n) !== sign) x = mod(-x);
  // Small order: eight times the point is the identity.
  let point: [bigint, bigint] = [x, y];
  for (let i = 0; i < 3; i++) point = double(point);
  if (point[0] === 0n && point[1] === 1n)
    return 'the key is a small-order point (any signature could verify)';
  return undefined;
}

/** Doubling on the twisted Edwards curve -x² + y² = 1 + d x² y², in affine coordinates. */
function double([x, y]: [bigint, bigint]): [bigint, bigint] {
  const xy = mod(x * y);
  const dxxyy = mod(D * xy * xy);
  const x2 = mod(2n * xy * inverse(1n + dxxyy));
  const y2 = mod((y * y + x * x) * inverse(1n - dxxyy));
  return [x2, y2];
}
