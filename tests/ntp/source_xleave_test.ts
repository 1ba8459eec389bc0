/**
 * Interleaved client mode (`xleave`, RFC 9769) of NtpSource with exact
 * timestamps: request fields, samples from the previous exchange, fallback.
 * @module
 */
import assert from "node:assert/strict";
import {
  decodePacket,
  encodePacket,
  MODE_SERVER,
  newPacket,
  type NtpPacket,
  timestampToNtp,
} from "../../lib/ntp/packet.ts";
import { NtpSource, type SourceAction } from "../../lib/ntp/source.ts";
import { addSeconds, fromSecNsec, type Ntp64, type Timestamp } from "../../lib/time/timestamp.ts";

const T0 = fromSecNsec(1_700_000_000, 0);
const NTP_ROUNDING = 4e-9; // 32-bit NTP fractions: < 1 ns per timestamp
const AHEAD = 0.005; // server clock = local + 5 ms

function counterRandom(): (n: number) => Uint8Array {
  let c = 1;
  return (n) => new Uint8Array(n).map(() => (c = (c * 73 + 41) & 0xff));
}
function source(xleave: boolean): NtpSource {
  const src = new NtpSource("192.0.2.1", { precision: 2 ** -24, xleave }, {
    randomBytes: counterRandom(),
  });
  src.start(T0);
  return src;
}
function sent(actions: SourceAction[]): NtpPacket {
  const a = actions.find((x) => x.kind === "send");
  assert.ok(a && a.kind === "send", "expected a send action");
  return decodePacket(a.bytes);
}
function sampleOf(actions: SourceAction[]) {
  const a = actions.find((x) => x.kind === "sample");
  return a && a.kind === "sample" ? a.sample : null;
}
function reply(origin: Ntp64, t2: Timestamp, t3: Timestamp): Uint8Array {
  return encodePacket({
    ...newPacket(),
    mode: MODE_SERVER,
    stratum: 2,
    poll: 6,
    precision: -24,
    rootDelay: 0.001,
    rootDispersion: 0.002,
    referenceId: 0x0a000001,
    referenceTs: timestampToNtp(addSeconds(t2, -10)),
    originTs: origin,
    receiveTs: timestampToNtp(t2),
    transmitTs: timestampToNtp(t3),
  });
}

/**
 * One exchange at local time `at`: the kernel TX time is `at` + 10 µs, the
 * request takes 1 ms out; the server writes T3 100 µs after T2 into a basic
 * reply but the packet really leaves 150 µs after T2; 1 ms back.
 */
function times(at: Timestamp) {
  const t1 = addSeconds(at, 10e-6);
  const t2 = addSeconds(t1, 0.001 + AHEAD);
  return {
    t1,
    t2,
    t3Written: addSeconds(t2, 100e-6),
    t3Real: addSeconds(t2, 150e-6),
    t4: addSeconds(t1, 0.001 + 150e-6 + 0.001),
  };
}

