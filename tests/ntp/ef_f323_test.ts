/**
 * `extfield F323` against bytes chronyd 4.3 put on the wire here (captured on
 * loopback): its request with `server ... extfield F323`, and a reply of a
 * chronyd 4.3 server at stratum 2 (root delay 3.874 µs in its `tracking`).
 */
import assert from "node:assert/strict";
import {
  decodeF323,
  EF_EXP_MONO_ROOT,
  encodeF323,
  F323_REQUEST,
  findF323,
} from "../../lib/ntp/ef_f323.ts";
import {
  decodePacket,
  encodePacket,
  MODE_SERVER,
  newPacket,
  timestampToNtp,
} from "../../lib/ntp/packet.ts";
import { NtpSource, type SourceAction } from "../../lib/ntp/source.ts";
import { NtpServer, unsynchronisedReference } from "../../lib/ntp/server.ts";
import { KeyServerAuth } from "../../lib/ntp/key_auth.ts";
import { loadDigests, signPacket, verifyPacket } from "../../lib/ntp/mac.ts";
import { SourceStats } from "../../lib/clock/sourcestats.ts";
import { addSeconds, diffSeconds, fromSecNsec, type Timestamp } from "../../lib/time/timestamp.ts";

const hex = (s: string) => new Uint8Array(s.match(/../g)!.map((b) => parseInt(b, 16)));
/** chronyd 4.3's request with `extfield F323` (76 bytes; its random transmit timestamp). */
const CHRONYD_REQUEST = hex(
  "23000620000000000000000000000000000000000000000000000000000000000000000000000000" +
    "a21076cf2decb66ef323001cf5bedd9a0000000000000000000000000000000000000000",
);
/** chronyd 4.3 (stratum 2) answering it. */
const CHRONYD_REPLY = hex(
  "240206e600000001000000017f000001eebdb9fe794ebce2a21076cf2decb66eeebdb9ff07dbffd7" +
    "eebdb9ff0832d05cf323001cf5bedd9a00000410000000c6eebdb9ff07dc01783051764a",
);

Deno.test("F323: chronyd 4.3's request field and reply decoded (4.28 root delay and dispersion)", () => {
  const q = decodePacket(CHRONYD_REQUEST);
  assert.equal(q.extensions.length, 1);
  assert.equal(q.extensions[0]!.type, EF_EXP_MONO_ROOT);
  assert.deepEqual(q.extensions[0]!.body, F323_REQUEST.body);
  const r = decodePacket(CHRONYD_REPLY);
  const f = findF323(r.extensions)!;
  assert.equal(f.rootDelay, 0x410 / 2 ** 28); // 3.874 µs, as chronyc tracking showed
  assert.ok(Math.abs(f.rootDelay - 3.874e-6) < 1e-9);
  assert.equal(f.rootDispersion, 0xc6 / 2 ** 28);
  assert.equal(f.monoReceiveTs, 0xeebdb9ff07dc0178n);
  assert.equal(f.monoEpoch, 0x3051764a);
  // the header carries the same root delay rounded up to 2^-16 s
  assert.equal(r.rootDelay, 1 / 65536);
  // round trip
  assert.deepEqual(decodeF323(encodeF323(f).body), f);
  assert.equal(decodeF323(new Uint8Array(24)), null); // no magic
  assert.equal(decodeF323(new Uint8Array(8)), null);
});

function sendOf(a: SourceAction[]): Uint8Array {
  const s = a.find((x) => x.kind === "send");
  assert.ok(s && s.kind === "send");
  return s.bytes;
}

