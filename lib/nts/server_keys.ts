/**
 * The NTS server key file (`ntsdumpdir`/ntskeys) of chronyd 4.3 (`NKS0`)
 * and chronyd 4.8 (`NKS1`), and cookies under a server key whose AEAD is
 * AES-128-GCM-SIV (30).
 *
 * Formats, as observed from the real daemons (chronyd 4.3 and 4.8 run on
 * loopback with `ntsdumpdir`, their files read back, hand-made files fed to
 * them with `ntsrotate 0` and their cookies checked by key id):
 *
 * - `NKS0` (chronyd 4.3; 4.8 still reads it): `NKS0`; `AEAD AGE` (one AEAD
 *   for all keys, 15, and the seconds since the last rotation, one decimal);
 *   four lines `ID KEY` (8 and 64 upper-case hex digits).
 * - `NKS1` (chronyd 4.8 writes it whenever it saves): `NKS1`; `AGE`; four
 *   lines `ID KEY AEAD`, each key with its own AEAD id. chronyd 4.3 refuses
 *   an `NKS1` file (with `ntsrotate 0` it then serves under fresh random keys
 *   nobody else has, so its cookies are refused by the other servers).
 *
 * Common to both: the keys are listed oldest first, the third is the
 * current key and the fourth the next one; successive keys take successive
 * slots (the low two bits of the id). chronyd 4.8 (and 4.3 for `NKS0`)
 * refuses a file whose ids do not, one with fewer than four keys, an unknown
 * AEAD, or a key of the wrong length for its AEAD, and reads no line after
 * the fourth key: horae does the same, naming the line and the reason.
 *
 * What horae writes: `NKS0` while every key is an AES-SIV-CMAC-256 key (the
 * keys horae makes are, unless it rotates keys loaded for AEAD 30): both
 * chronyd 4.3 and 4.8 read it, so a pool mixing 4.3, 4.8 and horae can share
 * the file horae writes. `NKS1` only when a key has another AEAD (loaded
 * from a chronyd 4.8 built with AES-128-GCM-SIV): `NKS0` cannot say that,
 * and 4.3 could not use such a key anyway.
 *
 * A chronyd 4.8 whose crypto library has AES-128-GCM-SIV makes its server
 * keys for AEAD 30 (16-byte keys; chrony.conf(5) 4.8, `ntsaeads`: GCM-SIV
 * is preferred for its shorter cookies). The 4.8 built on this machine
 * (Nettle 3.8) has no AES-128-GCM-SIV, refuses a file with AEAD 30 keys
 * ("Could not load server NTS keys") and makes AEAD 15 keys, so the AEAD 30
 * layout below was learned from chrony's published source text (facts only,
 * nothing copied) and NOT checked against a real daemon. A cookie under such
 * a key: key id
 * (4 bytes) || nonce (12 bytes, AES-128-GCM-SIV's only nonce length) ||
 * AES-128-GCM-SIV(server key, nonce, empty AD, C2S || S2C) (the ciphertext,
 * then the 16-byte tag): 96 bytes for AES-SIV-CMAC-256 client keys, 64 for
 * AES-128-GCM-SIV ones. Lengths tell the two key kinds apart: a key for 15
 * makes 100 or 68 bytes. A request carrying a 96-byte cookie answered under
 * an AES-SIV current key (100-byte cookies) may not fit the request's length
 * and gets no reply (so chronyd only moves from 15 to 30): horae's ring makes
 * its next key for AEAD 30 when the last one is.
 *
 * Sans-IO: text in, text out; the daemon does the (atomic) file writes.
 *
 * @example
 * ```ts
 * import { formatServerKeyFile, parseServerKeyFile } from "./server_keys.ts";
 * const keys = [0, 1, 2, 3].map((i) => ({ id: 0x100 + i, key: new Uint8Array(32) }));
 * const text = formatServerKeyFile(keys, 1.5); // "NKS0\n15 1.5\n00000100 00…"
 * parseServerKeyFile(text).keys.length; // 4
 * ```
 * @module
 */

import { AES_128_GCM_SIV, AES_SIV_CMAC_256 } from "../crypto/aead.ts";

/** One server key that encrypts cookies (the key ring is `cookie.ts`'s `ServerKeyRing`). */
export interface ServerKey {
  /** 32-bit id written in front of each cookie. */
  id: number;
  /** 32-byte AES-SIV-CMAC-256 key (16 bytes for AEAD 30). */
  key: Uint8Array;
  /** AEAD id of the key when not 15 (30: a chronyd 4.8 key). */
  aead?: number;
}

/** A malformed ntsdumpdir file. */
export class NtsDumpError extends Error {
  override name = "NtsDumpError";
  constructor(readonly line: number, message: string) {
    super(`line ${line}: ${message}`);
  }
}

/** First line of chronyd 4.3's key file (one AEAD for all keys). */
export const SERVER_KEYS_MAGIC_NKS0 = "NKS0";
/** First line of chronyd 4.8's key file (an AEAD per key). */
export const SERVER_KEYS_MAGIC_NKS1 = "NKS1";

