/**
 * NTS Key Establishment messages (RFC 8915 §4): the record codec, the client
 * request and server response as typed values, and the exporter context used
 * to derive the NTP keys (§5.1). Pure functions over bytes: the TLS session
 * lives in lib/io.
 *
 * @example
 * ```ts
 * import { buildClientRequest, parseClientRequest } from "./ke_records.ts";
 * const req = parseClientRequest(buildClientRequest({ aeads: [15] }));
 * req.aeads; // [15]
 * ```
 * @module
 */

/** TCP port of NTS-KE. RFC 8915 §4 (IANA "ntske"). */
export const NTS_KE_PORT = 4460;
/** ALPN protocol id of NTS-KE. RFC 8915 §4. */
export const NTS_KE_ALPN = "ntske/1";
/** RFC 5705 exporter label for the NTP keys. RFC 8915 §5.1. */
export const NTS_EXPORTER_LABEL = "EXPORTER-network-time-security";
/** Protocol id of NTPv4 in NTS Next Protocol Negotiation. RFC 8915 §7.7. */
export const NEXT_PROTOCOL_NTPV4 = 0;
/** Largest NTS-KE message horae sends or accepts, bytes (one TLS record's plaintext, RFC 8446 §5.1). */
export const MAX_KE_MESSAGE_LENGTH = 16384;

/** Record types. RFC 8915 §4.1, §7.6. */
export const RecordType = {
  END_OF_MESSAGE: 0,
  NEXT_PROTOCOL: 1,
  ERROR: 2,
  WARNING: 3,
  AEAD_ALGORITHM: 4,
  NEW_COOKIE: 5,
  NTPV4_SERVER: 6,
  NTPV4_PORT: 7,
  /**
   * chrony 4.6.1+: a non-critical empty record a client sends, and a server
   * echoes, to use RFC 8915's exporter context with AES-128-GCM-SIV (id 30
   * in the context; without it chrony 4.4-4.6 put 15 there). Private type
   * 1024, chrony's "compliant 128-GCM export" specification.
   */
  COMPLIANT_128GCM_EXPORT: 1024,
} as const;

/** Error record codes. RFC 8915 §4.1.3, §7.8. */
export const KeErrorCode = {
  UNRECOGNIZED_CRITICAL_RECORD: 0,
  BAD_REQUEST: 1,
  INTERNAL_SERVER_ERROR: 2,
} as const;

/** Critical bit of the record type word. RFC 8915 §4. */
const CRITICAL_BIT = 0x8000;

/** One NTS-KE record. */
export interface KeRecord {
  /** Record type, 15 bits. */
  type: number;
  /** The critical bit: a receiver that does not know the type must fail. */
  critical: boolean;
  body: Uint8Array;
}

/** Why an NTS-KE message was refused. */
export type NtsKeErrorKind =
  | "malformed" // framing: truncated record, missing End of Message, data after it
  | "too-long" // more than MAX_KE_MESSAGE_LENGTH bytes
  | "unrecognized-critical" // a critical record of unknown type
  | "bad-request" // records present but not a valid request/response
  | "server-error" // the server answered with an Error record
  | "no-protocol" // the server supports none of the offered next protocols
  | "no-aead"; // the server supports none of the offered AEAD algorithms

/** A typed NTS-KE failure. `errorCode` is what a server puts in its Error record. */
export class NtsKeError extends Error {
  override name = "NtsKeError";
  constructor(
    readonly kind: NtsKeErrorKind,
    message: string,
    /** Error record code to send back (server side) or received (kind "server-error"). */
    readonly errorCode: number = KeErrorCode.BAD_REQUEST,
  ) {
    super(message);
  }
}

