import assert from "node:assert/strict";
import {
  leapAtEndOfDay,
  parseLeapSecondsList,
  parseTzifLeaps,
  taiOffset,
  TzifError,
} from "../../lib/clock/leap.ts";
import { fromSecNsec } from "../../lib/time/timestamp.ts";

/** Builds a TZif with one type ("UTC") and the given leap records (occurrence, correction). */
function tzif(version: 0 | 2, leaps: Array<[number, number]>): Uint8Array {
  const out: number[] = [];
  const u32 = (v: number) => out.push((v >>> 24) & 255, (v >>> 16) & 255, (v >>> 8) & 255, v & 255);
  const header = () => {
    out.push(0x54, 0x5a, 0x69, 0x66, version === 0 ? 0 : 0x32, ...new Array(15).fill(0));
    for (const c of [0, 0, leaps.length, 0, 1, 4]) u32(c); // isut isstd leap time type char
  };
  const body = (wide: boolean) => {
    out.push(0, 0, 0, 0, 0, 0); // ttinfo: utoff 0, isdst 0, idx 0
    out.push(0x55, 0x54, 0x43, 0); // "UTC\0"
    for (const [occ, corr] of leaps) {
      if (wide) u32(0);
      u32(occ);
      u32(corr);
    }
  };
  header();
  body(false);
  if (version !== 0) {
    header();
    body(true);
    out.push(0x0a, 0x0a); // empty footer
  }
  return new Uint8Array(out);
}

const day = (y: number, m: number, d: number) => fromSecNsec(Date.UTC(y, m - 1, d, 12) / 1000, 0);

Deno.test("leap: insertions and a deletion from a built TZif, v1 and v2", () => {
  // inserted at the end of 1972-06-30 and 1972-12-31, then one deleted at the end of 1973-06-30
  const records = [[78796800, 1], [94694401, 2], [110332799 + 2, 1]] as Array<
    [number, number]
  >;
  for (const version of [0, 2] as const) {
    const leaps = parseTzifLeaps(tzif(version, records));
    assert.deepEqual(leaps, [
      { midnight: 78796800, leap: 1, correction: 1 },
      { midnight: 94694400, leap: 1, correction: 2 },
      { midnight: 110332800, leap: -1, correction: 1 },
    ]);
    assert.equal(leapAtEndOfDay(leaps, day(1972, 6, 30)), 1);
    assert.equal(leapAtEndOfDay(leaps, day(1972, 7, 1)), 0);
    assert.equal(leapAtEndOfDay(leaps, day(1973, 6, 30)), -1);
    assert.equal(taiOffset(leaps, day(1973, 1, 1)), 12);
  }
});

Deno.test("leap: an unchanged correction (expiry marker) is not a leap second", () => {
  assert.deepEqual(parseTzifLeaps(tzif(2, [[78796800, 1], [100000000, 1]])).length, 1);
});

Deno.test("leap: bad magic and truncation are TzifErrors", () => {
  assert.throws(() => parseTzifLeaps(new Uint8Array(44)), TzifError);
  assert.throws(() => parseTzifLeaps(tzif(2, [[78796800, 1]]).slice(0, 60)), TzifError);
});

Deno.test("leap: the system's right/UTC knows 2016-12-31 had 23:59:60", () => {
  let bytes: Uint8Array;
  try {
    bytes = Deno.readFileSync("/usr/share/zoneinfo/right/UTC");
  } catch {
    return; // tzdata's right/ zones not installed
  }
  const leaps = parseTzifLeaps(bytes);
  assert.equal(leapAtEndOfDay(leaps, day(2016, 12, 31)), 1);
  assert.equal(leapAtEndOfDay(leaps, day(2016, 12, 30)), 0);
  assert.equal(leapAtEndOfDay(leaps, day(2015, 6, 30)), 1);
  assert.equal(taiOffset(leaps, day(2020, 1, 1)), 37);
});

Deno.test("leapseclist: leap-seconds.list gives the same leap seconds as right/UTC", () => {
  const list = "/usr/share/zoneinfo/leap-seconds.list", tz = "/usr/share/zoneinfo/right/UTC";
  const have = [list, tz].every((p) => {
    try {
      return Deno.statSync(p).isFile;
    } catch {
      return false;
    }
  });
  if (!have && Deno.env.get("CI")) throw new Error("tzdata missing");
  if (!have) return;
  const { leaps, expires } = parseLeapSecondsList(Deno.readTextFileSync(list));
  assert.ok(leaps.length >= 27, `${leaps.length}`);
  assert.deepEqual(leaps, parseTzifLeaps(Deno.readFileSync(tz)).slice(0, leaps.length));
  assert.ok(expires !== null && expires > 1_700_000_000);
  assert.equal(leapAtEndOfDay(leaps, fromSecNsec(1483228799, 0)), 1); // 2016-12-31
  assert.equal(taiOffset(leaps, fromSecNsec(1483228800, 0)), 37);
});

Deno.test("leapseclist: small lists, deletions, and malformed lines", () => {
  const text = "#$ 3676924800\n#@ 3928521600\n2272060800 10 # 1 Jan 1972\n" +
    "2287785600\t11\t# 1 Jul 1972\n\n2303683200 10 # a deletion\n";
  const r = parseLeapSecondsList(text);
  assert.deepEqual(r.leaps, [
    { midnight: 78796800, leap: 1, correction: 1 },
    { midnight: 94694400, leap: -1, correction: 0 },
  ]);
  assert.equal(r.expires, 3928521600 - 2208988800);
  assert.throws(() => parseLeapSecondsList("2272060800 10\n2287785600 12\n"), TzifError);
  assert.throws(() => parseLeapSecondsList("2272060800 10\n2272060800 11\n"), TzifError);
  assert.throws(() => parseLeapSecondsList("2272060800 ten\n"), TzifError);
  assert.deepEqual(parseLeapSecondsList("# nothing\n").leaps, []);
});