/** Keys in a key file. */
const KEYS_IN_FILE = 4;
/** Nonce of a cookie under an AES-128-GCM-SIV server key, bytes. */
export const GCM_KEY_COOKIE_NONCE_LENGTH = 12;
/** A cookie of AES-SIV-CMAC-256 client keys under an AES-128-GCM-SIV server key. */
export const GCM_KEY_COOKIE_LENGTH = 4 + GCM_KEY_COOKIE_NONCE_LENGTH + 64 + 16;
/** A cookie of AES-128-GCM-SIV client keys under an AES-128-GCM-SIV server key. */
export const GCM_KEY_COOKIE_LENGTH_128GCM = 4 + GCM_KEY_COOKIE_NONCE_LENGTH + 32 + 16;

/** The AEADs a server key can be for, by id. */
const KEY_AEADS = new Map([[AES_SIV_CMAC_256.id, AES_SIV_CMAC_256], [
  AES_128_GCM_SIV.id,
  AES_128_GCM_SIV,
]]);

/** The AEAD id of a server key (15 when it has none). */
export function serverKeyAead(key: ServerKey): number {
  return key.aead ?? AES_SIV_CMAC_256.id;
}

/** The key length a server key must have for its AEAD (0 for an unknown AEAD). */
export function serverKeyLength(key: ServerKey): number {
  return KEY_AEADS.get(serverKeyAead(key))?.keyLength ?? 0;
}

/** A key file's content. */
export interface ServerKeyFile {
  /** Oldest first, the third current: four of them. */
  keys: ServerKey[];
  /** Seconds since the last rotation. */
  age: number;
  /** The format read. */
  magic: typeof SERVER_KEYS_MAGIC_NKS0 | typeof SERVER_KEYS_MAGIC_NKS1;
}

function hex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("").toUpperCase();
}

function aeadOf(field: string, line: number): number {
  if (!/^\d{1,5}$/.test(field)) throw new NtsDumpError(line, `bad AEAD id "${field}"`);
  const id = Number(field);
  if (!KEY_AEADS.has(id)) {
    throw new NtsDumpError(line, `unsupported AEAD ${id} (server keys: 15 or 30)`);
  }
  return id;
}

/**
 * Parses an `NKS0` or `NKS1` key file. Throws {@linkcode NtsDumpError}
 * (line and reason) for anything chronyd would refuse; lines after the
 * fourth key are not read (as chronyd). Keys for AEAD 15 carry no `aead`;
 * others do.
 */
export function parseServerKeyFile(text: string): ServerKeyFile {
  const lines = text.split("\n");
  const magic = lines[0];
  if (magic !== SERVER_KEYS_MAGIC_NKS0 && magic !== SERVER_KEYS_MAGIC_NKS1) {
    throw new NtsDumpError(1, `not an NTS server key file ("NKS0" or "NKS1" expected)`);
  }
  const nks0 = magic === SERVER_KEYS_MAGIC_NKS0;
  const head = (lines[1] ?? "").trim().split(/\s+/);
  if (head.length !== (nks0 ? 2 : 1)) {
    throw new NtsDumpError(
      2,
      `not "${nks0 ? "AEAD AGE" : "AGE"}": "${(lines[1] ?? "").slice(0, 100)}"`,
    );
  }
  const fileAead = nks0 ? aeadOf(head[0]!, 2) : 0;
  const ageField = head[head.length - 1]!;
  if (!/^\d+(\.\d*)?$/.test(ageField)) throw new NtsDumpError(2, `bad key age "${ageField}"`);
  const keys: ServerKey[] = [];
  // As chronyd 4.3 and 4.8: the first four key lines count, later lines are not read.
  for (let i = 2; i < lines.length && keys.length < KEYS_IN_FILE; i++) {
    const n = i + 1;
    const raw = lines[i]!;
    const f = raw.trim().split(/\s+/);
    if (f[0] === "") {
      if (lines.slice(i).every((l) => l.trim() === "")) break;
      throw new NtsDumpError(n, "empty line before the end");
    }
    if (f.length !== (nks0 ? 2 : 3) || !/^[0-9a-f]{8}$/i.test(f[0]!)) {
      throw new NtsDumpError(
        n,
        `not an "${nks0 ? "ID KEY" : "ID KEY AEAD"}" line: "${raw.slice(0, 100)}"`,
      );
    }
    const aead = nks0 ? fileAead : aeadOf(f[2]!, n);
    const length = KEY_AEADS.get(aead)!.keyLength;
    if (!new RegExp(`^[0-9a-f]{${2 * length}}$`, "i").test(f[1]!)) {
      throw new NtsDumpError(n, `key is not ${length} bytes of hex (AEAD ${aead})`);
    }
    const id = parseInt(f[0]!, 16) >>> 0;
    const prev = keys[keys.length - 1];
    if (prev && ((id - prev.id) & 3) !== 1) {
      throw new NtsDumpError(n, `key ${f[0]} does not take the slot after the previous key's`);
    }
    const key: ServerKey = {
      id,
      key: Uint8Array.from(f[1]!.match(/../g)!, (h) => parseInt(h, 16)),
    };
    if (aead !== AES_SIV_CMAC_256.id) key.aead = aead;
    keys.push(key);
  }
  if (keys.length !== KEYS_IN_FILE) {
    throw new NtsDumpError(lines.length, `${keys.length} keys, not ${KEYS_IN_FILE}`);
  }
  return { keys, age: Number(ageField), magic };
}

