import assert from "node:assert/strict";
import { decodePacket, encodePacket, PacketError } from "../../lib/ntp/packet.ts";
import { NtpSource } from "../../lib/ntp/source.ts";
import { fromSecNsec } from "../../lib/time/timestamp.ts";
import { prng } from "./prng.ts";

// Seeds: the chronyd 4.3 request and reply captured in tests/ntp/packet_test.ts,
// plus a v4 packet with an NTS-like extension field and a 20-byte MAC.
const SEEDS = [
  "2300062000000000000000000000000000000000000000000000000000000000" +
  "0000000000000000c719a6a2963c1b85",
  "240106e700000000000000007f7f0101eeae9a532d3bd076c719a6a2963c1b85" +
  "eeae9a54ee8dd441eeae9a54ee9550ce",
  "2300062000000000000000000000000000000000000000000000000000000000" +
  "0000000000000000c719a6a2963c1b85" + "01040024" + "11".repeat(32) + "00000009" + "22".repeat(20),
].map((h) => new Uint8Array(h.match(/../g)!.map((x) => parseInt(x, 16))));

function mutate(rand: () => number, base: Uint8Array): Uint8Array {
  let b = base.slice();
  const edits = 1 + Math.floor(rand() * 4);
  for (let i = 0; i < edits; i++) {
    const op = Math.floor(rand() * 4);
    const at = Math.floor(rand() * (b.length + 1));
    if (op === 0 && b.length > 0) b[at % b.length] = Math.floor(rand() * 256);
    else if (op === 1) b = b.slice(0, at);
    else if (op === 2) {
      const extra = new Uint8Array(Math.floor(rand() * 80)).map(() => Math.floor(rand() * 256));
      b = new Uint8Array([...b.subarray(0, at), ...extra, ...b.subarray(at)]);
    } else if (b.length > 50) {
      // plant a plausible extension-field length after the header
      const len = 4 * Math.floor(rand() * 20);
      b[50] = len >> 8;
      b[51] = len & 0xff;
    }
  }
  return b;
}

function checkOne(b: Uint8Array): "ok" | "error" {
  let p;
  try {
    p = decodePacket(b);
  } catch (e) {
    assert.ok(e instanceof PacketError, `non-PacketError ${e}`);
    return "error";
  }
  const again = encodePacket(p);
  assert.deepEqual(again, b, "decode -> encode must give the same bytes");
  assert.deepEqual(encodePacket(decodePacket(again)), again);
  return "ok";
}

Deno.test("fuzz: random bytes decode or throw PacketError, and valid ones round-trip exactly", () => {
  const rand = prng(0x5eed0001);
  const seen = { ok: 0, error: 0 };
  for (let i = 0; i < 20000; i++) {
    const len = Math.floor(rand() * 200);
    const b = new Uint8Array(len).map(() => Math.floor(rand() * 256));
    if (len >= 48 && rand() < 0.5) b[0] = (b[0]! & 0xc0) | (4 << 3) | (1 + Math.floor(rand() * 5));
    seen[checkOne(b)]++;
  }
  assert.ok(seen.ok > 1000 && seen.error > 1000, JSON.stringify(seen));
});

Deno.test("fuzz: mutated real packets decode or throw PacketError, and round-trip exactly", () => {
  const rand = prng(0x5eed0002);
  const seen = { ok: 0, error: 0 };
  for (let i = 0; i < 20000; i++) {
    const base = SEEDS[Math.floor(rand() * SEEDS.length)]!;
    seen[checkOne(mutate(rand, base))]++;
  }
  assert.ok(seen.ok > 1000 && seen.error > 1000, JSON.stringify(seen));
});

Deno.test("fuzz: an NtpSource fed random and mutated packets never throws and stays consistent", () => {
  const rand = prng(0x5eed0003);
  const src = new NtpSource("192.0.2.1", { iburst: true, burst: true, filter: 2 }, {
    randomBytes: (n) => new Uint8Array(n).map(() => Math.floor(rand() * 256)),
  });
  let now = fromSecNsec(1_700_000_000, 0);
  src.start(now);
  let lastRequest: Uint8Array | null = null;
  let samples = 0;
  for (let i = 0; i < 5000; i++) {
    now += BigInt(Math.floor(rand() * 3e9));
    if (rand() < 0.3) {
      for (const a of src.onTimer(now)) if (a.kind === "send") lastRequest = a.bytes;
    }
    let pkt = mutate(rand, SEEDS[Math.floor(rand() * SEEDS.length)]!);
    if (lastRequest && rand() < 0.5) {
      // the captured reply answering our real request, lightly mutated
      pkt = SEEDS[1]!.slice();
      pkt.set(lastRequest.subarray(40, 48), 24);
      if (rand() < 0.5) pkt = mutate(rand, pkt);
    }
    for (const a of src.onPacket(pkt, now, now)) {
      if (a.kind === "sample") {
        samples++;
        assert.ok(Number.isFinite(a.sample.offset) && a.sample.peerDelay > 0);
      }
    }
    assert.ok(src.poll >= 6 && src.poll <= 10);
  }
  assert.ok(samples > 0 && src.report().totalValidRx > 0);
});
