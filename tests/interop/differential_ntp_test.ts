/**
 * Differential fuzz test of the NTP server: the same requests go to horae's
 * daemon and to the real chronyd (4.3, Debian's package), both configured the
 * same way (`local stratum 1`, `allow 127.0.0.0/8`, default client log, no
 * `ratelimit`: rate limiting is off by default in both), and every reply is
 * compared: whether there is one, its length, leap, version, mode, stratum
 * and, for a stratum-0 reply, its kiss code.
 *
 * Three configurations:
 * - plain server: the structured corpus (every version 0-7 × mode 0-7,
 *   truncations, odd lengths, odd extension fields, MAC trailers of each
 *   length, crypto-NAK, MS-SNTP, long requests, NTS fields without NTS) plus
 *   seeded random packets;
 * - both with an NTS server (`ntsserverkey`/`ntsservercert`): the NTS cases
 *   and seeded one-bit mutations of a valid request, built with the keys and
 *   cookie each server handed out over NTS-KE;
 * - both with the same `keyfile`: requests signed with each key type.
 *
 * Requests are told apart by their transmit timestamp (echoed as the reply's
 * origin). Their origin timestamps are zero or random, so neither client log
 * takes one for an interleaved request. They go out in small bursts and a
 * difference is sent again, one request every 10 ms with a longer wait,
 * before it counts, so a slow machine cannot make one up. Any difference not
 * in {@link EXPLAINED} fails. `DIFF_SHOW=1` prints every difference;
 * `DIFF_CHRONYD=/path/to/chronyd` compares with another chronyd (4.8 in
 * /work/shared/chrony-4.8 agrees on the whole corpus too).
 */
import assert from "node:assert/strict";
import { ntsKeExchange } from "../../lib/io/nts_ke_client.ts";
import { parseKeyFile, type SymmetricKey } from "../../lib/ntp/keyfile.ts";
import { signPacket } from "../../lib/ntp/mac.ts";
import { AES_SIV_CMAC_256 } from "../../lib/nts/siv.ts";
import { prng } from "../fuzz/prng.ts";
import { freePort, haveChrony, makeCert, startChronyd, startHorae } from "./harness.ts";
import { loadDigests } from "../../lib/ntp/mac.ts";

await loadDigests();

const enabled = haveChrony();
const SHOW = Deno.env.get("DIFF_SHOW") === "1";
const DUMP = Deno.env.get("DIFF_DUMP");
const dumps = new Map<string, Uint8Array>();
const CHRONYD = Deno.env.get("DIFF_CHRONYD") ?? "/usr/sbin/chronyd";
/** Seed of the random packets (a failure replays with the same seed). */
const SEED = 0x5eed_0009;
const RANDOM_PACKETS = 400;

const UID = 0x0104, COOKIE = 0x0204, PLACEHOLDER = 0x0304, AUTH = 0x0404;

/** What each server handed out over NTS-KE (null for the plain configuration). */
interface NtsKeys {
  c2s: Uint8Array;
  cookie: Uint8Array;
}

/** One request of the corpus; `build` makes it for one server (its NTS keys). */
interface Case {
  name: string;
  build(keys: NtsKeys | null): Uint8Array;
}

/** The fields compared, or null for no reply. */
interface Reply {
  length: number;
  /** Reply length minus request length (each server's NTS request has its own cookie). */
  extra: number;
  leap: number;
  version: number;
  mode: number;
  stratum: number;
  kiss: string;
}

/**
 * Differences from chronyd 4.3 that are understood and accepted, by case
 * name prefix, with the reason. Keep it tiny.
 */
const EXPLAINED: { prefix: string; reason: string }[] = [];

// ---------------------------------------------------------------- builders

/** Tag of the request being built: its transmit timestamp, echoed as the reply's origin. */
let buildingTag = 0;

function header(version: number, mode: number, rnd?: () => number): Uint8Array {
  const b = new Uint8Array(48);
  if (rnd) { for (let i = 0; i < 48; i++) b[i] = Math.floor(rnd() * 256); }
  else {
    b[2] = 6; // poll
    b[3] = 0xe9; // precision
  }
  b[0] = (b[0]! & 0xc0) | ((version & 7) << 3) | (mode & 7);
  const v = new DataView(b.buffer);
  v.setUint32(40, 0xe7000000 | buildingTag);
  v.setUint32(44, 0x5a5a0000 | (buildingTag & 0xffff));
  return b;
}

