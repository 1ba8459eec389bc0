import assert from "node:assert/strict";
import { NtpSource, type SourceAction } from "../../lib/ntp/source.ts";
import { NtpServer, unsynchronisedReference } from "../../lib/ntp/server.ts";
import { NtsClientAuth } from "../../lib/nts/client_auth.ts";
import { NtsServerAuth } from "../../lib/nts/server_auth.ts";
import { ServerKeyRing } from "../../lib/nts/cookie.ts";
import { AEAD_AES_SIV_CMAC_256 } from "../../lib/nts/siv.ts";
import type { Timestamp } from "../../lib/time/timestamp.ts";

const T0: Timestamp = 1_700_000_000_000_000_000n;
const MS = 1_000_000n;
let seed = 1;
function rnd(n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24;
  return b;
}

/** A client source and a server sharing keys as after NTS-KE. */
function setup(ring = ServerKeyRing.fresh(rnd(144), T0, 604800)) {
  const c2s = rnd(32), s2c = rnd(32);
  const keys = { aead: AEAD_AES_SIV_CMAC_256, c2s, s2c };
  const cookies = Array.from({ length: 8 }, () => ring.makeCookie(keys, rnd(16)));
  const auth = new NtsClientAuth({ randomBytes: rnd });
  auth.installKe({ ...keys, server: "localhost", port: 123, keTime: T0, cookies });
  const source = new NtpSource("127.0.0.1", { iburst: true, minpoll: 0 }, {
    randomBytes: rnd,
    auth,
  });
  const serverAuth = new NtsServerAuth({ ring, randomBytes: rnd, now: () => T0 + 2n * MS });
  const server = new NtpServer({ reference: unsynchronisedReference(-20), auth: serverAuth });
  server.setReference({
    ...unsynchronisedReference(-20),
    synchronised: true,
    stratum: 2,
    refTime: T0,
  }, T0);
  return { auth, source, server, serverAuth, ring };
}

function sent(actions: SourceAction[]): Uint8Array {
  const s = actions.find((a) => a.kind === "send");
  assert.ok(s && s.kind === "send", "a request");
  return s.bytes;
}

function answer(server: NtpServer, req: Uint8Array): Uint8Array {
  const buf = new Uint8Array(1024);
  buf.set(req);
  const view = new DataView(buf.buffer);
  const n = server.respond(view, req.length, T0 + 1n * MS, view, T0 + 2n * MS);
  return buf.slice(0, n);
}

Deno.test("NTS source: signed requests keep 8 cookies and verified replies give samples", () => {
  const { auth, source, server, serverAuth } = setup();
  source.start(T0);
  const req = sent(source.onTimer(T0));
  assert.ok(req.length > 48, "NTS fields appended");
  assert.equal(auth.authData(T0).cookies, 7);
  const reply = answer(server, req);
  assert.equal(reply.length, req.length, "reply as long as the request");
  assert.equal(serverAuth.stats.authenticated, 1);
  const out = source.onPacket(reply, T0 + 3n * MS, T0 + 3n * MS);
  assert.ok(out.some((a) => a.kind === "sample"), "a sample");
  assert.equal(auth.authData(T0).cookies, 8, "cookies refilled to 8");
  assert.equal(source.report().tests.t567[0], true);
  const d = auth.authData(T0 + 5_000_000_000n);
  assert.equal(d.aead, 15);
  assert.equal(d.keyBits, 256);
  assert.equal(d.cookieLength, 100);
  assert.equal(d.lastKeAgo, 5);
});

Deno.test("NTS source: a tampered reply fails test 5, gives no sample and is counted", () => {
  const { source, server } = setup();
  source.start(T0);
  const req = sent(source.onTimer(T0));
  const reply = answer(server, req);
  const bad = reply.slice();
  bad[40]! ^= 1; // transmit timestamp altered: the Authenticator covers it
  const out = source.onPacket(bad, T0 + 3n * MS, T0 + 3n * MS);
  assert.deepEqual(out, []);
  const r = source.report();
  assert.equal(r.tests.t567[0], false, "test 5 fails");
  assert.equal(r.authFailures, 1);
  assert.equal(r.reach, 0, "no reachability from a forged reply");
  // The genuine reply still counts.
  const ok = source.onPacket(reply, T0 + 3n * MS, T0 + 3n * MS);
  assert.ok(ok.some((a) => a.kind === "sample"));
  assert.equal(source.report().tests.t567[0], true);
});

Deno.test("NTS source: an unauthenticated kiss-o'-death is ignored", () => {
  const { source, server } = setup();
  source.start(T0);
  const req = sent(source.onTimer(T0));
  const reply = answer(server, req).slice(0, 48);
  reply[1] = 0;
  new DataView(reply.buffer).setUint32(12, 0x44454e59); // DENY
  assert.deepEqual(source.onPacket(reply, T0 + 3n * MS, T0 + 3n * MS), []);
  assert.equal(source.online, true);
});

Deno.test("NTS source: a rotated-out server key gives an NTS NAK and a new NTS-KE is needed", () => {
  const ring = ServerKeyRing.fresh(rnd(144), T0, 604800);
  const { auth, source } = setup(ring);
  const other = setup(ServerKeyRing.fresh(rnd(144), T0, 604800));
  source.start(T0);
  const req = sent(source.onTimer(T0));
  const nak = answer(other.server, req);
  assert.equal(nak[1], 0, "kiss-o'-death");
  assert.equal(other.server.drops.naks, 1);
  const out = source.onPacket(nak, T0 + 3n * MS, T0 + 3n * MS);
  assert.deepEqual(out, [{ kind: "kod", code: "NTSN" }]);
  assert.equal(auth.ready(T0), false);
  assert.equal(auth.authData(T0).naks, 1);
  // Not ready: the next poll sends nothing and waits.
  const next = source.onTimer(T0 + 10_000_000_000n);
  assert.equal(next.some((a) => a.kind === "send"), false);
});

Deno.test("NTS source: cookies used up or ntsrefresh passed -> not ready", () => {
  const { auth, source } = setup();
  source.start(T0);
  let t = T0;
  for (let i = 0; i < 8; i++) {
    t += 3_000_000_000n;
    sent(source.onTimer(t));
  }
  assert.equal(auth.ready(t), false, "8 cookies used, no replies");
  const fresh = setup().auth;
  assert.equal(fresh.ready(T0 + 2419199n * 1_000_000_000n), true);
  assert.equal(fresh.ready(T0 + 2419200n * 1_000_000_000n), false);
});

Deno.test("NTS server: requests without NTS fields are plain NTP, malformed NTS dropped", () => {
  const { server, source } = setup();
  const plain = new Uint8Array(48);
  plain[0] = 0x23;
  assert.equal(answer(server, plain).length, 48);
  source.start(T0);
  const req = sent(source.onTimer(T0)).slice();
  req[60]! ^= 0xff; // inside the Unique Identifier: Authenticator fails -> NAK
  assert.equal(answer(server, req)[1], 0);
  const cut = req.slice(0, req.length - 8); // Authenticator cut short
  new DataView(cut.buffer).setUint16(cut.length - 32 + 2, 28);
  assert.equal(answer(server, cut).length, 0);
});
