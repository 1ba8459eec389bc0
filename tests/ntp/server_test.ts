import assert from "node:assert/strict";
import { AddressFilter } from "../../lib/ntp/addrfilt.ts";
import { ClientLog } from "../../lib/ntp/clientlog.ts";
import {
  KISS_RATE,
  LOCAL_REFERENCE_ID,
  newServerPacket,
  NtpServer,
  type ServerReference,
  unsynchronisedReference,
  writeTransmit,
} from "../../lib/ntp/server.ts";
import { fromSecNsec, toNtp64 } from "../../lib/time/timestamp.ts";

const T0 = fromSecNsec(1_700_000_000, 0);
const RX = fromSecNsec(1_700_000_100, 250_000_000);

function request(opts: { version?: number; mode?: number; length?: number; poll?: number } = {}) {
  const v = new DataView(new ArrayBuffer(Math.max(48, opts.length ?? 48)));
  v.setUint8(0, ((opts.version ?? 4) << 3) | (opts.mode ?? 3));
  v.setUint8(2, opts.poll ?? 6);
  v.setInt8(3, -20);
  v.setUint32(40, 0x12345678);
  v.setUint32(44, 0x9abcdef0);
  return v;
}

function syncedReference(): ServerReference {
  return {
    synchronised: true,
    leap: 1,
    stratum: 3,
    precision: -25,
    rootDelay: 0.0125,
    rootDispersion: 0.5,
    dispersionRate: 0,
    refId: 0xc0000201,
    refTime: T0,
    local: null,
    localSince: null,
  };
}

Deno.test("server: a client request gets a mode 4 reply with every field exact", () => {
  const server = new NtpServer({ reference: syncedReference() });
  const out = new DataView(new ArrayBuffer(48));
  const tx = fromSecNsec(1_700_000_100, 250_100_000);
  assert.equal(server.respond(request({ poll: 7 }), 48, RX, out, tx), 48);
  assert.equal(out.getUint8(0), (1 << 6) | (4 << 3) | 4);
  assert.equal(out.getUint8(1), 3);
  assert.equal(out.getUint8(2), 7);
  assert.equal(out.getInt8(3), -25);
  assert.equal(out.getUint32(4), Math.ceil(0.0125 * 65536)); // rounded up as chronyd
  assert.equal(out.getUint32(8), 0x8000);
  assert.equal(out.getUint32(12), 0xc0000201);
  assert.deepEqual([out.getUint32(16), out.getUint32(20)], Object.values(toNtp64(T0)));
  assert.deepEqual([out.getUint32(24), out.getUint32(28)], [0x12345678, 0x9abcdef0]);
  assert.deepEqual([out.getUint32(32), out.getUint32(36)], Object.values(toNtp64(RX)));
  assert.deepEqual([out.getUint32(40), out.getUint32(44)], Object.values(toNtp64(tx)));
});

Deno.test("server: microsecond root delay and dispersion go out as one unit, not 0 (chronyd)", () => {
  const ref = { ...syncedReference(), rootDelay: 3.3e-6, rootDispersion: 1.6e-6 };
  const server = new NtpServer({ reference: ref });
  const out = new DataView(new ArrayBuffer(48));
  assert.equal(server.respond(request(), 48, RX, out), 48);
  assert.deepEqual([out.getUint32(4), out.getUint32(8)], [1, 1]);
});

Deno.test("server: versions 1-4 are echoed; version 0 and 5 are dropped and counted", () => {
  const server = new NtpServer({ reference: syncedReference() });
  const out = new DataView(new ArrayBuffer(48));
  for (const v of [1, 2, 3, 4]) {
    assert.equal(server.respond(request({ version: v }), 48, RX, out), 48);
    assert.equal((out.getUint8(0) >> 3) & 7, v);
  }
  assert.equal(server.respond(request({ version: 5 }), 48, RX, out), 0);
  assert.equal(server.respond(request({ version: 0 }), 48, RX, out), 0);
  assert.equal(server.drops.badVersion, 2);
});