function ef(type: number, bodyLength: number, fill = 0, declared?: number): Uint8Array {
  const len = 4 + bodyLength;
  const b = new Uint8Array((len + 3) & ~3);
  b.fill(fill, 4);
  b[0] = type >> 8;
  b[1] = type & 0xff;
  const d = declared ?? b.length;
  b[2] = d >> 8;
  b[3] = d & 0xff;
  return b;
}

function efWith(type: number, body: Uint8Array): Uint8Array {
  const b = ef(type, body.length);
  b.set(body, 4);
  return b;
}

function cat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** A MAC trailer: key id and a digest of `digest` bytes. */
function mac(keyId: number, digest: number, fill = 0xa5): Uint8Array {
  const b = new Uint8Array(4 + digest);
  new DataView(b.buffer).setUint32(0, keyId);
  b.fill(fill, 4);
  return b;
}

function v4(): Uint8Array {
  return header(4, 3);
}

/** An Authenticator field sealing `plain` over `prefix` with `keys.c2s`. */
function authField(
  prefix: Uint8Array,
  keys: NtsKeys,
  plain: Uint8Array = new Uint8Array(0),
  nonceLength = 16,
): Uint8Array {
  const nonce = new Uint8Array(nonceLength).fill(0x3c);
  const ct = AES_SIV_CMAC_256.seal(keys.c2s, nonce, prefix, plain);
  const pad = (n: number) => (n + 3) & ~3;
  const body = new Uint8Array(4 + pad(nonceLength) + pad(ct.length));
  const v = new DataView(body.buffer);
  v.setUint16(0, nonceLength);
  v.setUint16(2, ct.length);
  body.set(nonce, 4);
  body.set(ct, 4 + pad(nonceLength));
  return efWith(AUTH, body);
}

/** Fake keys for requests to a server without NTS (or to break a request). */
const FAKE: NtsKeys = { c2s: new Uint8Array(32).fill(7), cookie: new Uint8Array(100).fill(9) };

interface NtsParts {
  uid?: number; // unique id body length (0: none)
  cookie?: "ok" | "bad" | "none";
  placeholders?: number;
  placeholderDelta?: number; // placeholder length minus cookie length
  extraBefore?: Uint8Array; // fields before the Authenticator
  auth?: "ok" | "bad" | "none";
  nonce?: number;
  plain?: Uint8Array;
  after?: Uint8Array; // bytes after the Authenticator
  mode?: number;
  version?: number;
  mutateAuth?: (field: Uint8Array) => void;
}

function nts(keys: NtsKeys | null, p: NtsParts): Uint8Array {
  const k = keys ?? FAKE;
  const parts: Uint8Array[] = [header(p.version ?? 4, p.mode ?? 3)];
  const uid = p.uid ?? 32;
  if (uid > 0) parts.push(ef(UID, uid, 0x11));
  const cookie = p.cookie ?? "ok";
  if (cookie !== "none") {
    const c = k.cookie.slice();
    if (cookie === "bad") c[c.length - 1]! ^= 0x40;
    parts.push(efWith(COOKIE, c));
  }
  for (let i = 0; i < (p.placeholders ?? 0); i++) {
    parts.push(ef(PLACEHOLDER, k.cookie.length + (p.placeholderDelta ?? 0)));
  }
  if (p.extraBefore) parts.push(p.extraBefore);
  let packet = cat(...parts);
  const auth = p.auth ?? "ok";
  if (auth !== "none") {
    const a = authField(packet, k, p.plain, p.nonce);
    if (auth === "bad") a[a.length - 1]! ^= 1;
    p.mutateAuth?.(a);
    packet = cat(packet, a);
  }
  if (p.after) packet = cat(packet, p.after);
  return packet;
}

// ---------------------------------------------------------------- corpus

