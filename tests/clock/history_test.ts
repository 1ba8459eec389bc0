/**
 * The `dumpdir` history codec (lib/clock/history.ts) and SourceStats'
 * history/restore: a round trip gives the same statistics, a corrupt,
 * truncated, foreign (chronyd's own `SRC0` format) or other-version file is
 * refused with a HistoryFormatError.
 */
import assert from "node:assert/strict";
import type { Sample } from "../../lib/clock/sample.ts";
import { SourceStats } from "../../lib/clock/sourcestats.ts";
import {
  decodeHistory,
  encodeHistory,
  HistoryFormatError,
  type SourceHistory,
} from "../../lib/clock/history.ts";
import { Prng } from "../../lib/clock/prng.ts";

const S = 1_000_000_000n;
const T0 = 1_796_428_160n * S;

function noisy(seed: number, n: number): SourceStats {
  const p = new Prng(seed);
  const rnd = () => p.uniform();
  const st = new SourceStats({ name: "a" });
  for (let i = 0; i < n; i++) {
    const delay = 100e-6 + 50e-6 * rnd();
    const s: Sample = {
      time: T0 + BigInt(i) * 16n * S + BigInt(Math.floor(rnd() * 1e6)),
      offset: 3e-6 * i * 16 * 1e-3 + (rnd() - 0.5) * 20e-6 + delay / 3,
      peerDelay: delay,
      peerDispersion: 1e-6 + rnd() * 1e-7,
      rootDelay: 1e-5 * rnd(),
      rootDispersion: 2e-5,
      stratum: 1 + (i % 3),
      leap: 0,
    };
    st.accumulate(s);
  }
  return st;
}

Deno.test("history round trip: the same samples and the same sourcestats after restore", () => {
  for (const seed of [1, 2, 3]) {
    const st = noisy(seed, 40);
    const h: SourceHistory = { source: "127.0.0.1", reach: 0o377, stats: st.history() };
    const text = encodeHistory(h);
    const back = decodeHistory(text);
    assert.deepEqual(back, h);
    assert.equal(encodeHistory(back), text);
    const fresh = new SourceStats({ name: "a" });
    assert.ok(fresh.restore(back.stats));
    const now = T0 + 700n * S;
    assert.deepEqual(fresh.report(now), st.report(now));
    assert.deepEqual(fresh.getSelectionData(now), st.getSelectionData(now));
    assert.equal(fresh.asymmetry, st.asymmetry);
  }
});

Deno.test("restore keeps the newest maxsamples and refuses an empty history", () => {
  const st = noisy(4, 30);
  const small = new SourceStats({ name: "a", maxSamples: 8 });
  assert.ok(small.restore(st.history()));
  assert.ok(small.sampleCount <= 8);
  const newest = st.history().samples.at(-1)!;
  assert.deepEqual(small.history().samples.at(-1), newest);
  assert.equal(new SourceStats({ name: "b" }).restore({ samples: [], asymmetryRun: 0 }), false);
});

Deno.test("history of a refclock identity and of no samples", () => {
  const h: SourceHistory = {
    source: "refid:7a000000",
    reach: 0o77,
    stats: { samples: [], asymmetryRun: -2 },
  };
  assert.deepEqual(decodeHistory(encodeHistory(h)), h);
});

Deno.test("corrupt, truncated, foreign and other-version files are refused", () => {
  const good = encodeHistory({ source: "127.0.0.1", reach: 255, stats: noisy(5, 10).history() });
  const lines = good.split("\n");
  const bad: [string, string][] = [
    ["empty", ""],
    ["chronyd's own format", "SRC0\n127.0.0.1\n0 377 8 1 0\n54 1\n1796428160.2 8.5e-08\n"],
    ["another version", good.replace("horae-history 1", "horae-history 2")],
    ["the old summary", "horae-dump 1\nname x\n"],
    ["truncated", lines.slice(0, 8).join("\n") + "\n"],
    ["no end", lines.filter((l) => l !== "end").join("\n")],
    ["data after end", good + "x\n"],
    ["bad number", good.replace(/^(\d+) \S+/m, "$1 NaN")],
    ["empty field", good.replace(/^(\d+) (\S+) /m, "$1  ")],
    ["bad reach", good.replace("reach 255", "reach 256")],
    ["bad count", good.replace("samples 10", "samples 11")],
    ["too many", good.replace("samples 10", "samples 65")],
    ["bad stratum", good.replace(/ (\d+) 0$/m, " 17 0")],
    ["bad leap", good.replace(/^(\d+ \S+ .*) 0$/m, "$1 4")],
    ["bad source", good.replace("source 127.0.0.1", "source ../x")],
    [
      "out of order",
      (() => {
        const l = [...lines];
        [l[5], l[6]] = [l[6]!, l[5]!];
        return l.join("\n");
      })(),
    ],
    ["binary", "\u0000\u0001\u0002"],
  ];
  for (const [what, text] of bad) {
    assert.throws(() => decodeHistory(text), HistoryFormatError, what);
  }
});