/**
 * The key file for `keys` (oldest first) last rotated `age` seconds ago:
 * `NKS0` when all are AES-SIV-CMAC-256 keys (read by chronyd 4.3 and 4.8),
 * else `NKS1` (see the module doc).
 */
export function formatServerKeyFile(keys: readonly ServerKey[], age: number): string {
  const nks0 = keys.every((k) => serverKeyAead(k) === AES_SIV_CMAC_256.id);
  const lines = nks0
    ? [SERVER_KEYS_MAGIC_NKS0, `${AES_SIV_CMAC_256.id} ${age.toFixed(1)}`]
    : [SERVER_KEYS_MAGIC_NKS1, age.toFixed(1)];
  for (const k of keys) {
    const line = `${k.id.toString(16).padStart(8, "0").toUpperCase()} ${hex(k.key)}`;
    lines.push(nks0 ? line : `${line} ${serverKeyAead(k)}`);
  }
  return lines.join("\n") + "\n";
}

/** Writes a cookie's first field, the server key id `id` (big-endian), at `out[at]`. */
export function putCookieKeyId(out: Uint8Array, at: number, id: number): void {
  out[at] = id >>> 24;
  out[at + 1] = (id >>> 16) & 0xff;
  out[at + 2] = (id >>> 8) & 0xff;
  out[at + 3] = id & 0xff;
}

/** The server key id a cookie at `buf[at]` starts with. */
export function cookieKeyId(buf: Uint8Array, at: number): number {
  return ((buf[at]! << 24) | (buf[at + 1]! << 16) | (buf[at + 2]! << 8) | buf[at + 3]!) >>> 0;
}

/**
 * Seals the keys in `plain` (AEAD id, 0x0000, C2S, S2C: 64 key bytes, or 32
 * for AEAD 30) into a cookie under the AES-128-GCM-SIV server key `key` at
 * `out[outAt]` ({@linkcode GCM_KEY_COOKIE_LENGTH} or
 * {@linkcode GCM_KEY_COOKIE_LENGTH_128GCM} bytes), with the nonce
 * `nonce[nonceAt, +12)`.
 */
export function sealUnderGcmSivKey(
  key: ServerKey,
  plain: Uint8Array,
  nonce: Uint8Array,
  nonceAt: number,
  out: Uint8Array,
  outAt: number,
): void {
  const n = plain[0] === 0 && plain[1] === AES_128_GCM_SIV.id ? 32 : 64;
  const iv = nonce.subarray(nonceAt, nonceAt + GCM_KEY_COOKIE_NONCE_LENGTH);
  const sealed = AES_128_GCM_SIV.seal(key.key, iv, new Uint8Array(0), plain.subarray(4, 4 + n));
  putCookieKeyId(out, outAt, key.id);
  out.set(iv, outAt + 4);
  out.set(sealed, outAt + 4 + GCM_KEY_COOKIE_NONCE_LENGTH);
}

/**
 * Opens the cookie `buf[at, +len)` made under an AES-128-GCM-SIV key of
 * `keys` into `plain` (AEAD id, 0x0000, C2S, S2C; the client's AEAD told by
 * the length). False when the length is not a GCM-SIV key cookie's, no key
 * of `keys` has its id and AEAD 30, or it was altered.
 */
export function openUnderGcmSivKey(
  keys: readonly ServerKey[],
  buf: Uint8Array,
  at: number,
  len: number,
  plain: Uint8Array,
): boolean {
  if (len !== GCM_KEY_COOKIE_LENGTH && len !== GCM_KEY_COOKIE_LENGTH_128GCM) return false;
  const id = cookieKeyId(buf, at);
  const key = keys.find((k) => k.id === id && serverKeyAead(k) === AES_128_GCM_SIV.id);
  if (!key) return false;
  const nonceAt = at + 4;
  const opened = AES_128_GCM_SIV.open(
    key.key,
    buf.subarray(nonceAt, nonceAt + GCM_KEY_COOKIE_NONCE_LENGTH),
    new Uint8Array(0),
    buf.subarray(nonceAt + GCM_KEY_COOKIE_NONCE_LENGTH, at + len),
  );
  if (!opened) return false;
  const aead = len === GCM_KEY_COOKIE_LENGTH ? AES_SIV_CMAC_256.id : AES_128_GCM_SIV.id;
  plain[0] = aead >> 8;
  plain[1] = aead & 0xff;
  plain[2] = 0;
  plain[3] = 0;
  plain.set(opened, 4);
  return true;
}
