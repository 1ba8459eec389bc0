/**
 * NTS for NTP packets (RFC 8915 §5.3–5.7) on raw bytes: a 48-byte NTP header
 * followed by extension fields (RFC 7822). The header itself is built and read
 * by lib/ntp; this module adds, checks and strips the NTS fields.
 *
 * - client: {@linkcode buildNtsRequest} adds Unique Identifier, Cookie,
 *   Cookie Placeholders and the Authenticator (AEAD over everything before it);
 *   {@linkcode verifyNtsReply} checks the reply and returns the new cookies.
 * - server: {@linkcode verifyNtsRequest} opens the cookie and checks the
 *   Authenticator; {@linkcode buildNtsReply} returns new cookies encrypted
 *   with the S2C key; {@linkcode buildNtsNak} makes the NTSN kiss-o'-death.
 *
 * Random bytes (unique identifier, nonces) are parameters.
 *
 * @example
 * ```ts
 * import { buildNtsRequest } from "./ntp_auth.ts";
 * import { AES_SIV_CMAC_256 } from "./siv.ts";
 * const pkt = buildNtsRequest(new Uint8Array(48), {
 *   uniqueId: new Uint8Array(32), cookie: new Uint8Array(100), placeholders: 0,
 *   aead: AES_SIV_CMAC_256, c2s: new Uint8Array(32), nonce: new Uint8Array(16),
 * });
 * pkt.length; // 48 + 36 + 104 + 40
 * ```
 * @module
 */

import {
  EF_HEADER_LENGTH,
  EF_MIN_LENGTH,
  EF_NTS_AUTH_AND_EEF,
  EF_NTS_COOKIE,
  EF_NTS_COOKIE_PLACEHOLDER,
  EF_NTS_UNIQUE_IDENTIFIER,
  encodeExtensionField,
  type ExtensionField,
  readExtensionField,
} from "../ntp/extension_field.ts";
import type { CookieKeys } from "./cookie.ts";
import { type Aead, aeadById } from "./siv.ts";

/** NTP header length, bytes. RFC 5905 §7.3. */
const HEADER_LENGTH = 48;
/** Unique Identifier length horae sends, bytes (at least 32). RFC 8915 §5.3. */
export const UNIQUE_ID_LENGTH = 32;
/** Nonce length horae sends in an Authenticator, bytes. RFC 8915 §5.6 (at least 16). */
export const NTS_NONCE_LENGTH = 16;
/** Shortest nonce of any AEAD horae implements (AES-128-GCM-SIV's 12 bytes; AES-SIV needs 16). */
export const MIN_NONCE_LENGTH = 12;
/** Cookies a server returns at most per request. RFC 8915 §5.7 (chrony: 8). */
export const MAX_REPLY_COOKIES = 8;
/** AES-SIV tag length, the shortest ciphertext. RFC 5297 §2.6. */
const SIV_TAG_LENGTH = 16;
/** Kiss code of an NTS NAK, as the reference id. RFC 8915 §5.7. */
export const KISS_NTSN = 0x4e54534e; // "NTSN"

/** Why NTS processing of a packet failed. */
export type NtsAuthErrorKind =
  | "malformed" // extension fields do not parse, or a required field is missing/duplicated
  | "unique-id" // reply's Unique Identifier missing or not ours
  | "cookie" // the server cannot open the cookie (unknown key, altered)
  | "auth" // Authenticator does not verify
  | "aead"; // unsupported AEAD

/** A typed NTS packet failure. `nak` says whether a server should answer with NTSN. */
export class NtsAuthError extends Error {
  override name = "NtsAuthError";
  constructor(readonly kind: NtsAuthErrorKind, message: string, readonly nak = false) {
    super(message);
  }
}

/** An extension field with its position in the packet. */
interface PlacedField extends ExtensionField {
  offset: number;
  length: number;
}