Deno.test("extfield F323: the request is laid out as chronyd 4.3's; the reply's finer root values are used", () => {
  const T0 = fromSecNsec(1_700_000_000, 0);
  const src = new NtpSource("192.0.2.1", { extF323: true }, {
    randomBytes: (n) => new Uint8Array(n).fill(7),
  });
  src.start(T0);
  const req = sendOf(src.onTimer(T0));
  assert.equal(req.length, 76);
  // everything but the random transmit timestamp as chronyd's
  assert.deepEqual(req.slice(48), CHRONYD_REQUEST.slice(48));
  assert.deepEqual(req.slice(0, 2), CHRONYD_REQUEST.slice(0, 2));
  const q = decodePacket(req);
  const t2 = addSeconds(T0, 0.001);
  const replyWith = (withField: boolean) =>
    encodePacket({
      ...newPacket(),
      mode: MODE_SERVER,
      stratum: 2,
      precision: -24,
      rootDelay: 1 / 65536,
      rootDispersion: 1 / 65536,
      referenceId: 0x7f000001,
      referenceTs: timestampToNtp(addSeconds(T0, -10)),
      originTs: q.transmitTs,
      receiveTs: timestampToNtp(t2),
      transmitTs: timestampToNtp(t2),
      extensions: withField
        ? [encodeF323({
          rootDelay: 3.874e-6,
          rootDispersion: 0.7e-6,
          monoReceiveTs: 1n,
          monoEpoch: 5,
        })]
        : [],
    });
  const t4 = addSeconds(T0, 0.002);
  const s = src.onPacket(replyWith(true), t4, t4).find((x) => x.kind === "sample");
  assert.ok(s && s.kind === "sample");
  assert.ok(Math.abs(s.sample.rootDelay - 3.874e-6) < 1e-8, `${s.sample.rootDelay}`);
  assert.ok(Math.abs(s.sample.rootDispersion - 0.7e-6) < 1e-8);

  // without the option: no field sent, the header's values
  const plain = new NtpSource("192.0.2.1", {}, { randomBytes: (n) => new Uint8Array(n).fill(9) });
  plain.start(T0);
  assert.equal(sendOf(plain.onTimer(T0)).length, 48);
});

// ---- server side: answers as chronyd 4.3/4.8 did on loopback (tests/interop/ef_f323_test.ts) ----

const RX = fromSecNsec(1_700_000_000, 250_000_000);

function serverFor(reference = unsynchronisedReference(-20)) {
  const server = new NtpServer({ reference });
  server.setMonotonic(() => 1_500_000n, 0x3051764a); // cooked - monotonic: 1.5 ms
  return server;
}

function answer(server: NtpServer, req: Uint8Array): Uint8Array {
  const out = new Uint8Array(1140);
  const n = server.respond(
    new DataView(req.buffer, req.byteOffset, req.length),
    req.length,
    RX,
    new DataView(out.buffer),
  );
  return out.slice(0, n);
}

const withField = (hexFields: string) => {
  const b = new Uint8Array(48 + hexFields.length / 2);
  b.set(CHRONYD_REQUEST.subarray(0, 48));
  b.set(hex(hexFields), 48);
  return b;
};

Deno.test("F323 server: the field after the header, root values in 4.28, monotonic receive = receive - corrections", () => {
  const ref = { ...unsynchronisedReference(-24), synchronised: true, stratum: 2 };
  Object.assign(ref, {
    rootDelay: 3.874e-6,
    rootDispersion: 0.7e-6,
    refTime: RX,
    refId: 0x7f000001,
  });
  const r = answer(serverFor(ref), CHRONYD_REQUEST);
  assert.equal(r.length, 76);
  const p = decodePacket(r);
  const f = findF323(p.extensions)!;
  assert.equal(p.extensions.length, 1);
  assert.equal(f.rootDelay, Math.ceil(3.874e-6 * 2 ** 28) / 2 ** 28);
  assert.equal(f.rootDispersion, Math.ceil(0.7e-6 * 2 ** 28) / 2 ** 28);
  assert.equal(f.monoEpoch, 0x3051764a);
  const d = Number(BigInt.asIntN(64, p.receiveTs - f.monoReceiveTs)) / 2 ** 32;
  assert.ok(Math.abs(d - 1.5e-3) < 1e-9, `${d}`);
  // the header keeps its 16.16 values
  assert.equal(p.rootDelay, 1 / 65536);
});

Deno.test("F323 server: unsynchronised 1 s; wrong magic or length, no monotonic source: no field; other fields not echoed", () => {
  const server = serverFor();
  const u = findF323(decodePacket(answer(server, CHRONYD_REQUEST)).extensions)!;
  assert.equal(u.rootDelay, 1);
  assert.equal(u.rootDispersion, 1);
  const F = "f323001cf5bedd9a0000000000000000000000000000000000000000";
  assert.equal(answer(server, withField("f323001cf5bedd9b" + F.slice(16))).length, 48);
  assert.equal(
    answer(server, withField("f3230020f5bedd9a" + "00".repeat(24))).length,
    48,
  );
  // an unknown field before or after, two F323 fields: one field back (chronyd: 76 bytes)
  assert.equal(answer(server, withField("20050010" + "00".repeat(12) + F)).length, 76);
  assert.equal(answer(server, withField(F + "2005001c" + "00".repeat(24))).length, 76);
  assert.equal(answer(server, withField(F + F)).length, 76);
  const plain = new NtpServer({ reference: unsynchronisedReference(-20) });
  assert.equal(answer(plain, CHRONYD_REQUEST).length, 48);
});

