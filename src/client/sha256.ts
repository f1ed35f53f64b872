/**
 * SHA-256 (FIPS 180-4) over a stream of chunks, in plain TypeScript: WebCrypto hashes only a whole
 * buffer, so a file of any size is hashed here piece by piece in constant memory. The client has
 * no runtime dependency, so this is its own; `sha256.test.ts` checks it against the FIPS 180-4
 * examples and node:crypto on random inputs of every length around the block size.
 *
 * @example
 * ```ts
 * const hash = new Sha256()
 * hash.update(new TextEncoder().encode('abc'))
 * hash.hex() // 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'
 * ```
 */

// Int32Array throughout: values read back stay 32-bit integers (a Uint32Array's above 2^31 would
// become doubles in V8, several times slower).
const K = new Int32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98,
  0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
  0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8,
  0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
  0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
  0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
  0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
  0xc67178f2,
]);

export class Sha256 {
  readonly #state = new Int32Array([
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
  ]);
  readonly #w = new Int32Array(64);
  readonly #block = new Uint8Array(64);
  #filled = 0;
  #length = 0;
  #done = false;

  /** Adds bytes to the message. */
  update(data: Uint8Array): this {
    if (this.#done) throw new Error('this SHA-256 is already finished');
    this.#length += data.length;
    let offset = 0;
    if (this.#filled > 0) {
      const take = Math.min(64 - this.#filled, data.length);
      this.#block.set(data.subarray(0, take), this.#filled);
      this.#filled += take;
      offset = take;
      if (this.#filled < 64) return this;
      compress(this.#state, this.#w, this.#block, 0);
      this.#filled = 0;
    }
    // Whole blocks straight from the input, without copying them.
    for (; offset + 64 <= data.length; offset += 64) compress(this.#state, this.#w, data, offset);
    if (offset < data.length) {
      this.#block.set(data.subarray(offset));
      this.#filled = data.length - offset;
    }
    return this;
  }

  /** Finishes the message (FIPS 180-4 §5.1.1 padding) and returns the digest as lowercase hex. */
  hex(): string {
    if (this.#done) throw new Error('this SHA-256 is already finished');
    const bits = this.#length * 8;
    const block = this.#block;
    block[this.#filled++] = 0x80;
    if (this.#filled > 56) {
      block.fill(0, this.#filled);
      compress(this.#state, this.#w, block, 0);
      this.#filled = 0;
    }
    block.fill(0, this.#filled, 56);
    // The length in bits as a 64-bit big-endian number (exact below 2^53 bytes).
    const view = new DataView(block.buffer, block.byteOffset, 64);
    view.setUint32(56, Math.floor(bits / 2 ** 32));
    view.setUint32(60, bits >>> 0);
    compress(this.#state, this.#w, block, 0);
    this.#done = true;
    return Array.from(this.#state, (word) => (word >>> 0).toString(16).padStart(8, '0')).join('');
  }
}

/** One 64-byte block into the state (FIPS 180-4 §6.2.2); a plain function, which V8 runs fastest. */
function compress(s: Int32Array, w: Int32Array, data: Uint8Array, offset: number): void {
  for (let i = 0; i < 16; i++) {
    const j = offset + i * 4;
    w[i] =
      ((data[j] as number) << 24) |
      ((data[j + 1] as number) << 16) |
      ((data[j + 2] as number) << 8) |
      (data[j + 3] as number);
  }
  for (let i = 16; i < 64; i++) {
    const a = w[i - 15] as number;
    const b = w[i - 2] as number;
    const s0 = ((a >>> 7) | (a << 25)) ^ ((a >>> 18) | (a << 14)) ^ (a >>> 3);
    const s1 = ((b >>> 17) | (b << 15)) ^ ((b >>> 19) | (b << 13)) ^ (b >>> 10);
    w[i] = ((w[i - 16] as number) + s0 + (w[i - 7] as number) + s1) | 0;
  }
  let a = s[0] as number;
  let b = s[1] as number;
  let c = s[2] as number;
  let d = s[3] as number;
  let e = s[4] as number;
  let f = s[5] as number;
  let g = s[6] as number;
  let h = s[7] as number;
  for (let i = 0; i < 64; i++) {
    const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const ch = (e & f) ^ (~e & g);
    const t1 = (h + S1 + ch + (K[i] as number) + (w[i] as number)) | 0;
    const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const maj = (a & b) ^ (a & c) ^ (b & c);
    const t2 = (S0 + maj) | 0;
    h = g;
    g = f;
    f = e;
    e = (d + t1) | 0;
    d = c;
    c = b;
    b = a;
    a = (t1 + t2) | 0;
  }
  s[0] = ((s[0] as number) + a) | 0;
  s[1] = ((s[1] as number) + b) | 0;
  s[2] = ((s[2] as number) + c) | 0;
  s[3] = ((s[3] as number) + d) | 0;
  s[4] = ((s[4] as number) + e) | 0;
  s[5] = ((s[5] as number) + f) | 0;
  s[6] = ((s[6] as number) + g) | 0;
  s[7] = ((s[7] as number) + h) | 0;
}