function plainCorpus(): Case[] {
  const cases: Case[] = [];
  const add = (name: string, build: (k: NtsKeys | null) => Uint8Array) =>
    cases.push({ name, build });
  for (let v = 0; v < 8; v++) {
    for (let m = 0; m < 8; m++) add(`header v${v} mode ${m}`, () => header(v, m));
  }
  for (const n of [0, 1, 4, 12, 40, 44, 47]) add(`truncated to ${n}`, () => v4().slice(0, n));
  for (const v of [1, 2, 3, 4]) {
    for (const n of [1, 2, 3, 5, 6, 7, 9, 13, 18, 22, 30]) {
      add(`v${v} ${n} odd bytes after the header`, () => cat(header(v, 3), new Uint8Array(n)));
    }
    for (let n = 4; n <= 76; n += 4) {
      add(`v${v} ${n}-byte MAC key 1`, () => cat(header(v, 3), mac(1, n - 4)));
      add(`v${v} ${n}-byte MAC key 0`, () => cat(header(v, 3), mac(0, n - 4, 0)));
    }
    add(`v${v} crypto-NAK`, () => cat(header(v, 3), new Uint8Array(4)));
    add(`v${v} MS-SNTP`, () => cat(header(v, 3), mac(0x1234, 16, 0)));
    add(`v${v} MS-SNTP extended`, () => cat(header(v, 3), mac(0x80001234, 68, 0)));
    add(`v${v} symmetric MAC`, () => cat(header(v, 1), mac(5, 16)));
    add(`v${v} mode 0 + MAC`, () => cat(header(v, 0), mac(1, 16)));
    add(`v${v} 4 bytes key 1`, () => cat(header(v, 3), mac(1, 0)));
  }
  // Extension fields (v4).
  for (const t of [0x0000, 0x0002, 0x2005, 0xf323, 0xf324, 0xffff]) {
    for (const body of [0, 12, 24, 28, 60]) {
      add(`EF type ${t.toString(16)} body ${body}`, () => cat(v4(), ef(t, body)));
      add(
        `EF type ${t.toString(16)} body ${body} + MAC20`,
        () => cat(v4(), ef(t, body), mac(1, 16)),
      );
    }
  }
  for (const declared of [0, 2, 4, 8, 12, 14, 16, 18, 20, 24, 28, 32, 36, 40, 44, 1000]) {
    add(`EF declared ${declared} in 28`, () => cat(v4(), ef(0x2005, 24, 0, declared)));
    add(`EF declared ${declared} in 40`, () => cat(v4(), ef(0x2005, 36, 0, declared)));
  }
  for (const n of [4, 8, 12, 16, 20, 24, 28]) {
    add(`EF 16 + ${n} bytes`, () => cat(v4(), ef(0x2005, 12), new Uint8Array(n)));
    add(`EF 28 + ${n} bytes`, () => cat(v4(), ef(0x2005, 24), new Uint8Array(n)));
    add(`EF 28 + ${n}-byte MAC key 1`, () => cat(v4(), ef(0x2005, 24), mac(1, n - 4)));
  }
  add("two EFs 16+16", () => cat(v4(), ef(0x2005, 12), ef(0x2005, 12)));
  add("two EFs 16+28", () => cat(v4(), ef(0x2005, 12), ef(0x2005, 24)));
  add("EF 4 + 24 bytes", () => cat(v4(), ef(0x2005, 0, 0, 4), new Uint8Array(24)));
  add("EF 8 + 24 bytes", () => cat(v4(), ef(0x2005, 4, 0, 8), new Uint8Array(24)));
  add("EF 4 + EF 28", () => cat(v4(), ef(0x2005, 0, 0, 4), ef(0x2005, 24)));
  add("EF 8 + EF 28", () => cat(v4(), ef(0x2005, 4, 0, 8), ef(0x2005, 24)));
  add(
    "EF 4 + EF 12 + 24 bytes",
    () => cat(v4(), ef(0x2005, 0, 0, 4), ef(1, 8), new Uint8Array(24)),
  );
  // Long requests (padding in one or more extension fields).
  for (let total = 1000; total <= 1200; total += 4) {
    add(`length ${total}`, () => {
      const rest = total - 48;
      const parts = [v4()];
      let left = rest;
      while (left > 0) {
        const n = Math.min(left, 512);
        parts.push(ef(0x2005, n - 4));
        left -= n;
      }
      return cat(...parts);
    });
  }
  add("length 1500", () => cat(v4(), ef(0x2005, 1448)));
  // NTS fields at a server without NTS.
  cases.push(...ntsCorpus());
  return cases;
}

