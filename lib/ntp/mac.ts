/**
 * Symmetric-key MACs of NTP packets (RFC 5905 §7.3 and §9, RFC 8573),
 * sans-IO and over raw packet bytes. The MAC trailer is a 4-byte key ID
 * followed by the digest:
 * - hash keys (MD5, SHA1, SHA2, SHA3): digest = H(key ‖ packet), where
 *   packet is every byte before the trailer (header and extension fields);
 * - AES128/AES256 keys: digest = AES-CMAC(key, packet) (RFC 4493, RFC 8573),
 *   16 bytes, computed by lib/crypto (`cmac.ts`).
 *
 * Lengths, measured with chronyd 4.3 on loopback (tests/ntp/mac_test.ts holds
 * the captured packets): in an NTPv4 packet the digest is cut to 20 bytes
 * (RFC 7822 §7.5 allows a MAC of at most 24 bytes after the header), and a
 * v4 request with the full 32- or 64-byte digest gets no answer; in NTPv1-3
 * the whole digest is sent, and a cut one gets no answer. The chronyd client
 * therefore sends NTPv3 requests with keys longer than 160 bits
 * ({@link defaultVersionForKey}). Digests are compared in constant time.
 *
 * @example
 * ```ts
 * import { signPacket, verifyPacket } from "./mac.ts";
 * const key = { id: 1, type: "MD5" as const, key: new TextEncoder().encode("tulip"), line: 1 };
 * const req = new Uint8Array(48);
 * req[0] = 0x23; // v4, client
 * const signed = signPacket(req, key); // 48 + 4 + 16 bytes
 * verifyPacket(signed, (id) => (id === 1 ? key : undefined)).kind; // "ok"
 * ```
 * @module
 */
import type * as NodeCrypto from "node:crypto";
import type * as Cmac from "../crypto/cmac.ts";
import type { KeyType, SymmetricKey } from "./keyfile.ts";

/** NTP header length. RFC 5905 §7.3. */
const HEADER = 48;
/** Key ID bytes of a MAC. RFC 5905 §7.3. */
const KEY_ID_LENGTH = 4;
/** Longest MAC (key ID + digest) in an NTPv4 packet. RFC 7822 §7.5. */
export const MAX_V4_MAC_LENGTH = 24;
/** Longest digest sent in NTPv4: 24 - 4 bytes. */
export const MAX_V4_DIGEST_LENGTH = MAX_V4_MAC_LENGTH - KEY_ID_LENGTH;
/** AES block and CMAC length, bytes. RFC 4493. */
const AES_BLOCK = 16;

const HASH_NAMES: Partial<Record<KeyType, string>> = {
  MD5: "md5",
  SHA1: "sha1",
  SHA256: "sha256",
  SHA384: "sha384",
  SHA512: "sha512",
  "SHA3-224": "sha3-224",
  "SHA3-256": "sha3-256",
  "SHA3-384": "sha3-384",
  "SHA3-512": "sha3-512",
};

const FULL_LENGTH: Readonly<Record<KeyType, number>> = {
  MD5: 16,
  SHA1: 20,
  SHA256: 32,
  SHA384: 48,
  SHA512: 64,
  "SHA3-224": 28,
  "SHA3-256": 32,
  "SHA3-384": 48,
  "SHA3-512": 64,
  AES128: AES_BLOCK,
  AES256: AES_BLOCK,
};

/** Full digest length of a key type, bytes. */
export function fullDigestLength(type: KeyType): number {
  return FULL_LENGTH[type];
}

/** Digest bytes sent in a packet of NTP `version` with a key of `type`. */
export function digestLength(type: KeyType, version: number): number {
  const full = FULL_LENGTH[type];
  return version === 4 ? Math.min(full, MAX_V4_DIGEST_LENGTH) : full;
}

/**
 * Default NTP version of requests with this key (chrony.conf(5) `version`):
 * 3 when the digest is longer than 160 bits, so that it is sent whole; 4
 * otherwise.
 */
export function defaultVersionForKey(type: KeyType): number {
  return FULL_LENGTH[type] > MAX_V4_DIGEST_LENGTH ? 3 : 4;
}

let nodeCrypto: typeof NodeCrypto | null = null;
let cmac: typeof Cmac | null = null;

/**
 * Loads the digests (node:crypto, and lib/crypto's AES-CMAC over OpenSSL's
 * AES) once; await it before {@linkcode computeDigest}, {@linkcode signPacket}
 * or {@linkcode verifyPacket}. A daemon without `keyfile` never does, so it
 * holds neither Node's crypto layer (issue 12: idle memory; about 6 MB) nor
 * OpenSSL.
 */
