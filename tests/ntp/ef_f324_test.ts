/**
 * `extfield F324` against NTP-over-PTP datagrams chronyd 4.8 put on the wire
 * here (strace -xx of a 4.8 client of a 4.8 server on loopback, `ptpport`,
 * `server ... xleave extfield F324`): its second request and the server's
 * reply. Then the server's answer and the client's corrections (constructed
 * transparent-clock residence times: loopback has none and no NIC stamps).
 */
import assert from "node:assert/strict";
import {
  applyPtpCorrections,
  decodeF324,
  EF_EXP_PTP_CORRECTION,
  encodeF324,
  F324_REQUEST,
  findF324,
  findF324Request,
} from "../../lib/ntp/ef_f324.ts";
import { decodeNtpOverPtp, encodeNtpOverPtp, ptpCorrection } from "../../lib/ntp/ptp.ts";
import {
  decodePacket,
  encodePacket,
  MODE_SERVER,
  newPacket,
  timestampToNtp,
} from "../../lib/ntp/packet.ts";
import { NtpSource, type SourceAction } from "../../lib/ntp/source.ts";
import {
  classifyTrailer,
  newServerPacket,
  NtpServer,
  TRAILER_FIELDS,
  type TrailerScan,
  unsynchronisedReference,
} from "../../lib/ntp/server.ts";
import {
  addSeconds,
  fromSecNsec,
  type Ntp64,
  type Timestamp,
  toNtp64,
} from "../../lib/time/timestamp.ts";

const hex = (s: string) => new Uint8Array(s.match(/../g)!.map((b) => parseInt(b, 16)));
/** chronyd 4.8's second request (124 bytes: PTP 48 + NTP 48 + F324 28; sequenceId 1). */
const CHRONYD48_REQUEST = hex(
  "0102007c7b0004000000000000000000000000000000000000000000000000010000000000000000" +
    "000000002023004c230000200000000000000000000000000000000000000000eebddf0ae5054cf9" +
    "2b7d9134af24887a07857528be80539af324001c07ac2ceb00000000000000000000000000000000" +
    "00000000",
);
/** chronyd 4.8 (local stratum 1) answering it, interleaved. */
const CHRONYD48_REPLY = hex(
  "0102007c7b0004000000000000000000000000000000000000000000000000010000000000000000" +
    "000000002023004c240100e600000000000000007f7f0101eebddf0908d8fb3f07857528be80539a" +
    "eebddf0be57ec72beebddf0be581f94cf324001c07ac2ceb00000000000000000000000000000000" +
    "00000000",
);

Deno.test("F324: chronyd 4.8's request and reply decoded (type F324, 28 bytes, magic, zeros)", () => {
  for (const d of [CHRONYD48_REQUEST, CHRONYD48_REPLY]) {
    const ntp = decodeNtpOverPtp(d)!;
    assert.equal(ntp.length, 76);
    assert.equal(ptpCorrection(d), 0);
    const p = decodePacket(ntp);
    assert.equal(p.extensions.length, 1);
    assert.equal(p.extensions[0]!.type, EF_EXP_PTP_CORRECTION);
    assert.deepEqual(p.extensions[0]!.body, F324_REQUEST.body);
    assert.deepEqual(findF324(p.extensions), { correction: 0 });
    assert.equal(findF324Request(new DataView(ntp.buffer, ntp.byteOffset, 76), 76), 48);
  }
  assert.equal(decodeF324(new Uint8Array(24)), null); // no magic
  assert.equal(decodeF324(encodeF324({ correction: 0 }).body.subarray(0, 20)), null);
  // 32.32 signed seconds: 2^-32 s resolution
  assert.ok(
    Math.abs(decodeF324(encodeF324({ correction: 1.5e-6 }).body)!.correction - 1.5e-6) < 1e-9,
  );
  assert.ok(Math.abs(decodeF324(encodeF324({ correction: -2e-6 }).body)!.correction + 2e-6) < 1e-9);
  // correctionField: ns * 2^16, signed
  const d = CHRONYD48_REQUEST.slice();
  new DataView(d.buffer).setBigInt64(8, 1500n << 16n);
  assert.equal(ptpCorrection(d), 1.5e-6);
  new DataView(d.buffer).setBigInt64(8, -(1500n << 16n));
  assert.equal(ptpCorrection(d), -1.5e-6);
});

function sendOf(a: SourceAction[]): Uint8Array {
  const s = a.find((x) => x.kind === "send");
  assert.ok(s && s.kind === "send");
  return s.bytes;
}

const RX = fromSecNsec(1_700_000_000, 250_000_000);