function ntsCorpus(): Case[] {
  const cases: Case[] = [];
  const add = (name: string, build: (k: NtsKeys | null) => Uint8Array) =>
    cases.push({ name, build });
  add("nts valid", (k) => nts(k, {}));
  for (const n of [1, 3, 7, 8, 9]) {
    add(`nts valid ${n} placeholders`, (k) => nts(k, { placeholders: n }));
  }
  add(
    "nts placeholders of another length",
    (k) => nts(k, { placeholders: 2, placeholderDelta: 4 }),
  );
  add("nts bad cookie", (k) => nts(k, { cookie: "bad" }));
  add("nts bad authenticator", (k) => nts(k, { auth: "bad" }));
  for (const n of [0, 4, 12, 16, 28, 31]) add(`nts unique id ${n}`, (k) => nts(k, { uid: n }));
  add("nts unique id 64", (k) => nts(k, { uid: 64 }));
  add("nts unique id only", (k) => nts(k, { cookie: "none", auth: "none" }));
  add("nts lone cookie", (k) => nts(k, { uid: 0, auth: "none" }));
  add(
    "nts lone placeholder",
    (k) => nts(k, { uid: 0, cookie: "none", auth: "none", placeholders: 1 }),
  );
  add("nts lone authenticator", (k) => nts(k, { uid: 0, cookie: "none" }));
  add("nts no cookie", (k) => nts(k, { cookie: "none" }));
  add("nts no unique id", (k) => nts(k, { uid: 0 }));
  add("nts no authenticator", (k) => nts(k, { auth: "none" }));
  add("nts two cookies", (k) => nts(k, { extraBefore: efWith(COOKIE, (k ?? FAKE).cookie) }));
  add("nts two unique ids", (k) => nts(k, { extraBefore: ef(UID, 32, 0x22) }));
  add("nts unknown field before auth", (k) => nts(k, { extraBefore: ef(0x2005, 12) }));
  add("nts field after auth", (k) => nts(k, { after: ef(0x2005, 12) }));
  add("nts long field after auth", (k) => nts(k, { after: ef(0x2005, 28) }));
  add("nts MAC after auth", (k) => nts(k, { after: mac(1, 16) }));
  add("nts nonce 4", (k) => nts(k, { nonce: 4 }));
  add("nts nonce 12", (k) => nts(k, { nonce: 12 }));
  add("nts nonce 32", (k) => nts(k, { nonce: 32 }));
  const lengths = (nl: number | null, cl: number | null) => (a: Uint8Array) => {
    if (nl !== null) a[4] = nl >> 8, a[5] = nl & 0xff;
    if (cl !== null) a[6] = cl >> 8, a[7] = cl & 0xff;
  };
  add("nts nonce length 0", (k) => nts(k, { mutateAuth: lengths(0, null) }));
  add("nts nonce length overflow", (k) => nts(k, { mutateAuth: lengths(0x0400, null) }));
  add("nts nonce length +4", (k) => nts(k, { mutateAuth: lengths(20, null) }));
  add("nts ciphertext length overflow", (k) => nts(k, { mutateAuth: lengths(null, 0x0400) }));
  add("nts ciphertext length +4", (k) => nts(k, { mutateAuth: lengths(null, 20) }));
  add("nts ciphertext length 0", (k) => nts(k, { mutateAuth: lengths(null, 0) }));
  add("nts ciphertext length 12", (k) => nts(k, { mutateAuth: lengths(null, 12) }));
  add(
    "nts encrypted placeholder",
    (k) => nts(k, { plain: ef(PLACEHOLDER, (k ?? FAKE).cookie.length) }),
  );
  add("nts encrypted placeholder of another length", (k) => nts(k, { plain: ef(PLACEHOLDER, 12) }));
  add("nts encrypted cookie", (k) => nts(k, { plain: efWith(COOKIE, (k ?? FAKE).cookie) }));
  add("nts encrypted unique id", (k) => nts(k, { plain: ef(UID, 32) }));
  add("nts two authenticators", (k) => nts(k, { extraBefore: ef(AUTH, 40) }));
  add("nts placeholder before cookie", (k) => {
    const kk = k ?? FAKE;
    const pre = cat(
      header(4, 3),
      ef(PLACEHOLDER, kk.cookie.length),
      ef(UID, 32, 1),
      efWith(COOKIE, kk.cookie),
    );
    return cat(pre, authField(pre, kk));
  });
  add("nts encrypted unknown field", (k) => nts(k, { plain: ef(0x2005, 12) }));
  add("nts encrypted garbage", (k) => nts(k, { plain: new Uint8Array(8).fill(0xff) }));
  add("nts mode 1", (k) => nts(k, { mode: 1 }));
  add("nts mode 4", (k) => nts(k, { mode: 4 }));
  add("nts version 3", (k) => nts(k, { version: 3 }));
  add("nts cookie 4 bytes", (k) => nts(k && { ...k, cookie: k.cookie.slice(0, 4) }, {}));
  add("nts cookie 200 bytes", (k) => nts(k && { ...k, cookie: cat(k.cookie, k.cookie) }, {}));
  add(
    "nts cookie 256 bytes",
    (k) => nts(k && { ...k, cookie: cat(k.cookie, k.cookie).slice(0, 256) }, {}),
  );
  add(
    "nts cookie 260 bytes",
    (k) => nts(k && { ...k, cookie: cat(k.cookie, k.cookie).slice(0, 260) }, {}),
  );
  add("nts cookie 0 bytes", (k) => nts(k && { ...k, cookie: new Uint8Array(0) }, {}));
  return cases;
}

