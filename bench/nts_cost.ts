/**
 * Where the time of one NTS-authenticated NTP reply goes, in process (no
 * sockets): µs per request of the whole responder (`NtpServer.process` with
 * `NtsServerAuth`), and of its parts: opening the cookie, verifying the
 * request's Authenticator, sealing one new cookie and sealing the reply.
 * Each figure is the median of `--rounds` rounds of `--n` iterations.
 *
 * Usage: `./denow run -A bench/nts_cost.ts [--n 20000] [--rounds 5]`
 *
 * @example
 * ```sh
 * ./denow run -A bench/nts_cost.ts --n 5000
 * ```
 * @module
 */
import { AesSivKey } from "../lib/crypto/siv.ts";
import { ServerKeyRing } from "../lib/nts/cookie.ts";
import { buildNtsRequest } from "../lib/nts/ntp_auth.ts";
import { NtsServerAuth } from "../lib/nts/server_auth.ts";
import { AEAD_AES_SIV_CMAC_256, AES_SIV_CMAC_256 } from "../lib/nts/siv.ts";
import { newServerPacket, NtpServer, unsynchronisedReference } from "../lib/ntp/server.ts";

function arg(name: string, fallback: number): number {
  const i = Deno.args.indexOf(name);
  return i >= 0 ? Number(Deno.args[i + 1]) : fallback;
}
const N = arg("--n", 20000);
const ROUNDS = arg("--rounds", 5);

const rnd = (n: number) => crypto.getRandomValues(new Uint8Array(n));
const ring = ServerKeyRing.fresh(rnd(144), 0n, 604800);
const c2s = rnd(32), s2c = rnd(32);
const cookie = ring.makeCookie({ aead: AEAD_AES_SIV_CMAC_256, c2s, s2c }, rnd(16));
const header = new Uint8Array(48);
header[0] = 0x23;
const request = buildNtsRequest(header, {
  uniqueId: rnd(32),
  cookie,
  placeholders: 0,
  aead: AES_SIV_CMAC_256,
  c2s,
  nonce: rnd(16),
});

/** Median µs per call of `f` over ROUNDS rounds of N calls. */
function time(f: () => void): number {
  for (let i = 0; i < Math.min(N, 2000); i++) f(); // warm up
  const r: number[] = [];
  for (let k = 0; k < ROUNDS; k++) {
    const t = performance.now();
    for (let i = 0; i < N; i++) f();
    r.push(((performance.now() - t) * 1000) / N);
  }
  r.sort((a, b) => a - b);
  return r[r.length >> 1]!;
}

const reference = unsynchronisedReference(-25);
reference.local = { stratum: 1, distance: 1, orphan: false };
reference.localSince = 0n;
const auth = new NtsServerAuth({ ring, randomBytes: rnd, now: () => 1_000_000_000_000_000_000n });
const server = new NtpServer({ reference, auth });
const buf = new Uint8Array(1140);
const view = new DataView(buf.buffer);
const p = newServerPacket(view, view);
const whole = time(() => {
  buf.set(request);
  p.reqLength = request.length;
  p.rxHi = 3_900_000_000;
  p.rxLo = 0;
  p.now = 1e9;
  if (server.process(p) !== request.length) throw new Error("no NTS reply");
});

const keys = new Uint8Array(68);
// Header (48), Unique Identifier field (4 + 32), Cookie field header (4): the cookie at 88.
const cookieAt = 88;
if (!cookie.every((b, i) => request[cookieAt + i] === b)) throw new Error("cookie not at 88");
const openCookie = time(() => {
  if (!ring.openCookieTo(request, cookieAt, cookie.length, keys)) throw new Error("cookie");
});
const out = new Uint8Array(200);
const pool = rnd(4096);
const makeCookie = time(() => ring.makeCookieTo(keys, pool, 0, out, 0));
const siv = AesSivKey.create(c2s);
const rekey = time(() => siv.setKey(c2s));
const pt = new Uint8Array(104);
const seal = time(() => siv.sealTo(buf, 0, 84, pool, 0, 16, pt, 0, 104, out, 0));
const copy = time(() => buf.set(request));

console.log(
  `NTS request cost in process (${request.length}-byte request, one cookie back), µs per call, ` +
    `median of ${ROUNDS} x ${N}:`,
);
console.log(`  whole responder (process)  ${whole.toFixed(2)}`);
console.log(`  open cookie                ${openCookie.toFixed(2)}`);
console.log(`  make cookie                ${makeCookie.toFixed(2)}`);
console.log(`  AES-SIV re-key             ${rekey.toFixed(2)}`);
console.log(`  AES-SIV seal 104 B         ${seal.toFixed(2)}`);
console.log(`  request copy (baseline)    ${copy.toFixed(2)}`);
