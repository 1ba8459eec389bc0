/**
 * Where the time of one NTS-authenticated NTP reply goes, in process (no
 * sockets): µs per request of the whole responder (`NtpServer.process` with
 * `NtsServerAuth`) for a client whose keys are cached (its next request) and
 * for new clients (key set-up each time), and of its parts as the responder
 * runs them: parsing the extension fields, opening the cookie with the server
 * key, verifying the request with the C2S key (AES-SIV over the header and
 * fields), sealing one new cookie (its nonce from a `SivNonces` pool), sealing
 * the reply with the S2C key (`sealToFreshNonce`), the C2S/S2C key set-up of a
 * new client, and the client log's lookup of the one client's address (the
 * server has a client log as the daemon's); "rest" is the whole minus the parts
 * (header, copies, random pool). Also the OpenSSL (FFI) calls and
 * the bytes of JS heap allocated per request. Each time is the median of
 * `--rounds` rounds of `--n` iterations; the whole responder's CPU time per
 * request (/proc, over `--cpu-n` requests) is the steadier figure on a
 * loaded machine. `--json` prints one JSON line.
 *
 * Usage: `./denow run -A bench/nts_cost.ts [--n 20000] [--rounds 5] [--json]`
 *
 * @example
 * ```sh
 * ./denow run -A bench/nts_cost.ts --n 5000
 * ```
 * @module
 */
import { aesCallCount } from "../ffi/libssl.ts";
import { AesSivKey, SivNonces } from "../lib/crypto/siv.ts";
import { ServerKeyRing } from "../lib/nts/cookie.ts";
import {
  buildNtsRequest,
  NtsRequestLayout,
  readAuthenticatorLayout,
  scanNtsRequest,
  validFields,
} from "../lib/nts/ntp_auth.ts";
import { NtsServerAuth } from "../lib/nts/server_auth.ts";
import { AEAD_AES_SIV_CMAC_256, AES_SIV_CMAC_256 } from "../lib/nts/siv.ts";
import { newServerPacket, NtpServer, unsynchronisedReference } from "../lib/ntp/server.ts";
import { ClientLog } from "../lib/ntp/clientlog.ts";

function arg(name: string, fallback: number): number {
  const i = Deno.args.indexOf(name);
  return i >= 0 ? Number(Deno.args[i + 1]) : fallback;
}
const N = arg("--n", 20000);
const ROUNDS = arg("--rounds", 5);
/** Distinct clients of the "new client" figure: more than the key cache holds. */
const CLIENTS = 512;

const rnd = (n: number) => crypto.getRandomValues(new Uint8Array(n));
const ring = ServerKeyRing.fresh(rnd(144), 0n, 604800);

function request(c2s: Uint8Array, s2c: Uint8Array): Uint8Array {
  const cookie = ring.makeCookie({ aead: AEAD_AES_SIV_CMAC_256, c2s, s2c }, rnd(16));
  const header = new Uint8Array(48);
  header[0] = 0x23;
  return buildNtsRequest(header, {
    uniqueId: rnd(32),
    cookie,
    placeholders: 0,
    aead: AES_SIV_CMAC_256,
    c2s,
    nonce: rnd(16),
  });
}
const c2s = rnd(32), s2c = rnd(32);
const req = request(c2s, s2c);
const others = Array.from({ length: CLIENTS }, () => request(rnd(32), rnd(32)));

/** Median µs per call of `f` over ROUNDS rounds of N calls. */
function time(f: () => void, n = N): number {
  for (let i = 0; i < Math.min(n, 2000); i++) f(); // warm up
  const r: number[] = [];
  for (let k = 0; k < ROUNDS; k++) {
    const t = performance.now();
    for (let i = 0; i < n; i++) f();
    r.push(((performance.now() - t) * 1000) / n);
  }
  return median(r);
}

function median(r: number[]): number {
  r.sort((a, b) => a - b);
  return r[r.length >> 1]!;
}

const reference = unsynchronisedReference(-25);
reference.local = { stratum: 1, distance: 1, orphan: false };
reference.localSince = 0n;
// As the daemon sets it up (lib/daemon/nts_server.ts): the clock read without a BigInt and the
// nonce pool refilled in place.
const auth = new NtsServerAuth({
  ring,
  randomBytes: rnd,
  randomFill: (b) => void crypto.getRandomValues(b),
  now: () => 1_000_000_000_000_000_000n,
  nowTo: (t) => {
    t[0] = 1_000_000_000;
    t[1] = 0;
  },
});
// The client log as the daemon has it (no rate limit by default); one client address.
const clientLog = new ClientLog({ seed: 1, random: Math.random });
const server = new NtpServer({ reference, auth, clientLog });
const buf = new Uint8Array(1140);
const view = new DataView(buf.buffer);
const p = newServerPacket(view, view);
const clientAddr = new Uint8Array([127, 0, 0, 1]);
p.addr = clientAddr;
p.family = 4;
const clock = new Float64Array([1e9]); // not a script variable: its doubles would be boxed
function serve(r: Uint8Array): void {
  p.addr = clientAddr;
  buf.set(r);
  p.reqLength = r.length;
  p.rxHi = 3_900_000_000;
  p.rxLo = 0;
  p.now = clock[0]! += 1e-6; // a request a µs
  if (server.process(p) !== r.length) throw new Error("no NTS reply");
}
const whole = time(() => serve(req));