/**
 * Valid NTS requests (a Cookie and a Placeholder) with one bit flipped, the
 * same bit of the same field for both servers (their cookies differ in
 * length, so the position is taken within a field).
 */
function ntsMutations(seed: number, count: number): Case[] {
  const rnd = prng(seed);
  const cases: Case[] = [];
  for (let i = 0; i < count; i++) {
    const field = Math.floor(rnd() * 5), where = rnd(), bit = 1 << Math.floor(rnd() * 8);
    cases.push({
      name: `nts mutation #${i}`,
      build: (k) => {
        const b = nts(k, { placeholders: 1 });
        const starts = [0]; // header, UID, Cookie, Placeholder, Authenticator
        for (let o = 48; o < b.length; o += (b[o + 2]! << 8) | b[o + 3]!) starts.push(o);
        starts.push(b.length);
        const from = starts[field]!, to = starts[field + 1]!;
        b[from + Math.floor(where * (to - from))]! ^= bit;
        return b;
      },
    });
  }
  return cases;
}

/** The keyfile of the symmetric-key configuration (both servers). */
const KEYS = [
  "1 MD5 ASCII:horaediffkey1",
  "2 SHA256 HEX:00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
  "3 AES128 HEX:000102030405060708090a0b0c0d0e0f",
  "4 SHA1 HEX:0102030405060708090a0b0c0d0e0f1011121314",
  "5 SHA512 HEX:0102030405060708090a0b0c0d0e0f10",
].join("\n") + "\n";

function keyCorpus(): Case[] {
  const keys = [...parseKeyFile(KEYS, { file: "keys" }).keys.values()];
  const cases: Case[] = [];
  const add = (name: string, build: () => Uint8Array) => cases.push({ name, build });
  /** `p` signed with `k`, the digest cut to `digest` bytes. */
  const cut = (p: Uint8Array, k: SymmetricKey, digest: number) =>
    signPacket(p, k).slice(0, p.length + 4 + digest);
  for (const k of keys) {
    for (const v of [1, 2, 3, 4]) {
      for (const m of [3, 1, 0]) {
        add(`key ${k.id} ${k.type} v${v} mode ${m}`, () => signPacket(header(v, m), k));
      }
      add(`key ${k.id} ${k.type} v${v} altered`, () => {
        const b = signPacket(header(v, 3), k);
        b[b.length - 1]! ^= 1;
        return b;
      });
    }
    add(`key ${k.id} ${k.type} v4 after a field`, () => signPacket(cat(v4(), ef(0x2005, 24)), k));
    add(`key ${k.id} ${k.type} v4 digest cut to 16`, () => cut(v4(), k, 16));
    add(`key ${k.id} ${k.type} v3 digest cut to 16`, () => cut(header(3, 3), k, 16));
    add(
      `key ${k.id} ${k.type} v4 NTS field + MAC`,
      () => signPacket(cat(v4(), ef(COOKIE, 100)), k),
    );
  }
  add("unknown key 99", () => cat(v4(), mac(99, 16)));
  add("crypto-NAK with a keyfile", () => cat(v4(), new Uint8Array(4)));
  add("MS-SNTP with a keyfile", () => cat(v4(), mac(1, 16, 0)));
  return cases;
}