/** Encodes records back to back. Throws NtsKeError("too-long") for a body over 65535 bytes. */
export function encodeRecords(records: readonly KeRecord[]): Uint8Array {
  const total = records.reduce((a, r) => a + 4 + r.body.length, 0);
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  let o = 0;
  for (const r of records) {
    if (r.body.length > 0xffff) throw new NtsKeError("too-long", "record body over 65535 bytes");
    view.setUint16(o, (r.critical ? CRITICAL_BIT : 0) | (r.type & 0x7fff));
    view.setUint16(o + 2, r.body.length);
    out.set(r.body, o + 4);
    o += 4 + r.body.length;
  }
  return out;
}

/**
 * Length of the first complete message in `bytes` (through its End of
 * Message record), or null when more bytes are needed. For stream reads.
 * Throws NtsKeError("too-long") when no message ends within the limit.
 */
export function completeMessageLength(bytes: Uint8Array): number | null {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let o = 0;
  while (o + 4 <= bytes.length) {
    const type = view.getUint16(o) & 0x7fff;
    const len = view.getUint16(o + 2);
    if (o + 4 + len > MAX_KE_MESSAGE_LENGTH) {
      throw new NtsKeError("too-long", `NTS-KE message longer than ${MAX_KE_MESSAGE_LENGTH} bytes`);
    }
    if (o + 4 + len > bytes.length) return null;
    o += 4 + len;
    if (type === RecordType.END_OF_MESSAGE) return o;
  }
  if (bytes.length >= MAX_KE_MESSAGE_LENGTH) {
    throw new NtsKeError("too-long", `NTS-KE message longer than ${MAX_KE_MESSAGE_LENGTH} bytes`);
  }
  return null;
}

/**
 * Server side: length of a complete client request in `bytes`, or null when
 * more bytes are needed. A request is complete when the bytes received so far
 * are whole records and the last one has type End of Message (whatever its
 * critical bit and body: {@linkcode decodeMessage} judges those); anything
 * after an End of Message keeps the request incomplete, so such a client gets
 * no answer, as with chronyd. Throws NtsKeError("too-long") past
 * {@linkcode MAX_KE_MESSAGE_LENGTH} bytes, or when a record claims more.
 */