export async function loadDigests(): Promise<void> {
  nodeCrypto ??= await import("node:crypto");
  cmac ??= await import("../crypto/cmac.ts");
}

function digests(): typeof NodeCrypto {
  if (nodeCrypto === null) throw new Error("mac.ts: loadDigests() was not awaited");
  return nodeCrypto;
}

/** The full digest of `data` (the packet before its MAC) under `key`. */
export function computeDigest(key: SymmetricKey, data: Uint8Array): Uint8Array {
  const hash = HASH_NAMES[key.type];
  if (hash === undefined) {
    if (cmac === null) throw new Error("mac.ts: loadDigests() was not awaited");
    return cmac.aesCmac(key.key, data);
  }
  return new Uint8Array(digests().createHash(hash).update(key.key).update(data).digest());
}

/** Compares two byte strings in time that depends only on their lengths. */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  let diff = a.length ^ b.length;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

/**
 * Returns `packet` (header and any extension fields, no MAC) followed by
 * the MAC made with `key`, cut to the length for the packet's version.
 */
export function signPacket(packet: Uint8Array, key: SymmetricKey): Uint8Array {
  const version = ((packet[0] ?? 0) >> 3) & 7;
  const n = digestLength(key.type, version);
  const out = new Uint8Array(packet.length + KEY_ID_LENGTH + n);
  out.set(packet);
  new DataView(out.buffer).setUint32(packet.length, key.id);
  out.set(computeDigest(key, packet).subarray(0, n), packet.length + KEY_ID_LENGTH);
  return out;
}

/** Where a packet's MAC trailer is. */
export interface MacTrailer {
  /** Offset of the key ID (= length of the signed data). */
  offset: number;
  keyId: number;
  /** Digest length, bytes; 0 for a crypto-NAK (key ID only). */
  digestLength: number;
}

/**
 * Finds the MAC trailer of `bytes` (an NTP packet), or null when there is
 * none. NTPv1-3: everything after the header (4 bytes, or 20..68 in steps
 * of 4). NTPv4: extension fields are skipped (RFC 7822 §7.5) and a MAC is a
 * remainder of exactly 4 or 20..24 bytes; a longer remainder is no MAC.
 */
export function findMac(bytes: Uint8Array): MacTrailer | null {
  const len = bytes.length;
  if (len <= HEADER) return null;
  const version = (bytes[0]! >> 3) & 7;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let off = HEADER;
  if (version === 4) {
    for (;;) {
      const rem = len - off;
      if (rem === 4 || (rem >= 20 && rem <= MAX_V4_MAC_LENGTH && rem % 4 === 0)) break;
      if (rem < 16) return null;
      const efLen = view.getUint16(off + 2);
      if (efLen < 16 || efLen % 4 !== 0 || efLen > rem) return null;
      off += efLen;
    }
  } else {
    const rem = len - off;
    if (!(rem === 4 || (rem >= 20 && rem <= 68 && rem % 4 === 0))) return null;
  }
  return { offset: off, keyId: view.getUint32(off), digestLength: len - off - KEY_ID_LENGTH };
}

/** Result of {@link verifyPacket}. */
export type MacCheck =
  | { kind: "ok"; key: SymmetricKey }
  /** No MAC trailer at all. */
  | { kind: "none" }
  /** A 4-byte crypto-NAK. */
  | { kind: "nak"; keyId: number }
  /** A key ID that `lookup` does not know. */
  | { kind: "unknown-key"; keyId: number }
  /** Wrong digest, or a digest length other than the version's. */
  | { kind: "bad"; keyId: number };

/**
 * Checks the MAC of `bytes` with the key `lookup` gives for its key ID. The
 * digest must have exactly {@link digestLength} bytes for the packet's
 * version (chronyd 4.3 answers nothing else).
 */
export function verifyPacket(
  bytes: Uint8Array,
  lookup: (keyId: number) => SymmetricKey | undefined,
): MacCheck {
  const t = findMac(bytes);
  if (t === null) return { kind: "none" };
  if (t.digestLength === 0) return { kind: "nak", keyId: t.keyId };
  const key = lookup(t.keyId);
  if (key === undefined) return { kind: "unknown-key", keyId: t.keyId };
  const version = (bytes[0]! >> 3) & 7;
  const n = digestLength(key.type, version);
  const digest = bytes.subarray(t.offset + KEY_ID_LENGTH);
  const expected = computeDigest(key, bytes.subarray(0, t.offset)).subarray(0, n);
  return constantTimeEqual(digest, expected)
    ? { kind: "ok", key }
    : { kind: "bad", keyId: t.keyId };
}