function randomCorpus(seed: number, count: number): Case[] {
  const rnd = prng(seed);
  const cases: Case[] = [];
  const pick = <T>(xs: T[]) => xs[Math.floor(rnd() * xs.length)]!;
  for (let i = 0; i < count; i++) {
    const parts: Uint8Array[] = [];
    const kind = rnd();
    const h = header(Math.floor(rnd() * 8), pick([3, 3, 3, 1, Math.floor(rnd() * 8)]), rnd);
    if (rnd() < 0.5) h[0] = (h[0]! & 0xc0) | 0x23; // often a v4 client request
    parts.push(h);
    if (kind < 0.35) {
      // the header alone, random fields
    } else if (kind < 0.5) {
      parts.push(new Uint8Array(Math.floor(rnd() * 100)).map(() => Math.floor(rnd() * 256)));
    } else if (kind < 0.85) {
      const n = 1 + Math.floor(rnd() * 3);
      for (let j = 0; j < n; j++) {
        const type = pick([UID, COOKIE, PLACEHOLDER, AUTH, 0x2005, Math.floor(rnd() * 65536)]);
        const body = pick([0, 12, 12, 24, 32, 100, 4 * Math.floor(rnd() * 20)]);
        const f = ef(type, body, Math.floor(rnd() * 256));
        if (rnd() < 0.1) f[3] = Math.floor(rnd() * 256);
        parts.push(f);
      }
      if (rnd() < 0.2) parts.push(mac(Math.floor(rnd() * 3), pick([0, 16, 20, 32, 64])));
    } else {
      parts.push(mac(Math.floor(rnd() * 5), pick([0, 4, 16, 20, 24, 28, 64, 68])));
    }
    const bytes = cat(...parts);
    cases.push({
      name: `random #${i}`,
      build: () => {
        const b = bytes.slice();
        if (b.length >= 48) b.set(header(4, 3).subarray(40, 48), 40);
        return b;
      },
    });
  }
  return cases;
}

// ---------------------------------------------------------------- probing

function summary(b: Uint8Array, requestLength: number): Reply {
  const stratum = b.length >= 48 ? b[1]! : -1;
  const kiss = stratum === 0 ? new TextDecoder().decode(b.subarray(12, 16)) : "";
  return {
    length: b.length,
    extra: b.length - requestLength,
    leap: b[0]! >> 6,
    version: (b[0]! >> 3) & 7,
    mode: b[0]! & 7,
    stratum,
    kiss: kiss.replace(/[^\x20-\x7e]/g, "?"),
  };
}

/**
 * Sends the requests (all, or those of index `only`, one every 10 ms) to
 * `port`; returns the replies by request index (null: none), told apart by
 * their origin timestamp (see {@link header}).
 */
async function probe(
  port: number,
  requests: Uint8Array[],
  waitMs: number,
  only?: number[],
): Promise<(Reply | null)[]> {
  const spacingMs = only ? 10 : 0;
  const order = only ?? requests.map((_, i) => i);
  const sock = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  const got: (Reply | null)[] = requests.map(() => null);
  let last = Date.now();
  let closed = false;
  const reader = (async () => {
    while (!closed) {
      let msg: Uint8Array;
      try {
        [msg] = await sock.receive();
      } catch {
        return;
      }
      last = Date.now();
      if (msg.length < 48) continue;
      const v = new DataView(msg.buffer, msg.byteOffset, msg.byteLength);
      const hi = v.getUint32(24), lo = v.getUint32(28);
      const id = hi & 0xffffff;
      if ((hi >>> 24) !== 0xe7 || lo !== (0x5a5a0000 | (id & 0xffff)) || id >= got.length) {
        continue;
      }
      got[id] = summary(msg, requests[id]!.length);
      if (DUMP) dumps.set(`${port}:${id}`, msg.slice());
    }
  })();
  const addr = { transport: "udp" as const, hostname: "127.0.0.1", port };
  const burst = spacingMs > 0 ? 1 : 16;
  for (let i = 0; i < order.length; i += burst) {
    for (let j = i; j < Math.min(order.length, i + burst); j++) {
      await sock.send(requests[order[j]!]!, addr);
    }
    await new Promise((r) => setTimeout(r, spacingMs || 2));
  }
  const deadline = Date.now() + waitMs * 10;
  last = Date.now();
  while (Date.now() - last < waitMs && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
  }
  closed = true;
  sock.close();
  await reader;
  return got;
}