export function completeRequestLength(bytes: Uint8Array): number | null {
  if (bytes.length > MAX_KE_MESSAGE_LENGTH) {
    throw new NtsKeError("too-long", `NTS-KE request longer than ${MAX_KE_MESSAGE_LENGTH} bytes`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let o = 0;
  let lastType = -1;
  while (o + 4 <= bytes.length) {
    const len = view.getUint16(o + 2);
    if (o + 4 + len > MAX_KE_MESSAGE_LENGTH) {
      throw new NtsKeError("too-long", `NTS-KE request longer than ${MAX_KE_MESSAGE_LENGTH} bytes`);
    }
    if (o + 4 + len > bytes.length) return null;
    lastType = view.getUint16(o) & 0x7fff;
    o += 4 + len;
  }
  return o === bytes.length && lastType === RecordType.END_OF_MESSAGE ? o : null;
}

/**
 * Decodes one whole message: records up to and including End of Message,
 * which must be last and empty (RFC 8915 §4.1.1). With `strict` (the
 * server's reading of a request) it must also be critical, as RFC 8915
 * requires and chronyd checks. The returned list excludes the End of Message
 * record.
 */
export function decodeMessage(bytes: Uint8Array, strict = false): KeRecord[] {
  if (bytes.length > MAX_KE_MESSAGE_LENGTH) {
    throw new NtsKeError("too-long", `NTS-KE message of ${bytes.length} bytes`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: KeRecord[] = [];
  let o = 0;
  while (o < bytes.length) {
    if (o + 4 > bytes.length) throw new NtsKeError("malformed", `truncated record header at ${o}`);
    const word = view.getUint16(o);
    const len = view.getUint16(o + 2);
    if (o + 4 + len > bytes.length) {
      throw new NtsKeError("malformed", `record at ${o} claims ${len} bytes, message ends first`);
    }
    const rec: KeRecord = {
      type: word & 0x7fff,
      critical: (word & CRITICAL_BIT) !== 0,
      body: bytes.slice(o + 4, o + 4 + len),
    };
    o += 4 + len;
    if (rec.type === RecordType.END_OF_MESSAGE) {
      if (len !== 0) throw new NtsKeError("malformed", "End of Message record with a body");
      if (o !== bytes.length) throw new NtsKeError("malformed", "data after End of Message");
      if (strict && !rec.critical) {
        throw new NtsKeError("malformed", "End of Message record not critical");
      }
      return out;
    }
    out.push(rec);
  }
  throw new NtsKeError("malformed", "no End of Message record");
}

function u16List(r: KeRecord, what: string): number[] {
  if (r.body.length % 2 !== 0) {
    throw new NtsKeError("bad-request", `${what} record body of odd length ${r.body.length}`);
  }
  const out: number[] = [];
  for (let i = 0; i < r.body.length; i += 2) out.push((r.body[i]! << 8) | r.body[i + 1]!);
  return out;
}

function u16Body(values: readonly number[]): Uint8Array {
  const b = new Uint8Array(values.length * 2);
  values.forEach((v, i) => {
    b[2 * i] = (v >> 8) & 0xff;
    b[2 * i + 1] = v & 0xff;
  });
  return b;
}

const ascii = new TextDecoder("ascii");

function serverName(r: KeRecord): string {
  // RFC 8915 §4.1.7: ASCII host name, IPv4 or IPv6 address; no NUL or spaces.
  if (r.body.length === 0 || r.body.some((c) => c <= 0x20 || c >= 0x7f)) {
    throw new NtsKeError("bad-request", "NTPv4 Server Negotiation record is not a host name");
  }
  return ascii.decode(r.body);
}

function portNumber(r: KeRecord): number {
  const [port, ...rest] = u16List(r, "NTPv4 Port Negotiation");
  if (port === undefined || rest.length > 0) {
    throw new NtsKeError("bad-request", "NTPv4 Port Negotiation record must hold one port");
  }
  return port;
}

function unknownCritical(r: KeRecord): never {
  throw new NtsKeError(
    "unrecognized-critical",
    `unrecognized critical record type ${r.type}`,
    KeErrorCode.UNRECOGNIZED_CRITICAL_RECORD,
  );
}

/** What a client asks for. */
export interface ClientRequest {
  /** Next protocol ids, in preference order (horae: [0], NTPv4); never empty. */
  nextProtocols: number[];
  /** AEAD ids, in preference order; empty only when NTPv4 was not asked for. */
  aeads: number[];
  /** The client asked for the compliant AES-128-GCM-SIV keys (record 1024). */
  compliant128gcm?: boolean;
}

/** Builds a client request: NTPv4 next protocol, the AEAD list, optional server/port. */
export function buildClientRequest(
  options: { aeads: readonly number[]; server?: string; port?: number; compliant128gcm?: boolean },
): Uint8Array {
  const records: KeRecord[] = [
    { type: RecordType.NEXT_PROTOCOL, critical: true, body: u16Body([NEXT_PROTOCOL_NTPV4]) },
    { type: RecordType.AEAD_ALGORITHM, critical: true, body: u16Body(options.aeads) },
  ];
  if (options.compliant128gcm) {
    records.push({
      type: RecordType.COMPLIANT_128GCM_EXPORT,
      critical: false,
      body: new Uint8Array(0),
    });
  }
  if (options.server !== undefined) {
    records.push({
      type: RecordType.NTPV4_SERVER,
      critical: false,
      body: new TextEncoder().encode(options.server),
    });
  }
  if (options.port !== undefined) {
    records.push({ type: RecordType.NTPV4_PORT, critical: false, body: u16Body([options.port]) });
  }
  records.push({ type: RecordType.END_OF_MESSAGE, critical: true, body: new Uint8Array(0) });
  return encodeRecords(records);
}

/**
 * Parses a client request (server side). Throws NtsKeError whose `errorCode`
 * is the Error record to answer with (RFC 8915 §4.1.3), or of kind
 * "malformed"/"too-long" for framing errors, which get no answer at all.
 *
 * The records are judged in order and the first fault decides the Error code,
 * as chronyd 4.3 does: a Next Protocol record that is not critical, empty,
 * of odd length or repeated, an AEAD record that is empty, of odd length or
 * repeated, and any Error, Warning or New Cookie record are Bad Request; an
 * unknown critical record is Unrecognized Critical Record, and so are critical
 * NTPv4 Server/Port records (a client has no business sending them: chronyd
 * treats them as unknown, and ignores them when not critical). Then a request
 * without Next Protocol, or that asks for NTPv4 without an AEAD record, is Bad
 * Request.
 */
export function parseClientRequest(bytes: Uint8Array): ClientRequest {
  const records = decodeMessage(bytes, true);
  let nextProtocols: number[] | undefined;
  let aeads: number[] | undefined;
  let compliant128gcm = false;
  for (const r of records) {
    switch (r.type) {
      case RecordType.COMPLIANT_128GCM_EXPORT:
        if (r.critical) unknownCritical(r);
        // only the empty record means it; with a body it is an unknown record
        if (r.body.length === 0) compliant128gcm = true;
        break;
      case RecordType.NEXT_PROTOCOL:
        if (!r.critical) throw new NtsKeError("bad-request", "Next Protocol record not critical");
        if (nextProtocols) throw new NtsKeError("bad-request", "two Next Protocol records");
        nextProtocols = u16List(r, "Next Protocol");
        if (nextProtocols.length === 0) {
          throw new NtsKeError("bad-request", "empty Next Protocol record");
        }
        break;
      case RecordType.AEAD_ALGORITHM:
        if (aeads) throw new NtsKeError("bad-request", "two AEAD Algorithm records");
        aeads = u16List(r, "AEAD Algorithm");
        if (aeads.length === 0) throw new NtsKeError("bad-request", "empty AEAD Algorithm record");
        break;
      case RecordType.ERROR:
      case RecordType.WARNING:
      case RecordType.NEW_COOKIE:
        // RFC 8915 §4.1.3, §4.1.4, §4.1.6: only servers send these.
        throw new NtsKeError("bad-request", `record type ${r.type} in a client request`);
      default:
        // Unknown types, and NTPv4 Server/Port Negotiation, which horae does not honour.
        if (r.critical) unknownCritical(r);
    }
  }
  if (!nextProtocols) {
    throw new NtsKeError("bad-request", "request without a Next Protocol record");
  }
  if (!aeads && nextProtocols.includes(NEXT_PROTOCOL_NTPV4)) {
    throw new NtsKeError("bad-request", "NTPv4 request without an AEAD Algorithm record");
  }
  return { nextProtocols, aeads: aeads ?? [], ...(compliant128gcm ? { compliant128gcm } : {}) };
}

/** A successful server response. */
export interface ServerResponse {
  /** Next protocol chosen (NTPv4, 0). */
  nextProtocol: number;
  /** AEAD chosen. */
  aead: number;
  /** Cookies, opaque to the client. */
  cookies: Uint8Array[];
  /** NTPv4 server to use instead of the NTS-KE server's address. */
  server?: string;
  /** NTPv4 port to use instead of 123. */
  port?: number;
  /** Warning codes received (RFC 8915 §4.1.4). */
  warnings: number[];
  /** The compliant AES-128-GCM-SIV keys are in use (record 1024 echoed). */
  compliant128gcm?: boolean;
}

/** Builds a successful response. */
export function buildServerResponse(
  response: Omit<ServerResponse, "warnings" | "nextProtocol"> & { nextProtocol?: number },
): Uint8Array {
  const records: KeRecord[] = [
    {
      type: RecordType.NEXT_PROTOCOL,
      critical: true,
      body: u16Body([response.nextProtocol ?? NEXT_PROTOCOL_NTPV4]),
    },
    { type: RecordType.AEAD_ALGORITHM, critical: true, body: u16Body([response.aead]) },
  ];
  // As chronyd sends them: the port before the server, both critical (a client
  // must not fall back to port 123 or to the NTS-KE server's address).
  if (response.port !== undefined) {
    records.push({ type: RecordType.NTPV4_PORT, critical: true, body: u16Body([response.port]) });
  }
  if (response.server !== undefined) {
    records.push({
      type: RecordType.NTPV4_SERVER,
      critical: true,
      body: new TextEncoder().encode(response.server),
    });
  }
  if (response.compliant128gcm) {
    records.push({
      type: RecordType.COMPLIANT_128GCM_EXPORT,
      critical: false,
      body: new Uint8Array(0),
    });
  }
  for (const c of response.cookies) {
    records.push({ type: RecordType.NEW_COOKIE, critical: false, body: c });
  }
  records.push({ type: RecordType.END_OF_MESSAGE, critical: true, body: new Uint8Array(0) });
  return encodeRecords(records);
}

/**
 * A response declining the request: an empty Next Protocol record when no
 * offered protocol is supported, else the protocol with an empty AEAD record
 * (RFC 8915 §4.1.2, §4.1.5).
 */
export function buildRefusalResponse(reason: "no-protocol" | "no-aead"): Uint8Array {
  const records: KeRecord[] = [
    {
      type: RecordType.NEXT_PROTOCOL,
      critical: true,
      body: reason === "no-protocol" ? new Uint8Array(0) : u16Body([NEXT_PROTOCOL_NTPV4]),
    },
  ];
  if (reason === "no-aead") {
    records.push({ type: RecordType.AEAD_ALGORITHM, critical: true, body: new Uint8Array(0) });
  }
  records.push({ type: RecordType.END_OF_MESSAGE, critical: true, body: new Uint8Array(0) });
  return encodeRecords(records);
}

/** A response holding only an Error record (RFC 8915 §4.1.3). */
export function buildErrorResponse(code: number): Uint8Array {
  return encodeRecords([
    { type: RecordType.ERROR, critical: true, body: u16Body([code]) },
    { type: RecordType.END_OF_MESSAGE, critical: true, body: new Uint8Array(0) },
  ]);
}

const ERROR_NAMES: Record<number, string> = {
  0: "Unrecognized Critical Record",
  1: "Bad Request",
  2: "Internal Server Error",
};

/**
 * Parses a server response (client side) and checks it against what was
 * offered. Throws NtsKeError: "server-error" for an Error record,
 * "no-protocol"/"no-aead" when the server declined, "bad-request" when the
 * response is inconsistent (e.g. no cookies, an AEAD that was not offered).
 */
export function parseServerResponse(
  bytes: Uint8Array,
  offered: { aeads: readonly number[] },
): ServerResponse {
  const records = decodeMessage(bytes);
  let nextProtocols: number[] | undefined;
  let aeads: number[] | undefined;
  const cookies: Uint8Array[] = [];
  const warnings: number[] = [];
  let server: string | undefined;
  let port: number | undefined;
  let compliant128gcm = false;
  for (const r of records) {
    switch (r.type) {
      case RecordType.COMPLIANT_128GCM_EXPORT:
        if (r.critical) unknownCritical(r);
        if (r.body.length === 0) compliant128gcm = true;
        break;
      case RecordType.ERROR: {
        const code = u16List(r, "Error")[0] ?? -1;
        throw new NtsKeError(
          "server-error",
          `NTS-KE server sent error ${code} (${ERROR_NAMES[code] ?? "unknown"})`,
          code,
        );
      }
      case RecordType.WARNING:
        warnings.push(...u16List(r, "Warning"));
        break;
      case RecordType.NEXT_PROTOCOL:
        if (nextProtocols) throw new NtsKeError("bad-request", "two Next Protocol records");
        nextProtocols = u16List(r, "Next Protocol");
        break;
      case RecordType.AEAD_ALGORITHM:
        if (aeads) throw new NtsKeError("bad-request", "two AEAD Algorithm records");
        aeads = u16List(r, "AEAD Algorithm");
        break;
      case RecordType.NEW_COOKIE:
        if (r.body.length > 0) cookies.push(r.body);
        break;
      case RecordType.NTPV4_SERVER:
        server = serverName(r);
        break;
      case RecordType.NTPV4_PORT:
        port = portNumber(r);
        break;
      default:
        if (r.critical) unknownCritical(r);
    }
  }
  if (!nextProtocols || nextProtocols.length === 0) {
    throw new NtsKeError("no-protocol", "NTS-KE server supports none of the offered protocols");
  }
  if (nextProtocols.length !== 1 || nextProtocols[0] !== NEXT_PROTOCOL_NTPV4) {
    throw new NtsKeError("bad-request", `NTS-KE server chose protocol(s) ${nextProtocols}`);
  }
  if (!aeads || aeads.length === 0) {
    throw new NtsKeError("no-aead", "NTS-KE server supports none of the offered AEAD algorithms");
  }
  const aead = aeads[0]!;
  if (aeads.length !== 1 || !offered.aeads.includes(aead)) {
    throw new NtsKeError("bad-request", `NTS-KE server chose AEAD ${aeads}, not offered`);
  }
  if (cookies.length === 0) throw new NtsKeError("bad-request", "NTS-KE response without cookies");
  if (port === 0) throw new NtsKeError("bad-request", "NTS-KE server gave NTP port 0");
  const res: ServerResponse = { nextProtocol: NEXT_PROTOCOL_NTPV4, aead, cookies, warnings };
  if (compliant128gcm) res.compliant128gcm = true;
  if (server !== undefined) res.server = server;
  if (port !== undefined) res.port = port;
  return res;
}

/** Direction of an NTP key. RFC 8915 §5.1. */
export type KeyDirection = "c2s" | "s2c";

/**
 * Exporter context for an NTP key: protocol id (2 bytes) || AEAD id
 * (2 bytes) || 0x00 for client-to-server, 0x01 for server-to-client.
 * RFC 8915 §5.1. For AES-128-GCM-SIV (30) without `compliant` (record 1024
 * not negotiated) the AEAD id in the context is 15, as chrony 4.4-4.6 and
 * chrony 4.6.1+ by default derive those keys.
 */
export function exporterContext(
  aead: number,
  direction: KeyDirection,
  compliant = true,
): Uint8Array {
  const id = aead === 30 && !compliant ? 15 : aead;
  return new Uint8Array([
    NEXT_PROTOCOL_NTPV4 >> 8,
    NEXT_PROTOCOL_NTPV4 & 0xff,
    (id >> 8) & 0xff,
    id & 0xff,
    direction === "c2s" ? 0 : 1,
  ]);
}

/** The server's decision on a parsed request. */
export type KeNegotiation =
  | { kind: "accept"; aead: number }
  | { kind: "refuse"; reason: "no-protocol" | "no-aead" };

/**
 * Picks NTPv4 and the first offered AEAD the server supports (the client's
 * order is its preference, RFC 8915 §4.1.5).
 */
export function negotiate(
  request: ClientRequest,
  supportedAeads: readonly number[],
): KeNegotiation {
  if (!request.nextProtocols.includes(NEXT_PROTOCOL_NTPV4)) {
    return { kind: "refuse", reason: "no-protocol" };
  }
  const aead = request.aeads.find((a) => supportedAeads.includes(a));
  return aead === undefined ? { kind: "refuse", reason: "no-aead" } : { kind: "accept", aead };
}