Deno.test("server: symmetric active gets mode 2 (as chronyd 4.3); other modes are dropped", () => {
  const server = new NtpServer({ reference: syncedReference() });
  const out = new DataView(new ArrayBuffer(48));
  assert.equal(server.respond(request({ mode: 1 }), 48, RX, out), 48);
  assert.equal(out.getUint8(0) & 7, 2);
  for (const m of [0, 2, 4, 5, 6, 7]) {
    assert.equal(server.respond(request({ mode: m }), 48, RX, out), 0, `mode ${m}`);
  }
  assert.equal(server.drops.badMode, 6);
});

Deno.test("server: short and malformed requests are dropped; extension fields get a 48-byte reply", () => {
  const server = new NtpServer({ reference: syncedReference() });
  const out = new DataView(new ArrayBuffer(1200));
  assert.equal(server.respond(request({ length: 47 }), 47, RX, out), 0);
  assert.equal(server.drops.short, 1);
  // 8 stray bytes: neither extension field nor MAC.
  assert.equal(server.respond(request({ length: 56 }), 56, RX, out), 0);
  // Extension field claiming 100 bytes in a 72-byte remainder.
  const bad = request({ length: 120 });
  bad.setUint16(50, 100);
  assert.equal(server.respond(bad, 120, RX, out), 0);
  assert.equal(server.drops.malformed, 2);
  const ef = request({ length: 76 }); // one 28-byte extension field of an unknown type
  ef.setUint16(48, 0x2005);
  ef.setUint16(50, 28);
  assert.equal(server.respond(ef, 76, RX, out), 48);
  // 1140 bytes of fields (the longest request chronyd answers) are served too.
  const long = request({ length: 1140 });
  for (const [at, n] of [[48, 512], [560, 512], [1072, 68]]) {
    long.setUint16(at!, 0x2005);
    long.setUint16(at! + 2, n!);
  }
  assert.equal(server.respond(long, 1140, RX, out), 48);
});

Deno.test("server: a length that is not a multiple of 4 is dropped (chronyd 4.3)", () => {
  const server = new NtpServer({ reference: syncedReference() });
  const out = new DataView(new ArrayBuffer(64));
  for (const n of [49, 50, 51, 53]) {
    assert.equal(server.respond(request({ length: n }), n, RX, out), 0);
  }
  assert.equal(server.drops.malformed, 4);
});

Deno.test("server: NTPv1 mode 0 is answered in mode 4, like chronyd; mode 0 of v2-4 is not", () => {
  const server = new NtpServer({ reference: syncedReference() });
  const out = new DataView(new ArrayBuffer(48));
  assert.equal(server.respond(request({ version: 1, mode: 0 }), 48, RX, out), 48);
  assert.deepEqual([(out.getUint8(0) >> 3) & 7, out.getUint8(0) & 7], [1, 4]);
  for (const v of [2, 3, 4]) {
    assert.equal(server.respond(request({ version: v, mode: 0 }), 48, RX, out), 0);
  }
});

Deno.test("server: without a keyfile, MAC'd requests (any length, crypto-NAK, MS-SNTP) get no reply", () => {
  const server = new NtpServer({ reference: syncedReference() });
  const out = new DataView(new ArrayBuffer(200));
  // NTPv1-3: everything after the header is a MAC.
  for (const v of [1, 2, 3]) {
    for (const n of [4, 8, 20, 24, 36, 68, 72]) {
      assert.equal(server.respond(request({ version: v, length: 48 + n }), 48 + n, RX, out), 0);
    }
  }
  // NTPv4: a 4-byte crypto-NAK (key id 0), a 20- or 24-byte MAC (MD5, SHA1 or MS-SNTP).
  for (const n of [4, 20, 24]) {
    assert.equal(server.respond(request({ length: 48 + n }), 48 + n, RX, out), 0, `${n}`);
  }
  // A 20-byte MAC after an extension field.
  const ef = request({ length: 96 });
  ef.setUint16(48, 0x2005);
  ef.setUint16(50, 28);
  assert.equal(server.respond(ef, 96, RX, out), 0);
  assert.equal(server.drops.authFailed, 3 * 7 + 3 + 1);
});