/**
 * Whether two replies agree. Their lengths must be equal, or, when the
 * requests differed in length (NTS requests carry each server's own cookie),
 * be as much longer or shorter than the request.
 */
function same(a: Reply | null, b: Reply | null): boolean {
  if (a === null || b === null) return a === b;
  const sameRequest = a.length - a.extra === b.length - b.extra;
  return (a.length === b.length || (!sameRequest && a.extra === b.extra)) && a.leap === b.leap &&
    a.version === b.version &&
    a.mode === b.mode && a.stratum === b.stratum && a.kiss === b.kiss;
}

function show(r: Reply | null): string {
  if (r === null) return "no reply";
  return `len ${r.length} (request ${
    r.extra >= 0 ? "+" : ""
  }${r.extra}) leap ${r.leap} v${r.version} mode ${r.mode} stratum ${r.stratum}` +
    (r.kiss ? ` kiss ${r.kiss}` : "");
}

/**
 * Runs `cases` against both servers and returns the unexplained differences
 * as lines (after retrying each difference one request at a time).
 */
async function compare(
  label: string,
  cases: Case[],
  horae: { port: number; keys: NtsKeys | null },
  chrony: { port: number; keys: NtsKeys | null },
): Promise<{ diffs: string[]; explained: string[]; answered: number; naks: number }> {
  const build = (keys: NtsKeys | null) =>
    cases.map((c, i) => {
      buildingTag = i;
      return c.build(keys);
    });
  const reqH = build(horae.keys), reqC = build(chrony.keys);
  const [h, c] = await Promise.all([probe(horae.port, reqH, 300), probe(chrony.port, reqC, 300)]);
  // Differences are sent again, slowly (one every 10 ms), before they count.
  const again = cases.map((_, i) => i).filter((i) => !same(h[i]!, c[i]!));
  if (again.length > 0) {
    const [h2, c2] = await Promise.all([
      probe(horae.port, reqH, 500, again),
      probe(chrony.port, reqC, 500, again),
    ]);
    for (const i of again) {
      h[i] = h2[i]!;
      c[i] = c2[i]!;
    }
  }
  const diffs: string[] = [], explained: string[] = [];
  let answered = 0, naks = 0;
  for (let i = 0; i < cases.length; i++) {
    const hr = h[i]!, cr = c[i]!;
    if (cr !== null) answered++;
    if (cr?.kiss === "NTSN") naks++;
    if (same(hr, cr)) continue;
    const line = `${cases[i]!.name}: horae ${show(hr)}; chronyd ${show(cr)}`;
    const why = EXPLAINED.find((e) => cases[i]!.name.startsWith(e.prefix));
    (why ? explained : diffs).push(why ? `${line} (${why.reason})` : line);
  }
  if (SHOW) { for (const l of [...diffs, ...explained]) console.log(`[${label}] ${l}`); }
  if (DUMP) {
    cases.forEach((k, i) => {
      if (!k.name.includes(DUMP)) return;
      const hex = (b?: Uint8Array) =>
        b ? Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("") : "-";
      console.log(
        `${k.name}\n  req  ${hex(reqC[i])}\n  chr  ${
          hex(dumps.get(`${chrony.port}:${i}`))
        }\n  hor  ${hex(dumps.get(`${horae.port}:${i}`))}`,
      );
    });
  }
  return { diffs, explained, answered, naks };
}

const COMMON = ["local stratum 1", "allow 127.0.0.0/8"];