function serve(req: Uint8Array, correction?: number): Uint8Array {
  const server = new NtpServer({ reference: unsynchronisedReference(-20) });
  const reqBuf = req.slice();
  const out = new Uint8Array(1140);
  const p = newServerPacket(new DataView(reqBuf.buffer), new DataView(out.buffer));
  p.reqLength = req.length;
  const r = toNtp64(RX);
  p.rxHi = r.hi;
  p.rxLo = r.lo;
  p.now = Number(RX) / 1e9;
  if (correction !== undefined) p.ptpCorrection = correction;
  return out.slice(0, server.process(p));
}

Deno.test("F324 server: chronyd 4.8's request gets the field after the header (zeros without a NIC-stamped correction)", () => {
  const req = decodeNtpOverPtp(CHRONYD48_REQUEST)!;
  const r = serve(req);
  assert.equal(r.length, 76);
  // the same field bytes as chronyd 4.8's reply
  assert.deepEqual(r.slice(48), decodeNtpOverPtp(CHRONYD48_REPLY)!.slice(48));
  // with a NIC-stamped request over PTP: its correction echoed
  const c = findF324(decodePacket(serve(req, 1.5e-6)).extensions)!;
  assert.ok(Math.abs(c.correction - 1.5e-6) < 1e-9, `${c.correction}`);
  // another magic, or a 32-byte field: no field (as chronyd 4.8 answered them)
  const bad = req.slice();
  bad[55] = bad[55]! ^ 1;
  assert.equal(serve(bad).length, 48);
  const long = new Uint8Array(80);
  long.set(req.subarray(0, 52));
  long[51] = 32;
  long.set(req.subarray(52, 56), 52);
  assert.equal(serve(long).length, 48);
  // a plain request: no field
  assert.equal(serve(req.slice(0, 48)).length, 48);
});

Deno.test("F324 server: the field is found behind another field (classifyTrailer sees every field's type)", () => {
  const req = decodeNtpOverPtp(CHRONYD48_REQUEST)!;
  const two = new Uint8Array(req.length + 16);
  two.set(req.subarray(0, 48));
  two.set([0x20, 0x00, 0x00, 0x10], 48); // an unknown 16-byte field first
  two.set(req.subarray(48), 64);
  const scan: TrailerScan = { experimental: false };
  const view = new DataView(two.buffer);
  assert.equal(classifyTrailer(view, two.length, 4, scan), TRAILER_FIELDS);
  assert.equal(scan.experimental, true);
  assert.equal(serve(two).length, 76);
  two[64] = 0x20; // the F324 field becomes another unknown one: none seen, none answered
  assert.equal(classifyTrailer(view, two.length, 4, scan), TRAILER_FIELDS);
  assert.equal(scan.experimental, false);
  assert.equal(serve(two).length, 48);
});

/** A source with `extfield F324` (and `xleave` off): one exchange, its sample. */
function exchange(
  extF324: boolean,
  reqCorr: number | null,
  ptp: { correction: number } | undefined,
) {
  const T0 = fromSecNsec(1_700_000_000, 0);
  const src = new NtpSource("192.0.2.1", { extF324 }, {
    randomBytes: (n) => new Uint8Array(n).fill(7),
  });
  src.start(T0);
  const req = sendOf(src.onTimer(T0));
  const q = decodePacket(req);
  const t2 = addSeconds(T0, 0.001);
  const reply = encodePacket({
    ...newPacket(),
    mode: MODE_SERVER,
    stratum: 1,
    precision: -24,
    referenceId: 0x47505300,
    referenceTs: timestampToNtp(addSeconds(T0, -10)),
    originTs: q.transmitTs,
    receiveTs: timestampToNtp(t2),
    transmitTs: timestampToNtp(t2),
    extensions: reqCorr === null ? [] : [encodeF324({ correction: reqCorr })],
  });
  // the datagram as it arrives over NTP-over-PTP (its header's correction read back)
  const t4 = addSeconds(T0, 0.002);
  const s = src.onPacket(decodeNtpOverPtp(encodeNtpOverPtp(reply))!, t4, t4, ptp)
    .find((x) => x.kind === "sample");
  assert.ok(s && s.kind === "sample");
  return { req, sample: s.sample };
}