Deno.test("xleave: first request is basic, later ones carry origin = last T2 and a receive cookie", () => {
  const src = source(true);
  const q1 = sent(src.onTimer(T0));
  assert.equal(q1.originTs, 0n);
  assert.equal(q1.receiveTs, 0n);
  const e1 = times(T0);
  src.onTxTimestamp(e1.t1);
  const a1 = src.onPacket(reply(q1.transmitTs, e1.t2, e1.t3Written), e1.t4, e1.t4);
  const s1 = sampleOf(a1);
  assert.ok(s1);
  // basic: θ = ((T2 - T1) + (T3w - T4)) / 2 = (6 ms + 3.95 ms) / 2
  assert.ok(Math.abs(s1.offset - -0.004975) < NTP_ROUNDING, `offset ${s1.offset}`);
  assert.equal(src.report().interleaved, false);

  const at2 = src.nextTimer!;
  const q2 = sent(src.onTimer(at2));
  assert.equal(q2.originTs, timestampToNtp(e1.t2));
  assert.notEqual(q2.receiveTs, 0n);
  assert.notEqual(q2.receiveTs, q2.transmitTs);
  const e2 = times(at2);
  src.onTxTimestamp(e2.t1);
  // Interleaved reply: origin = our receive cookie, receive = T2 of this
  // request, transmit = the real send time of the previous reply.
  const a2 = src.onPacket(reply(q2.receiveTs, e2.t2, e1.t3Real), e2.t4, e2.t4);
  const s2 = sampleOf(a2);
  assert.ok(s2, JSON.stringify(src.report().tests));
  // previous exchange with the real T3: θ = (6 ms + 4 ms) / 2 = 5 ms, δ = 2.15 - 0.15 = 2 ms
  assert.ok(Math.abs(s2.offset - -AHEAD) < NTP_ROUNDING, `offset ${s2.offset}`);
  assert.ok(Math.abs(s2.peerDelay - 0.002) < NTP_ROUNDING, `delay ${s2.peerDelay}`);
  assert.equal(s2.time, e1.t1 + (e1.t4 - e1.t1) / 2n);
  const r = src.report();
  assert.equal(r.interleaved, true);
  assert.equal(r.localTx, e1.t1);
  assert.equal(r.localRx, e1.t4);
  assert.ok(r.remoteRx !== null && Math.abs(Number(r.remoteRx - e1.t2)) <= 1);
  assert.ok(r.remoteTx !== null && Math.abs(Number(r.remoteTx - e1.t3Real)) <= 1);
  assert.equal(r.totalValidRx, 2);

  // The next request refers to the second exchange.
  const at3 = src.nextTimer!;
  const q3 = sent(src.onTimer(at3));
  assert.equal(q3.originTs, timestampToNtp(e2.t2));
  const e3 = times(at3);
  src.onTxTimestamp(e3.t1);
  const s3 = sampleOf(src.onPacket(reply(q3.receiveTs, e3.t2, e2.t3Real), e3.t4, e3.t4));
  assert.ok(s3);
  assert.ok(Math.abs(s3.offset - -AHEAD) < NTP_ROUNDING);
  assert.equal(s3.time, e2.t1 + (e2.t4 - e2.t1) / 2n);
});

Deno.test("xleave: a basic reply to an interleaved request is used as in basic mode", () => {
  const src = source(true);
  const q1 = sent(src.onTimer(T0));
  const e1 = times(T0);
  src.onTxTimestamp(e1.t1);
  assert.ok(sampleOf(src.onPacket(reply(q1.transmitTs, e1.t2, e1.t3Written), e1.t4, e1.t4)));
  const at2 = src.nextTimer!;
  const q2 = sent(src.onTimer(at2));
  const e2 = times(at2);
  src.onTxTimestamp(e2.t1);
  // A server without interleaved support echoes our transmit timestamp.
  const s2 = sampleOf(src.onPacket(reply(q2.transmitTs, e2.t2, e2.t3Written), e2.t4, e2.t4));
  assert.ok(s2);
  assert.ok(Math.abs(s2.offset - -0.004975) < NTP_ROUNDING);
  assert.equal(s2.time, e2.t1 + (e2.t4 - e2.t1) / 2n);
  assert.equal(src.report().interleaved, false);
  assert.equal(src.report().localTx, e2.t1);
});

Deno.test("xleave: stale cookies are bogus; a TX timestamp after the reply still refines T1", () => {
  const src = source(true);
  const q1 = sent(src.onTimer(T0));
  const e1 = times(T0);
  // The kernel TX timestamp comes after the reply.
  src.onPacket(reply(q1.transmitTs, e1.t2, e1.t3Written), e1.t4, e1.t4);
  src.onTxTimestamp(e1.t1);
  const at2 = src.nextTimer!;
  const q2 = sent(src.onTimer(at2));
  const e2 = times(at2);
  src.onTxTimestamp(e2.t1);
  // A reply carrying the first request's transmit as origin: bogus (test 2).
  assert.equal(
    sampleOf(src.onPacket(reply(q1.transmitTs, e2.t2, e1.t3Real), e2.t4, e2.t4)),
    null,
  );
  assert.equal(src.report().tests.t123[1], false);
  const s2 = sampleOf(src.onPacket(reply(q2.receiveTs, e2.t2, e1.t3Real), e2.t4, e2.t4));
  assert.ok(s2);
  assert.ok(Math.abs(s2.offset - -AHEAD) < NTP_ROUNDING, `offset ${s2.offset}`);
  assert.equal(src.report().localTx, e1.t1);
  // The same reply again: the cookie was used (test 2).
  assert.equal(sampleOf(src.onPacket(reply(q2.receiveTs, e2.t2, e1.t3Real), e2.t4, e2.t4)), null);
});

