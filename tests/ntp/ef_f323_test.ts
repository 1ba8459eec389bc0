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
import { addSeconds, fromSecNsec } from "../../lib/time/timestamp.ts";

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