Deno.test("server: NTPv4 trailers chronyd cannot parse are dropped", () => {
  const server = new NtpServer({ reference: syncedReference() });
  const out = new DataView(new ArrayBuffer(200));
  const cases: [string, number, (v: DataView) => void][] = [
    ["4 bytes, key id not 0", 52, (v) => v.setUint32(48, 1)],
    ["a 16-byte final field", 64, (v) => (v.setUint16(48, 0x2005), v.setUint16(50, 16))],
    ["a 12-byte field", 88, (v) => (v.setUint16(48, 0x2005), v.setUint16(50, 12))],
    ["28 bytes not a field (no MAC that long)", 76, (v) => v.setUint32(48, 7)],
    ["a field then 4 bytes", 80, (v) => (v.setUint16(48, 0x2005), v.setUint16(50, 28))],
    ["a field then a 16-byte field", 92, (v) => {
      v.setUint16(48, 0x2005), v.setUint16(50, 28), v.setUint16(76, 0x2005), v.setUint16(78, 16);
    }],
  ];
  for (const [name, n, edit] of cases) {
    const r = request({ length: n });
    edit(r);
    assert.equal(server.respond(r, n, RX, out), 0, name);
  }
  assert.equal(server.drops.malformed, cases.length);
});

Deno.test("server: NTS fields without an NTS server, or in a mode other than client, get no reply", () => {
  const calls: string[] = [];
  const nts = {
    check: () => (calls.push("check"), "ok" as const),
    complete: () => 48,
    transmitTime: () => RX,
  };
  const server = new NtpServer({ reference: syncedReference() });
  const out = new DataView(new ArrayBuffer(200));
  for (const type of [0x0104, 0x0204, 0x0304, 0x0404]) {
    const r = request({ length: 48 + 104 }); // a lone NTS field (e.g. a cookie)
    r.setUint16(48, type);
    r.setUint16(50, 104);
    assert.equal(server.respond(r, 152, RX, out), 0, type.toString(16));
  }
  assert.equal(server.drops.authFailed, 4);
  server.setAuth(nts);
  const sym = request({ mode: 1, length: 152 });
  sym.setUint16(48, 0x0204);
  sym.setUint16(50, 104);
  assert.equal(server.respond(sym, 152, RX, out), 0);
  assert.deepEqual(calls, []);
  const client = request({ length: 152 });
  client.setUint16(48, 0x0204);
  client.setUint16(50, 104);
  assert.equal(server.respond(client, 152, RX, out), 48);
  assert.deepEqual(calls, ["check"]);
});