/** Splits the extension fields after the header; all remaining bytes must be fields. */
function splitFields(packet: Uint8Array): PlacedField[] {
  if (packet.length < HEADER_LENGTH) {
    throw new NtsAuthError("malformed", `packet of ${packet.length} bytes`);
  }
  const out: PlacedField[] = [];
  let o = HEADER_LENGTH;
  while (o < packet.length) {
    const ef = readExtensionField(packet, o, packet.length);
    if (!ef) throw new NtsAuthError("malformed", `no valid extension field at byte ${o}`);
    out.push({ ...ef.field, offset: o, length: ef.length });
    o += ef.length;
  }
  return out;
}

/** Extension fields inside a decrypted plaintext. */
function splitPlain(plain: Uint8Array): ExtensionField[] {
  const out: ExtensionField[] = [];
  let o = 0;
  while (o < plain.length) {
    const ef = readExtensionField(plain, o, plain.length);
    if (!ef) throw new NtsAuthError("malformed", "bad encrypted extension field");
    out.push(ef.field);
    o += ef.length;
  }
  return out;
}

function pad4(n: number): number {
  return (n + 3) & ~3;
}

/** Authenticator body: nonce length, ciphertext length, nonce, ciphertext (each padded). RFC 8915 §5.6. */
function authenticatorBody(nonce: Uint8Array, ciphertext: Uint8Array): Uint8Array {
  const body = new Uint8Array(4 + pad4(nonce.length) + pad4(ciphertext.length));
  const v = new DataView(body.buffer);
  v.setUint16(0, nonce.length);
  v.setUint16(2, ciphertext.length);
  body.set(nonce, 4);
  body.set(ciphertext, 4 + pad4(nonce.length));
  return body;
}