Deno.test("extfield F324 client: the request is chronyd 4.8's; 1500 ns each way off the delay, offset kept", () => {
  const base = exchange(true, null, undefined);
  // the NTP request as chronyd 4.8's: header words before the timestamps and the field
  const chronyd = decodeNtpOverPtp(CHRONYD48_REQUEST)!;
  assert.equal(base.req.length, 76);
  assert.deepEqual(base.req.slice(48), chronyd.slice(48));
  assert.deepEqual(base.req.slice(0, 2), chronyd.slice(0, 2));
  assert.ok(Math.abs(base.sample.peerDelay - 0.002) < 1e-9);
  assert.ok(Math.abs(base.sample.offset) < 1e-9);

  const both = exchange(true, 1.5e-6, { correction: 1.5e-6 }).sample;
  assert.ok(Math.abs(both.peerDelay - (0.002 - 3e-6)) < 1e-9, `${both.peerDelay}`);
  assert.ok(Math.abs(both.offset) < 1e-9, `${both.offset}`);
  // asymmetric: 1500 ns to the server, 500 ns back: theta -(1500-500)/2 ns, and the sample's
  // offset (local minus source, -theta) +500 ns
  const asym = exchange(true, 1.5e-6, { correction: 0.5e-6 }).sample;
  assert.ok(Math.abs(asym.peerDelay - (0.002 - 2e-6)) < 1e-9, `${asym.peerDelay}`);
  assert.ok(Math.abs(asym.offset - 0.5e-6) < 1e-9, `${asym.offset}`);
  // without a NIC RX stamp (no `ptp`), or without the option: nothing applied
  const kernel = exchange(true, 1.5e-6, undefined).sample;
  assert.ok(Math.abs(kernel.peerDelay - 0.002) < 1e-9);
  const off = exchange(false, 1.5e-6, { correction: 1.5e-6 });
  assert.equal(off.req.length, 48);
  assert.ok(Math.abs(off.sample.peerDelay - 0.002) < 1e-9);
});

Deno.test("applyPtpCorrections: T2 and T4 only; negative or non-finite ignored", () => {
  const s = { t1: 0, t2: 1, t3: 1, t4: 2 };
  assert.deepEqual(applyPtpCorrections(s, 1e-6, 2e-6), {
    t1: 0,
    t2: 1 - 1e-6,
    t3: 1,
    t4: 2 - 2e-6,
  });
  assert.deepEqual(applyPtpCorrections(s, -1e-6, NaN), s);
});

Deno.test("extfield F324 + xleave: an interleaved sample takes the corrections of the exchange it measures", () => {
  const T0 = fromSecNsec(1_700_000_000, 0);
  const AHEAD = 0.005;
  let c = 1; // distinct random words (the receive cookie must differ from the transmit one)
  const src = new NtpSource("192.0.2.1", { precision: 2 ** -24, xleave: true, extF324: true }, {
    randomBytes: (n) => new Uint8Array(n).map(() => (c = (c * 73 + 41) & 0xff)),
  });
  src.start(T0);
  const mk = (origin: Ntp64, t2: Timestamp, t3: Timestamp, corr: number) =>
    encodePacket({
      ...newPacket(),
      mode: MODE_SERVER,
      stratum: 1,
      precision: -24,
      referenceId: 0x47505300,
      referenceTs: timestampToNtp(addSeconds(t2, -10)),
      originTs: origin,
      receiveTs: timestampToNtp(t2),
      transmitTs: timestampToNtp(t3),
      extensions: [encodeF324({ correction: corr })],
    });
  const times = (at: Timestamp) => {
    const t1 = addSeconds(at, 10e-6);
    const t2 = addSeconds(t1, 0.001 + AHEAD);
    return { t1, t2, t3: addSeconds(t2, 150e-6), t4: addSeconds(t1, 0.00215) };
  };
  const q1 = decodePacket(sendOf(src.onTimer(T0)));
  const e1 = times(T0);
  src.onTxTimestamp(e1.t1);
  // exchange 1: 1500 ns to the server, 500 ns back
  src.onPacket(mk(q1.transmitTs, e1.t2, e1.t3, 1.5e-6), e1.t4, e1.t4, { correction: 0.5e-6 });
  const at2 = src.nextTimer!;
  const q2 = decodePacket(sendOf(src.onTimer(at2)));
  assert.equal(q2.originTs, timestampToNtp(e1.t2)); // the raw T2 echoed, not the corrected one
  const e2 = times(at2);
  src.onTxTimestamp(e2.t1);
  // exchange 2's own corrections (9 µs) must not enter the sample of exchange 1
  const a = src.onPacket(mk(q2.receiveTs, e2.t2, e1.t3, 9e-6), e2.t4, e2.t4, { correction: 9e-6 });
  const s = a.find((x) => x.kind === "sample");
  assert.ok(s && s.kind === "sample");
  assert.equal(src.report().interleaved, true);
  // uncorrected: delay 2.15 ms - 0.15 ms, offset -AHEAD (tests/ntp/source_xleave_test.ts)
  assert.ok(Math.abs(s.sample.peerDelay - (0.002 - 2e-6)) < 4e-9, `${s.sample.peerDelay}`);
  assert.ok(Math.abs(s.sample.offset - (-AHEAD + 0.5e-6)) < 4e-9, `${s.sample.offset}`);
});