Deno.test("server: an authenticated reply's transmit words from transmitTimeTo equal toNtp64's", () => {
  // The number-only path (no BigInt) must write what the Timestamp path writes: rounding of
  // the fraction half up, its saturation near the next second, and a smoothing shift's carry.
  let t = RX;
  const split = {
    check: () => "ok" as const,
    complete: () => 48,
    transmitTime: () => t,
    transmitTimeTo: (o: Float64Array) => {
      o[0] = Number(t / 1_000_000_000n);
      o[1] = Number(t % 1_000_000_000n);
    },
  };
  const big = { check: split.check, complete: split.complete, transmitTime: split.transmitTime };
  const nsecs = [0, 1, 116, 117, 232, 233, 500_000_000, 999_999_883, 999_999_999, 123_456_789];
  for (let i = 0; i < 200; i++) nsecs.push(Math.floor(Math.random() * 1e9));
  for (const shift of [0, 0.25, -0.0000001234]) {
    const a = new NtpServer({ reference: syncedReference(), auth: split });
    const b = new NtpServer({ reference: syncedReference(), auth: big });
    for (const s of [a, b]) s.setSmoothing(() => 0, () => shift);
    for (const ns of nsecs) {
      t = fromSecNsec(1_700_000_000 + (ns & 7), ns);
      const words: number[][] = [];
      for (const s of [a, b]) {
        const r = request({ length: 152 });
        r.setUint16(48, 0x0204);
        r.setUint16(50, 104);
        const out = new DataView(new ArrayBuffer(200));
        assert.equal(s.respond(r, 152, RX, out), 48);
        words.push([out.getUint32(40), out.getUint32(44)]);
      }
      assert.deepEqual(words[0], words[1], `${ns} ns, shift ${shift}`);
      if (shift === 0) {
        const n = toNtp64(t);
        assert.deepEqual(words[0], [n.hi, n.lo]);
      }
    }
  }
});

Deno.test("server: unsynchronised without local answers leap 3, stratum 0, 1 s root (chronyd 4.3)", () => {
  const server = new NtpServer({ reference: unsynchronisedReference(-25) });
  const out = new DataView(new ArrayBuffer(48));
  assert.equal(server.respond(request(), 48, RX, out), 48);
  assert.equal(out.getUint8(0), 0xe4);
  assert.equal(out.getUint8(1), 0);
  assert.equal(out.getUint32(4), 0x10000);
  assert.equal(out.getUint32(8), 0x10000);
  assert.equal(out.getUint32(12), 0);
  assert.deepEqual([out.getUint32(16), out.getUint32(20)], [0, 0]);
});

Deno.test("server: local stratum serves 127.127.1.1 when unsynchronised or beyond the distance", () => {
  const ref = unsynchronisedReference(-25);
  ref.local = { stratum: 8, distance: 1, orphan: false };
  ref.localSince = T0;
  const server = new NtpServer({ reference: ref });
  const out = new DataView(new ArrayBuffer(48));
  server.respond(request(), 48, RX, out);
  assert.deepEqual([out.getUint8(0) >> 6, out.getUint8(1)], [0, 8]);
  assert.equal(out.getUint32(12), LOCAL_REFERENCE_ID);
  assert.deepEqual([out.getUint32(4), out.getUint32(8)], [0, 0]);
  // Synchronised with root distance 0.5 s < 1 s: serve the real reference.
  const synced = { ...syncedReference(), local: ref.local, dispersionRate: 0.01 };
  server.setReference(synced, T0);
  server.respond(request(), 48, RX, out);
  assert.equal(out.getUint8(1), 3);
  // 100 s later the dispersion has grown to 1.5 s: the local reference takes over.
  server.refresh(RX);
  server.respond(request(), 48, RX, out);
  assert.equal(out.getUint8(1), 8);
});

function clientPacket(server: NtpServer, addr: Uint8Array) {
  const req = new DataView(new ArrayBuffer(48));
  const p = newServerPacket(req, req);
  p.addr = addr;
  p.addrOffset = 0;
  p.family = 4;
  return { p, req, server };
}

function exchange(
  c: ReturnType<typeof clientPacket>,
  fields: { origin: [number, number]; receive: [number, number]; transmit: [number, number] },
  rx: [number, number],
  tx: [number, number],
  now: number,
): number {
  const { p, req, server } = c;
  new Uint8Array(req.buffer).fill(0);
  req.setUint8(0, 0x23);
  req.setUint32(24, fields.origin[0]);
  req.setUint32(28, fields.origin[1]);
  req.setUint32(32, fields.receive[0]);
  req.setUint32(36, fields.receive[1]);
  req.setUint32(40, fields.transmit[0]);
  req.setUint32(44, fields.transmit[1]);
  p.reqLength = 48;
  [p.rxHi, p.rxLo] = rx;
  p.now = now;
  const n = server.process(p);
  if (n > 0 && p.txPending) writeTransmit(p.out, tx[0], tx[1]);
  if (n > 0) server.sent(p, tx[0], tx[1]);
  return n;
}