function readAuthenticator(body: Uint8Array): { nonce: Uint8Array; ciphertext: Uint8Array } {
  if (body.length < 4) throw new NtsAuthError("malformed", "short Authenticator field");
  const v = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const nl = v.getUint16(0);
  const cl = v.getUint16(2);
  const ctAt = 4 + pad4(nl);
  if (nl === 0 || ctAt + cl > body.length) {
    throw new NtsAuthError("malformed", "Authenticator lengths out of bounds");
  }
  return { nonce: body.subarray(4, 4 + nl), ciphertext: body.subarray(ctAt, ctAt + cl) };
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Appends an Authenticator sealing `plaintext` over `prefix` (the associated data). */
function seal(
  prefix: Uint8Array,
  aead: Aead,
  key: Uint8Array,
  nonce: Uint8Array,
  plaintext: Uint8Array,
): Uint8Array {
  const ct = aead.seal(key, nonce, prefix, plaintext);
  const auth = encodeExtensionField({
    type: EF_NTS_AUTH_AND_EEF,
    body: authenticatorBody(nonce, ct),
  });
  return concat([prefix, auth]);
}

/** Inputs of an NTS client request. */
export interface NtsRequestParts {
  /** Random unique identifier, {@linkcode UNIQUE_ID_LENGTH} bytes. */
  uniqueId: Uint8Array;
  /** One cookie from the jar. */
  cookie: Uint8Array;
  /** Cookie placeholders to add (each as long as the cookie). */
  placeholders: number;
  aead: Aead;
  /** Client-to-server key. */
  c2s: Uint8Array;
  /** Random nonce, {@linkcode NTS_NONCE_LENGTH} bytes. */
  nonce: Uint8Array;
}

/** Appends the NTS fields to a 48-byte client request header. */
export function buildNtsRequest(header: Uint8Array, parts: NtsRequestParts): Uint8Array {
  const fields: Uint8Array[] = [
    header.subarray(0, HEADER_LENGTH),
    encodeExtensionField({ type: EF_NTS_UNIQUE_IDENTIFIER, body: parts.uniqueId }),
    encodeExtensionField({ type: EF_NTS_COOKIE, body: parts.cookie }),
  ];
  const placeholder = encodeExtensionField({
    type: EF_NTS_COOKIE_PLACEHOLDER,
    body: new Uint8Array(parts.cookie.length),
  });
  for (let i = 0; i < parts.placeholders; i++) fields.push(placeholder);
  return seal(concat(fields), parts.aead, parts.c2s, parts.nonce, new Uint8Array(0));
}

/** An authenticated NTS request, as the server sees it. */
export interface VerifiedNtsRequest {
  uniqueId: Uint8Array;
  /** Keys from the cookie (C2S verified the request; S2C encrypts the reply). */
  keys: CookieKeys;
  /** Cookies to return: one per Cookie and Placeholder (also encrypted ones), at most 8. */
  cookiesWanted: number;
  /** Extension fields that were inside the Authenticator's ciphertext. */
  encryptedFields: ExtensionField[];
}

/**
 * Where the NTS fields of a request are: offsets into the packet, filled by
 * {@linkcode scanNtsRequest} and {@linkcode readAuthenticatorLayout} without
 * allocating (the server's hot path).
 */
export class NtsRequestLayout {
  /** First Unique Identifier field: start and whole length (header included). */
  uidAt = 0;
  uidLength = 0;
  /** Bytes of all Unique Identifier fields together (each is echoed in the reply). */
  uidTotal = 0;
  /** Cookie body: start and length. */
  cookieAt = 0;
  cookieLength = 0;
  /** Authenticator field start: the authenticated data is `packet[0, authAt)`. */
  authAt = 0;
  /** Authenticator field length (header included). */
  authLength = 0;
  nonceAt = 0;
  nonceLength = 0;
  ciphertextAt = 0;
  ciphertextLength = 0;
  /** Cookie and Cookie Placeholder fields outside the Authenticator. */
  cookiesRequested = 0;
  /** Cookies to return: one per Cookie and Placeholder (also encrypted ones), at most 8. */
  cookiesWanted = 0;
}

function u16(b: Uint8Array, o: number): number {
  return (b[o]! << 8) | b[o + 1]!;
}

/** True when `b[at, end)` is a sequence of valid extension fields (RFC 7822). */
export function validFields(b: Uint8Array, at: number, end: number): boolean {
  let o = at;
  while (o < end) {
    if (end - o < EF_MIN_LENGTH) return false;
    const len = u16(b, o + 2);
    if (len < EF_MIN_LENGTH || len % 4 !== 0 || len > end - o) return false;
    o += len;
  }
  return true;
}

/**
 * Finds the NTS fields of a client request of `len` bytes, with the rules
 * chronyd 4.3 applies before it opens the cookie (RFC 8915 §5.7; observed on
 * loopback): every byte after the header is an extension field; at least one
 * Unique Identifier (of any length; all are echoed), exactly one Cookie, the
 * Cookie and every Placeholder of one length, and an Authenticator that is
 * the last field. Returns null when the layout is filled, else why the
 * request is dropped (no NAK). The Authenticator's contents are read by
 * {@linkcode readAuthenticatorLayout}: their faults get a NAK.
 */
export function scanNtsRequest(
  packet: Uint8Array,
  len: number,
  layout: NtsRequestLayout,
): string | null {
  if (len < HEADER_LENGTH) return `packet of ${len} bytes`;
  if (!validFields(packet, HEADER_LENGTH, len)) return "extension fields do not parse";
  let uidAt = -1, uidTotal = 0, cookieAt = -1, authAt = -1, requested = 0, sameLength = -1;
  for (let o = HEADER_LENGTH; o < len; o += u16(packet, o + 2)) {
    const type = u16(packet, o), fieldLength = u16(packet, o + 2);
    if (type === EF_NTS_UNIQUE_IDENTIFIER) {
      if (uidAt < 0) uidAt = o;
      uidTotal += fieldLength;
    } else if (type === EF_NTS_COOKIE || type === EF_NTS_COOKIE_PLACEHOLDER) {
      if (type === EF_NTS_COOKIE) {
        if (cookieAt >= 0) return "two Cookie fields";
        cookieAt = o;
      }
      if (sameLength >= 0 && fieldLength !== sameLength) return "Cookie/Placeholder lengths differ";
      sameLength = fieldLength;
      requested++;
    } else if (type === EF_NTS_AUTH_AND_EEF) {
      if (o + fieldLength !== len) return "Authenticator is not the last field";
      authAt = o;
    }
  }
  if (uidAt < 0 || cookieAt < 0 || authAt < 0) {
    return "no Unique Identifier, Cookie or Authenticator";
  }
  layout.uidAt = uidAt;
  layout.uidLength = u16(packet, uidAt + 2);
  layout.uidTotal = uidTotal;
  layout.cookieAt = cookieAt + EF_HEADER_LENGTH;
  layout.cookieLength = u16(packet, cookieAt + 2) - EF_HEADER_LENGTH;
  layout.authAt = authAt;
  layout.authLength = len - authAt;
  layout.cookiesRequested = requested;
  layout.cookiesWanted = Math.min(MAX_REPLY_COOKIES, requested);
  return null;
}

/**
 * Reads the Authenticator found by {@linkcode scanNtsRequest} (RFC 8915
 * §5.6: nonce length, ciphertext length, nonce, ciphertext, padding): false
 * when its nonce is shorter than 12 bytes (the AEAD's own minimum is checked
 * once the cookie tells it: 16 for AES-SIV), its ciphertext shorter than the
 * AES-SIV tag or either runs past the field (chronyd answers those with a
 * NAK).
 */
export function readAuthenticatorLayout(packet: Uint8Array, layout: NtsRequestLayout): boolean {
  const body = layout.authAt + EF_HEADER_LENGTH;
  const bodyLength = layout.authLength - EF_HEADER_LENGTH;
  const nl = u16(packet, body), cl = u16(packet, body + 2);
  const ctOffset = 4 + pad4(nl);
  if (nl < MIN_NONCE_LENGTH || cl < SIV_TAG_LENGTH || ctOffset + cl > bodyLength) return false;
  layout.nonceAt = body + 4;
  layout.nonceLength = nl;
  layout.ciphertextAt = body + ctOffset;
  layout.ciphertextLength = cl;
  return true;
}

/**
 * Server side: checks an NTS client request. Throws NtsAuthError; when its
 * `nak` is true the server should reply with {@linkcode buildNtsNak} using
 * {@linkcode requestUniqueId}. (The NTP server itself uses the allocation-free
 * {@linkcode scanNtsRequest} path in `server_auth.ts`, with the same checks.)
 */
export function verifyNtsRequest(
  packet: Uint8Array,
  openCookie: (cookie: Uint8Array) => CookieKeys | null,
): VerifiedNtsRequest {
  const l = new NtsRequestLayout();
  const why = scanNtsRequest(packet, packet.length, l);
  if (why !== null) throw new NtsAuthError("malformed", why);
  const keys = openCookie(packet.slice(l.cookieAt, l.cookieAt + l.cookieLength));
  if (!keys) throw new NtsAuthError("cookie", "cookie cannot be opened", true);
  if (!readAuthenticatorLayout(packet, l)) {
    throw new NtsAuthError("auth", "Authenticator lengths out of bounds", true);
  }
  const aead = aeadById(keys.aead);
  if (!aead) throw new NtsAuthError("aead", `cookie for unsupported AEAD ${keys.aead}`, true);
  if (l.nonceLength < aead.nonceLength) {
    throw new NtsAuthError("auth", "Authenticator nonce too short", true);
  }
  const plain = aead.open(
    keys.c2s,
    packet.subarray(l.nonceAt, l.nonceAt + l.nonceLength),
    packet.subarray(0, l.authAt),
    packet.subarray(l.ciphertextAt, l.ciphertextAt + l.ciphertextLength),
  );
  if (!plain) throw new NtsAuthError("auth", "request Authenticator does not verify", true);
  const encryptedFields = splitPlain(plain);
  const more = encryptedFields.filter((f) => f.type === EF_NTS_COOKIE_PLACEHOLDER).length;
  return {
    uniqueId: packet.slice(l.uidAt + EF_HEADER_LENGTH, l.uidAt + l.uidLength),
    keys,
    cookiesWanted: Math.min(MAX_REPLY_COOKIES, l.cookiesRequested + more),
    encryptedFields,
  };
}

/** The Unique Identifier of a request, if it has one (for a NAK). Never throws. */
export function requestUniqueId(packet: Uint8Array): Uint8Array | null {
  try {
    return splitFields(packet).find((f) => f.type === EF_NTS_UNIQUE_IDENTIFIER)?.body ?? null;
  } catch (e) {
    if (!(e instanceof NtsAuthError)) throw e;
    return null; // malformed fields: no identifier to put in a NAK
  }
}

/** Inputs of an NTS server reply. */
export interface NtsReplyParts {
  /** The request's Unique Identifier, echoed. */
  uniqueId: Uint8Array;
  aead: Aead;
  /** Server-to-client key from the request's cookie. */
  s2c: Uint8Array;
  /** New cookies for the client (encrypted in the Authenticator). */
  cookies: readonly Uint8Array[];
  /** Random nonce, {@linkcode NTS_NONCE_LENGTH} bytes. */
  nonce: Uint8Array;
}

/** Appends the NTS fields to a 48-byte server reply header. */
export function buildNtsReply(header: Uint8Array, parts: NtsReplyParts): Uint8Array {
  const prefix = concat([
    header.subarray(0, HEADER_LENGTH),
    encodeExtensionField({ type: EF_NTS_UNIQUE_IDENTIFIER, body: parts.uniqueId }),
  ]);
  const plain = concat(
    parts.cookies.map((c) => encodeExtensionField({ type: EF_NTS_COOKIE, body: c })),
  );
  return seal(prefix, parts.aead, parts.s2c, parts.nonce, plain);
}

/**
 * An NTS NAK (RFC 8915 §5.7): the header made a kiss-o'-death (stratum 0,
 * reference id "NTSN") plus the request's Unique Identifier, no Authenticator.
 */
export function buildNtsNak(header: Uint8Array, uniqueId: Uint8Array): Uint8Array {
  const h = header.slice(0, HEADER_LENGTH);
  const v = new DataView(h.buffer);
  v.setUint8(1, 0); // stratum 0: kiss-o'-death. RFC 5905 §7.4
  v.setUint32(12, KISS_NTSN);
  return concat([h, encodeExtensionField({ type: EF_NTS_UNIQUE_IDENTIFIER, body: uniqueId })]);
}

/** Result of checking a reply on the client. */
export type NtsReplyCheck =
  | {
    kind: "ok";
    /** New cookies (only those inside the authenticated ciphertext). */
    cookies: Uint8Array[];
    /** All extension fields that were encrypted. */
    encryptedFields: ExtensionField[];
  }
  | { kind: "nak" };

/**
 * Client side: checks a reply against the request's unique id and the S2C
 * key. An NTS NAK (kiss code NTSN, our unique id, no Authenticator) gives
 * `{kind: "nak"}`: the client should run NTS-KE again. Throws NtsAuthError
 * for anything else that is not an authentic reply.
 */
export function verifyNtsReply(
  packet: Uint8Array,
  expected: { uniqueId: Uint8Array; aead: Aead; s2c: Uint8Array },
): NtsReplyCheck {
  const fields = splitFields(packet);
  const uid = fields.find((f) => f.type === EF_NTS_UNIQUE_IDENTIFIER);
  if (!uid || !sameBytes(trimTo(uid.body, expected.uniqueId.length), expected.uniqueId)) {
    throw new NtsAuthError("unique-id", "reply does not carry our Unique Identifier");
  }
  const auth = fields.find((f) => f.type === EF_NTS_AUTH_AND_EEF);
  if (!auth) {
    const v = new DataView(packet.buffer, packet.byteOffset, packet.byteLength);
    if (packet[1] === 0 && v.getUint32(12) === KISS_NTSN) return { kind: "nak" };
    throw new NtsAuthError("auth", "reply without Authenticator");
  }
  const { nonce, ciphertext } = readAuthenticator(auth.body);
  const plain = expected.aead.open(
    expected.s2c,
    nonce,
    packet.subarray(0, auth.offset),
    ciphertext,
  );
  if (!plain) throw new NtsAuthError("auth", "reply Authenticator does not verify");
  const encryptedFields = splitPlain(plain);
  const cookies = encryptedFields.filter((f) => f.type === EF_NTS_COOKIE).map((f) => f.body);
  return { kind: "ok", cookies, encryptedFields };
}

function trimTo(b: Uint8Array, n: number): Uint8Array {
  return b.length >= n ? b.subarray(0, n) : b;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i]! ^ b[i]!;
  return d === 0;
}