Deno.test("F323 server with a MAC: header, F323, then the MAC over both", async () => {
  await loadDigests();
  const key = { id: 7, type: "SHA1" as const, key: new Uint8Array(20).fill(3), line: 1 };
  const lookup = (id: number) => (id === 7 ? key : undefined);
  const server = serverFor();
  server.setKeyAuth(new KeyServerAuth(lookup, () => RX));
  const req = signPacket(CHRONYD_REQUEST, key);
  const r = answer(server, req);
  assert.equal(r.length, 76 + 24);
  assert.equal(new DataView(r.buffer).getUint16(48), EF_EXP_MONO_ROOT);
  assert.equal(verifyPacket(r, lookup).kind, "ok");
});

// ---- client side: frequency transfer with a simulated server that corrects its clock ----

/**
 * Our clock runs 10 ppm fast; the server's served time is true time plus its
 * own correction, which jumps by +5 ms at poll 12 (a step or a quick slew),
 * while its monotonic receive timestamp goes on without it. Returns the
 * statistics' worst frequency error from then on, its samples and offset.
 */
function runSimulated(withMono: boolean, epochChange = false) {
  const T0 = fromSecNsec(1_700_000_000, 0);
  const src = new NtpSource("192.0.2.1", { extF323: true, minpoll: 4, maxpoll: 4 }, {
    randomBytes: (n) => crypto.getRandomValues(new Uint8Array(n)),
  });
  const stats = new SourceStats({ name: "192.0.2.1" });
  src.start(T0);
  let local = T0;
  const freqs: number[] = [];
  for (let i = 0; i < 24; i++) {
    const req = decodePacket(sendOf(src.onTimer(local)));
    const trueAt = (l: Timestamp) => addSeconds(T0, diffSeconds(l, T0) / (1 + 10e-6));
    const t2True = trueAt(addSeconds(local, 50e-6));
    const correction = i >= 12 ? 0.005 : 0;
    const served = addSeconds(t2True, correction);
    const mono = addSeconds(t2True, 0.2); // any constant difference
    const reply = encodePacket({
      ...newPacket(),
      mode: MODE_SERVER,
      stratum: 1,
      precision: -24,
      referenceId: 0x47505300,
      referenceTs: timestampToNtp(addSeconds(served, -1)),
      originTs: req.transmitTs,
      receiveTs: timestampToNtp(served),
      transmitTs: timestampToNtp(addSeconds(served, 10e-6)),
      extensions: [encodeF323({
        rootDelay: 0,
        rootDispersion: 0,
        monoReceiveTs: withMono ? timestampToNtp(mono) : 0n,
        monoEpoch: epochChange && i >= 12 ? 2 : 1,
      })],
    });
    const t4 = addSeconds(local, 110e-6);
    for (const a of src.onPacket(reply, t4, t4)) {
      if (a.kind === "sample") freqs.push(stats.accumulate(a.sample).frequency);
    }
    local = addSeconds(local, 16);
  }
  // the largest frequency error from the correction on
  const worst = Math.max(...freqs.slice(12).map((f) => Math.abs(f - 10e-6)));
  return { worst, samples: stats.sampleCount, offset: stats.estimate()!.offset };
}

Deno.test("F323 client: the server's own correction leaves the frequency estimate alone (same epoch)", () => {
  const transfer = runSimulated(true);
  assert.ok(transfer.worst < 0.05e-6, `frequency error ${transfer.worst}`);
  // the offset follows the server's corrected time at once: 10 ppm over 23 polls, minus 5 ms
  const expected = 23 * 16 * 10e-6 - 0.005;
  assert.ok(Math.abs(transfer.offset - expected) < 50e-6, `offset ${transfer.offset}`);
  assert.equal(transfer.samples, 24); // nothing dropped
  // without monotonic timestamps (or with a new epoch) the jump is a step of the source: the
  // regression finds it (lib/clock/regression.ts findStep, issue 17; before, the frequency
  // swung by more than 10 ppm here), keeps the frequency and drops the samples before it
  for (const other of [runSimulated(false), runSimulated(true, true)]) {
    assert.ok(other.worst < 0.05e-6, `frequency error ${other.worst}`);
    assert.equal(other.samples, 12);
  }
});
