import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import { timestampToNtp } from "../../lib/ntp/packet.ts";
import {
  addSeconds,
  diffSeconds,
  formatIso,
  fromNtp64,
  fromSecNsec,
  type Ntp64,
  NTP64_ZERO,
  ntp64Bits,
  NTP_UNIX_OFFSET,
  readNtp64,
  type Timestamp,
  toNtp64,
  toSecNsec,
  writeNtp64,
} from "../../lib/time/timestamp.ts";

Deno.test("the Unix epoch is NTP second 2208988800 with a zero fraction", () => {
  assertEquals(toNtp64(0n), { hi: 2208988800, lo: 0 });
});

Deno.test("half a second is the fraction 0x80000000", () => {
  assertEquals(toNtp64(fromSecNsec(1, 500_000_000)).lo, 0x80000000);
});

Deno.test("NTP round trip keeps the time to within a nanosecond", () => {
  for (const ns of [0n, 1n, 999_999_999n, 123_456_789n]) {
    const t = fromSecNsec(1_790_000_000, ns);
    const { hi, lo } = toNtp64(t);
    const back = fromNtp64(hi, lo, t);
    ok(back - t <= 1n && t - back <= 1n, `${t} -> ${back}`);
  }
});

Deno.test("era rule: a timestamp after 2036 is recovered with a pivot in the same era", () => {
  // 2040-01-01T00:00:00Z is in NTP era 1 (after 2036-02-07T06:28:16Z).
  const t = fromSecNsec(2208988800, 0);
  const { hi, lo } = toNtp64(t);
  ok(hi < 2 ** 32 && hi === Number((2208988800n + NTP_UNIX_OFFSET) % (1n << 32n)));
  assertEquals(fromNtp64(hi, lo, fromSecNsec(2208988000, 0)), t);
});

Deno.test("era rule: the same words read near a 2026 pivot map into era 0", () => {
  const t2026 = fromSecNsec(1_795_000_000, 0);
  const { hi, lo } = toNtp64(t2026);
  assertEquals(fromNtp64(hi, lo, fromSecNsec(1_790_000_000, 0)), t2026);
});

Deno.test("era rule: a pivot just before the 2036 rollover reads small seconds as era 1", () => {
  const pivot = fromSecNsec(2085978496 - 10, 0); // 10 s before 2036-02-07T06:28:16Z
  const after = fromSecNsec(2085978496 + 10, 0);
  const { hi, lo } = toNtp64(after);
  assertEquals(hi, 10);
  assertEquals(fromNtp64(hi, lo, pivot), after);
});

Deno.test("differences and additions are in float seconds", () => {
  const t = fromSecNsec(100, 0);
  assertEquals(diffSeconds(addSeconds(t, 0.25), t), 0.25);
  assertEquals(diffSeconds(t, addSeconds(t, 1e-9)), -1e-9);
});

Deno.test("negative times split into a floor second and a positive fraction", () => {
  assertEquals(toSecNsec(-1n), { sec: -1n, nsec: 999_999_999 });
});

Deno.test("the all-zero wire timestamp reads as unknown", () => {
  const v = new DataView(new ArrayBuffer(8));
  assertEquals(readNtp64(v, 0, 0n), null);
  writeNtp64(v, 0, fromSecNsec(1, 0));
  assertEquals(readNtp64(v, 0, 0n), fromSecNsec(1, 0));
});

Deno.test("ISO text carries nanoseconds", () => {
  assertEquals(formatIso(fromSecNsec(0, 5)), "1970-01-01T00:00:00.000000005Z");
});

Deno.test("Ntp64 and Timestamp cannot be passed for each other (checked at compile time)", () => {
  // Each @ts-expect-error line must be an error, or `deno check` (and so this
  // test file) fails: the brands are what is tested here.
  const t: Timestamp = fromSecNsec(1_700_000_000, 0);
  const raw: Ntp64 = timestampToNtp(t);
  const takesTimestamp = (x: Timestamp): number => diffSeconds(x, 0n);
  const takesNtp64 = (x: Ntp64): bigint => x >> 32n;
  // @ts-expect-error a raw NTP value is not a Timestamp
  diffSeconds(raw, t);
  // @ts-expect-error a raw NTP value is not a Timestamp
  takesTimestamp(raw);
  // @ts-expect-error a Timestamp is not a raw NTP value
  takesNtp64(t);
  // @ts-expect-error nor is a plain bigint
  takesNtp64(5n);
  // @ts-expect-error nor may one be stored where the other is kept
  const kept: Timestamp = raw;
  // Plain bigints and their arithmetic stay Timestamps without casts.
  const later: Timestamp = t + 5n * 1_000_000_000n;
  assertEquals(takesTimestamp(later - t), 5);
  assertEquals(takesNtp64(raw), BigInt(toNtp64(t).hi));
  assertEquals(takesNtp64(ntp64Bits(7n << 32n)), 7n);
  assertEquals(NTP64_ZERO, 0n);
  assertEquals(kept, raw); // same bits at run time: the brands cost nothing
});
