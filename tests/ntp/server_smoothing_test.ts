import assert from "node:assert/strict";
import {
  NtpServer,
  SMOOTHING_REFERENCE_ID,
  unsynchronisedReference,
} from "../../lib/ntp/server.ts";
import { Smoothing } from "../../lib/clock/smoothing.ts";
import { toNtp64 } from "../../lib/time/timestamp.ts";

const T0 = 1_800_000_000_000_000_000n;

function request(): DataView {
  const req = new DataView(new ArrayBuffer(48));
  req.setUint8(0, 0x23);
  req.setUint32(44, 12345);
  return req;
}

function synced(server: NtpServer) {
  const r = unsynchronisedReference(-20);
  r.synchronised = true;
  r.stratum = 2;
  r.refId = 0x7f000001;
  r.refTime = T0 - 10_000_000_000n;
  server.setReference(r, T0);
}

Deno.test("server smoothing: timestamps carry the offset, refid 127.127.1.255 while in effect", () => {
  const server = new NtpServer({ reference: unsynchronisedReference(-20) });
  synced(server);
  const sm = new Smoothing({ maxFreqPpm: 400, maxWanderPpm: 0.001, leapOnly: false });
  server.setSmoothing((now) => sm.offsetAt(now), () => 0.25);
  const out = new DataView(new ArrayBuffer(48));
  // inactive: only the cooked shift, the source's refid
  assert.equal(server.respond(request(), 48, T0, out), 48);
  assert.equal(out.getUint32(12), 0x7f000001);
  let want = toNtp64(T0 + 250_000_000n);
  assert.deepEqual([out.getUint32(32), out.getUint32(36)], [want.hi, want.lo]);
  assert.deepEqual([out.getUint32(40), out.getUint32(44)], [want.hi, want.lo]);
  // active with a correction of 0.1 s being smoothed
  sm.activate(T0);
  sm.update(T0, 0.1, 0);
  server.respond(request(), 48, T0, out);
  assert.equal(out.getUint32(12), SMOOTHING_REFERENCE_ID);
  want = toNtp64(T0 + 350_000_000n);
  assert.deepEqual([out.getUint32(32), out.getUint32(36)], [want.hi, want.lo]);
  const ref = toNtp64(T0 - 10_000_000_000n + 100_000_000n);
  assert.deepEqual([out.getUint32(16), out.getUint32(20)], [ref.hi, ref.lo]);
  // reset: nothing to smooth, the source's refid again
  sm.reset(T0);
  server.respond(request(), 48, T0, out);
  assert.equal(out.getUint32(12), 0x7f000001);
});

Deno.test("server smoothing: unsynchronised replies are not smoothed", () => {
  const server = new NtpServer({ reference: unsynchronisedReference(-20) });
  const sm = new Smoothing({ maxFreqPpm: 400, maxWanderPpm: 0.001, leapOnly: false });
  sm.activate(T0);
  sm.update(T0, 0.1, 0);
  server.setSmoothing((now) => sm.offsetAt(now));
  const out = new DataView(new ArrayBuffer(48));
  server.respond(request(), 48, T0, out);
  assert.equal(out.getUint32(12), 0);
  const want = toNtp64(T0);
  assert.deepEqual([out.getUint32(32), out.getUint32(36)], [want.hi, want.lo]);
});