Deno.test({
  name: "interop: differential NTP fuzz, keyfile: MAC'd requests get what chronyd gives them",
  ignore: !enabled,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "horae-diff-keys-" });
    const keyfile = `${dir}/chrony.keys`;
    await Deno.writeTextFile(keyfile, KEYS, { mode: 0o600 });
    const hPort = freePort();
    const horae = await startHorae([`port ${hPort}`, ...COMMON, `keyfile ${keyfile}`], {
      flags: ["-4"],
    });
    const chrony = await startChronyd({
      port: freePort(),
      binary: CHRONYD,
      flags: ["-4"],
      lines: [`keyfile ${keyfile}`],
    });
    try {
      const cases = [
        ...keyCorpus(),
        ...plainCorpus().filter((c) => /MAC|NAK|MS-SNTP/.test(c.name)),
      ];
      const r = await compare("keys", cases, { port: hPort, keys: null }, {
        port: chrony.port,
        keys: null,
      });
      assert.ok(r.answered > 30, `chronyd answered only ${r.answered} requests`);
      assert.deepEqual(r.diffs, [], `${r.diffs.length} unexplained differences`);
    } finally {
      await chrony.stop();
      await horae.stop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});

Deno.test({
  name: "interop: differential NTP fuzz, plain server: horae answers every request as chronyd",
  ignore: !enabled,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const hPort = freePort();
    const horae = await startHorae([`port ${hPort}`, ...COMMON], { flags: ["-4"] });
    const chrony = await startChronyd({ port: freePort(), binary: CHRONYD, flags: ["-4"] });
    try {
      const cases = [...plainCorpus(), ...randomCorpus(SEED, RANDOM_PACKETS)];
      const r = await compare("nts", cases, { port: hPort, keys: null }, {
        port: chrony.port,
        keys: null,
      });
      // The corpus must exercise both outcomes, or the comparison proves little.
      assert.ok(r.answered > 120, `chronyd answered only ${r.answered} requests`);
      assert.ok(r.answered < cases.length - 100, `chronyd answered ${r.answered} requests`);
      assert.deepEqual(r.diffs, [], `${r.diffs.length} unexplained differences`);
    } finally {
      await chrony.stop();
      await horae.stop();
    }
  },
});

Deno.test({
  name:
    "interop: differential NTP fuzz, NTS server: horae answers (or NAKs) NTS requests as chronyd",
  ignore: !enabled,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "horae-diff-nts-" });
    const { cert, key } = await makeCert(dir);
    const hPort = freePort(), hKe = freePort();
    const horae = await startHorae([
      `port ${hPort}`,
      ...COMMON,
      `ntsport ${hKe}`,
      `ntsserverkey ${key}`,
      `ntsservercert ${cert}`,
      "ntsdumpdir DIR",
    ], { flags: ["-4"] });
    const cKe = freePort();
    const chrony = await startChronyd({
      port: freePort(),
      ntsKePort: cKe,
      binary: CHRONYD,
      flags: ["-4"],
    });
    try {
      const ke = async (port: number, ca: string): Promise<NtsKeys> => {
        const r = await ntsKeExchange({
          host: "localhost",
          address: "127.0.0.1",
          port,
          caFiles: [ca],
          systemCerts: false,
        });
        return { c2s: r.c2sKey, cookie: r.cookies[0]! };
      };
      const hKeys = await ke(hKe, cert);
      const cKeys = await ke(cKe, chrony.cert!);
      const cases = [
        ...ntsCorpus(),
        ...ntsMutations(SEED + 2, 150),
        ...randomCorpus(SEED + 1, RANDOM_PACKETS / 4),
      ];
      const r = await compare("nts", cases, { port: hPort, keys: hKeys }, {
        port: chrony.port,
        keys: cKeys,
      });
      // Authenticated replies and NAKs both, or the comparison proves little.
      assert.ok(r.naks >= 10, `chronyd sent only ${r.naks} NAKs`);
      assert.ok(r.answered - r.naks >= 10, `chronyd answered only ${r.answered - r.naks} requests`);
      assert.deepEqual(r.diffs, [], `${r.diffs.length} unexplained differences`);
    } finally {
      await chrony.stop();
      await horae.stop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});