Deno.test("xleave: without the option, and after resetHistory, requests are basic", () => {
  for (const xleave of [false, true]) {
    const src = source(xleave);
    const q1 = sent(src.onTimer(T0));
    const e1 = times(T0);
    src.onTxTimestamp(e1.t1);
    src.onPacket(reply(q1.transmitTs, e1.t2, e1.t3Written), e1.t4, e1.t4);
    if (xleave) src.resetHistory();
    const q2 = sent(src.onTimer(src.nextTimer!));
    assert.equal(q2.originTs, 0n);
    assert.equal(q2.receiveTs, 0n);
  }
});

Deno.test("peer xleave: symmetric interleaved packets as chronyd 4.3's peers send them; the sample", () => {
  const src = new NtpSource("192.0.2.1", {
    kind: "peer",
    precision: 2 ** -24,
    xleave: true,
    minpoll: 0,
    maxpoll: 0,
  }, {
    randomBytes: counterRandom(),
  });
  src.start(T0);
  const at = (s: number) => addSeconds(T0, s);
  const peerAt = (s: number) => timestampToNtp(at(s + 0.1)); // the peer's clock: 0.1 s ahead
  const fromPeer = (f: { org: Ntp64; rx: Ntp64; tx: Ntp64 }) =>
    encodePacket({
      ...newPacket(),
      mode: 1, // symmetric active
      stratum: 1,
      precision: -24,
      referenceId: 0x7f7f0101,
      referenceTs: peerAt(-10),
      originTs: f.org,
      receiveTs: f.rx,
      transmitTs: f.tx,
    });
  // first packet: nothing heard yet, basic
  const p1 = sent(src.onTimer(at(0)));
  assert.equal(p1.originTs, 0n);
  assert.equal(p1.transmitTs, timestampToNtp(at(0)));
  // the peer's basic packet: it got ours at 0.001, sent at 0.5, here at 0.501
  const first = src.onPacket(
    fromPeer({ org: p1.transmitTs, rx: peerAt(0.001), tx: peerAt(0.5) }),
    at(0.501),
    at(0.501),
  );
  assert.ok(sampleOf(first)); // a basic measurement
  // second packet: interleaved (origin = the peer's receive time of our packet,
  // receive = ours of its packet, transmit = when our previous packet left)
  const p2 = sent(src.onTimer(at(1)));
  assert.equal(p2.originTs, peerAt(0.001));
  assert.equal(p2.receiveTs, timestampToNtp(at(0.501)));
  assert.equal(p2.transmitTs, timestampToNtp(at(0)));
  // its interleaved answer: origin = our receive field, receive = its receive time of p2
  // (1.001), transmit = when its previous packet really left (0.5)
  const s = sampleOf(src.onPacket(
    fromPeer({ org: p2.receiveTs, rx: peerAt(1.001), tx: peerAt(0.5) }),
    at(1.501),
    at(1.501),
  ));
  assert.ok(s, "an interleaved sample");
  assert.equal(src.report().interleaved, true);
  // T1 = 1 (ours), T2 = 1.001 (its), T3 = 0.5 (its), T4 = 0.501 (ours): offset -0.1, delay 2 ms
  assert.ok(Math.abs(s.offset - -0.1) < NTP_ROUNDING, `${s.offset}`);
  assert.ok(Math.abs(s.peerDelay - 0.002) < NTP_ROUNDING, `${s.peerDelay}`);
  // a packet echoing a stale receive value is not taken as interleaved
  sent(src.onTimer(at(2)));
  assert.equal(
    sampleOf(src.onPacket(
      fromPeer({ org: p2.receiveTs, rx: peerAt(2.001), tx: peerAt(1.5) }),
      at(2.501),
      at(2.501),
    )),
    null,
  );
});