Deno.test("server: interleaved sequence answers with the previous reply's transmit timestamp", () => {
  const log = new ClientLog({ seed: 5, random: () => 0 });
  const server = new NtpServer({ reference: syncedReference(), clientLog: log });
  const c = clientPacket(server, new Uint8Array([192, 0, 2, 10]));
  const out = c.req;
  // 1: basic request (origin 0).
  exchange(c, { origin: [0, 0], receive: [0, 0], transmit: [100, 1] }, [200, 1], [200, 9], 1);
  assert.deepEqual([out.getUint32(24), out.getUint32(28)], [100, 1]);
  assert.equal(log.serverStats().ntpInterleavedHits, 0);
  // The kernel reports a better TX timestamp of reply 1.
  const slot = c.p.slot;
  server.improveTx(slot, 200, 1, 200, 7);
  // 2: interleaved: origin = our previous receive timestamp, receive = client's T4.
  exchange(c, { origin: [200, 1], receive: [300, 3], transmit: [301, 5] }, [400, 1], [400, 9], 2);
  assert.deepEqual([out.getUint32(24), out.getUint32(28)], [300, 3], "origin = request receive");
  assert.deepEqual([out.getUint32(32), out.getUint32(36)], [400, 1], "receive = this rx");
  assert.deepEqual([out.getUint32(40), out.getUint32(44)], [200, 7], "transmit = previous tx");
  assert.equal(log.serverStats().ntpInterleavedHits, 1);
  // 3: a basic request whose origin does not match: basic reply.
  exchange(c, { origin: [999, 9], receive: [0, 0], transmit: [500, 5] }, [600, 1], [600, 9], 3);
  assert.deepEqual([out.getUint32(24), out.getUint32(28)], [500, 5]);
  assert.deepEqual([out.getUint32(40), out.getUint32(44)], [600, 9]);
  assert.equal(log.serverStats().ntpInterleavedHits, 1);
  assert.equal(log.serverStats().ntpTimestamps, 1);
});

Deno.test("server: denied addresses and rate-limited requests get no reply; kod gets RATE", () => {
  const filter = AddressFilter.fromRules([{ allow: true, all: false, subnet: "192.0.2.0/24" }]);
  const log = new ClientLog({
    seed: 5,
    random: () => 0.99,
    ntpRateLimit: { interval: 4, burst: 1, leak: 2, kod: true },
  });
  const server = new NtpServer({ reference: syncedReference(), clientLog: log, filter });
  const denied = clientPacket(server, new Uint8Array([198, 51, 100, 1]));
  const t = { origin: [0, 0], receive: [0, 0], transmit: [1, 1] } as const;
  const f = { origin: [...t.origin], receive: [...t.receive], transmit: [...t.transmit] } as {
    origin: [number, number];
    receive: [number, number];
    transmit: [number, number];
  };
  assert.equal(exchange(denied, f, [2, 2], [2, 3], 1), 0);
  assert.equal(server.drops.denied, 1);
  assert.equal(log.serverStats().ntpHits, 0);
  const ok = clientPacket(server, new Uint8Array([192, 0, 2, 1]));
  assert.equal(exchange(ok, f, [2, 2], [2, 3], 1), 48);
  assert.equal(exchange(ok, f, [2, 2], [2, 3], 1.5), 48);
  assert.equal(ok.req.getUint8(1), 0);
  assert.equal(ok.req.getUint32(12), KISS_RATE);
  assert.equal(ok.req.getUint8(0) >> 6, 3);
  assert.equal(server.drops.kod, 1);
  assert.equal(log.serverStats().ntpDrops, 1);
});