/** CPU time (user + system) of this process so far, ms (/proc, 10 ms ticks). */
function cpuMs(): number {
  const f = Deno.readTextFileSync("/proc/self/stat");
  const x = f.slice(f.lastIndexOf(")") + 2).split(" ");
  return (Number(x[11]) + Number(x[12])) * 10;
}
/** CPU µs per request over CPU_N requests: steadier than wall time on a loaded machine. */
const CPU_N = arg("--cpu-n", 300000);
const cpu0 = cpuMs();
for (let i = 0; i < CPU_N; i++) serve(req);
const wholeCpu = ((cpuMs() - cpu0) * 1000) / Math.max(1, CPU_N);
let next = 0;
const wholeNew = time(() => serve(others[next++ % CLIENTS]!), Math.min(N, 5000));

/** FFI calls and heap bytes per request of `f` (median of ROUNDS rounds of 1000). */
function perRequest(f: () => void): { ffi: number; bytes: number } {
  const ffi: number[] = [], bytes: number[] = [];
  for (let k = 0; k < ROUNDS; k++) {
    const c = aesCallCount.calls;
    const h = Deno.memoryUsage().heapUsed;
    for (let i = 0; i < 1000; i++) f();
    bytes.push(Math.max(0, Deno.memoryUsage().heapUsed - h) / 1000);
    ffi.push((aesCallCount.calls - c) / 1000);
  }
  return { ffi: median(ffi), bytes: median(bytes) };
}
const hit = perRequest(() => serve(req));
const miss = perRequest(() => serve(others[next++ % CLIENTS]!));

// The parts, on the same request, in the responder's order.
const layout = new NtsRequestLayout();
const parse = time(() => {
  if (scanNtsRequest(req, req.length, layout) !== null) throw new Error("scan");
  if (!readAuthenticatorLayout(req, layout)) throw new Error("authenticator");
  if (!validFields(req, 48, req.length)) throw new Error("fields");
});
const keys = new Uint8Array(68);
const openCookie = time(() => {
  if (!ring.openCookieTo(req, layout.cookieAt, layout.cookieLength, keys)) {
    throw new Error("cookie");
  }
});
const c2sKey = AesSivKey.create(c2s), s2cKey = AesSivKey.create(s2c);
const plain = new Uint8Array(256);
const verify = time(() => {
  const ok = c2sKey.openTo(
    req,
    0,
    layout.authAt,
    req,
    layout.nonceAt,
    layout.nonceLength,
    req,
    layout.ciphertextAt,
    layout.ciphertextLength,
    plain,
    0,
  );
  if (!ok) throw new Error("verify");
});
const out = new Uint8Array(1140);
const nonces = new SivNonces((b) => void crypto.getRandomValues(b));
const makeCookie = time(() => ring.makeCookieFromPool(keys, nonces, out, 0));
// The reply: header, Unique Identifier (36), Authenticator header (8), nonce (16), tag, one cookie.
const adLength = 48 + 36, ptAt = adLength + 8 + 16 + 16, ptLength = 104;
const seal = time(() =>
  s2cKey.sealToFreshNonce(out, 0, adLength, out, adLength + 8, out, ptAt, ptLength, out, ptAt - 16)
);
const logLookup = time(() => void clientLog.ntpAccess(clientAddr, 0, 4, clock[0]! += 1e-6));
const setup = time(() => {
  c2sKey.setKey(c2s);
  s2cKey.setKey(s2c);
}, Math.min(N, 5000));

const parts = { parse, clientLog: logLookup, openCookie, verify, makeCookie, seal };
const rest = whole - Object.values(parts).reduce((a, b) => a + b, 0);
const figures = {
  requestBytes: req.length,
  whole,
  wholeCpu,
  wholeNewClient: wholeNew,
  ...parts,
  rest,
  keySetup: setup,
  ffiPerRequest: hit.ffi,
  ffiPerRequestNewClient: miss.ffi,
  heapBytesPerRequest: hit.bytes,
  keyCache: auth.keyCache,
};
if (Deno.args.includes("--json")) {
  console.log(JSON.stringify(figures));
} else {
  const f = (x: number) => x.toFixed(2).padStart(6);
  console.log(
    `NTS request cost in process (${req.length}-byte request, one cookie back), µs per request, ` +
      `median of ${ROUNDS} x ${N}:`,
  );
  console.log(`  whole responder, client keys cached  ${f(whole)}`);
  console.log(`  the same, CPU time (${CPU_N} requests)  ${f(wholeCpu)}`);
  console.log(`  whole responder, new client          ${f(wholeNew)}`);
  console.log(`  parts of the first:`);
  console.log(`    parse extension fields             ${f(parse)}`);
  console.log(`    client log lookup                  ${f(logLookup)}`);
  console.log(`    open cookie (server key)           ${f(openCookie)}`);
  console.log(`    verify request (C2S key)           ${f(verify)}`);
  console.log(`    make one cookie (server key)       ${f(makeCookie)}`);
  console.log(`    seal reply (S2C key)               ${f(seal)}`);
  console.log(`    rest (header, copies)              ${f(rest)}`);
  console.log(`  C2S + S2C key set-up of a new client ${f(setup)}`);
  console.log(
    `  OpenSSL (FFI) calls per request: ${hit.ffi.toFixed(1)} (new client ` +
      `${miss.ffi.toFixed(1)}); JS heap allocated per request: ~${hit.bytes.toFixed(0)} B`,
  );
}
