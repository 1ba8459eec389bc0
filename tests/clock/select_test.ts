import assert from "node:assert/strict";
import { type SelectionData, SourceStats } from "../../lib/clock/sourcestats.ts";
import {
  type Candidate,
  humanSeconds,
  intersect,
  reasonOfLetter,
  selectSources,
  type SourceSelectOptions,
  voteLeap,
} from "../../lib/clock/select.ts";

const NOW = 1_700_000_000_000_000_000n;

function data(offset: number, dist: number, extra: Partial<SelectionData> = {}): SelectionData {
  return {
    offset,
    offsetSd: 1e-6,
    rootDelay: dist,
    rootDispersion: dist / 2,
    rootDistance: dist,
    lo: offset - dist,
    hi: offset + dist,
    stratum: 2,
    leap: 0,
    frequency: 1e-6,
    frequencySd: 1e-9,
    skew: 1e-8,
    stdDev: 1e-6,
    samples: 8,
    enoughSamples: true,
    lastSampleTime: NOW,
    firstSampleTime: NOW,
    ...extra,
  };
}

function cand(
  name: string,
  d: SelectionData | null,
  options: SourceSelectOptions = {},
  reachable = true,
): Candidate {
  return { name, refId: name.length, address: name, reachable, options, data: d };
}

function marks(r: ReturnType<typeof selectSources>): string {
  return r.statuses.map((s) => s.mark).join("");
}

function letters(r: ReturnType<typeof selectSources>): string {
  return r.statuses.map((s) => s.letter).join("");
}

Deno.test("five sources with two 1 s off: three agree and are combined, two are falsetickers", () => {
  const r = selectSources(
    [
      cand("a", data(0.001, 0.01)),
      cand("b", data(1.0, 0.01)),
      cand("c", data(0.002, 0.012)),
      cand("d", data(-0.001, 0.015)),
      cand("e", data(1.001, 0.01)),
    ],
    {},
    NOW,
  );
  assert.equal(marks(r), "*x++x");
  assert.equal(r.selected, 0);
  assert.equal(r.update!.combined, 3);
  assert.deepEqual(r.events, [{ kind: "selected", source: "a", message: "Selected source a" }]);
  assert.equal(r.memory.selected, "a");
});

Deno.test("combined offset is weighted by inverse root distance", () => {
  const r = selectSources(
    [
      cand("a", data(0.001, 0.01)),
      cand("b", data(0.004, 0.02)),
    ],
    {},
    NOW,
  );
  assert.equal(marks(r), "*+");
  // weights 100 and 50: (0.1 + 0.2) / 150 = 0.002
  assert.ok(Math.abs(r.update!.offset - 0.002) < 1e-15, `${r.update!.offset}`);
  // offsetSd: sqrt((100 (1e-12 + 1e-6) + 50 (1e-12 + 4e-6)) / 150)
  const expSd = Math.sqrt((100 * (1e-12 + 1e-6) + 50 * (1e-12 + 4e-6)) / 150);
  assert.ok(Math.abs(r.update!.offsetSd - expSd) < 1e-15);
  assert.equal(r.update!.frequency, 1e-6);
  assert.equal(r.update!.rootDelay, 0.01);
  assert.equal(r.update!.rootDispersion, 0.005);
  assert.equal(r.update!.stratum, 3);
  assert.equal(r.update!.refTime, NOW);
  assert.equal(r.update!.address, "a");
});

Deno.test("sources beyond combinelimit times the selected distance are not combined", () => {
  const r = selectSources(
    [
      cand("a", data(0, 0.01)),
      cand("b", data(0, 0.031)),
    ],
    {},
    NOW,
  );
  assert.equal(letters(r), "*D");
  assert.equal(r.update!.combined, 1);
  assert.equal(r.update!.offset, 0);
  const none = selectSources([cand("a", data(0, 0.01)), cand("b", data(0, 0.011))], {
    combineLimit: 0,
  }, NOW);
  assert.equal(letters(none), "*D");
});

Deno.test("sources with a different frequency are not combined", () => {
  const r = selectSources(
    [
      cand("a", data(0, 0.01)),
      cand("b", data(0, 0.01, { frequency: 2e-6 })),
    ],
    {},
    NOW,
  );
  assert.equal(letters(r), "*D");
});

Deno.test("two disagreeing sources give no majority", () => {
  const before = { selected: "a", noSyncReason: null };
  const r = selectSources([cand("a", data(0, 0.01)), cand("b", data(1, 0.01))], {
    previous: before,
  }, NOW);
  assert.equal(r.selected, null);
  assert.equal(r.update, null);
  assert.equal(marks(r), "xx");
  assert.deepEqual(r.events, [{
    kind: "no-sync",
    reason: "no majority",
    message: "Can't synchronise: no majority (no agreement among 2 sources)",
  }]);
  // The same reason is not reported twice in a row.
  const again = selectSources([cand("a", data(0, 0.01)), cand("b", data(1, 0.01))], {
    previous: r.memory,
  }, NOW);
  assert.deepEqual(again.events, []);
});

Deno.test("no usable sources: no selectable sources", () => {
  const r = selectSources(
    [
      cand("n", data(0, 0.01), { noselect: true }),
      cand("m", null),
      cand("u", data(0, 0.01), {}, false),
      cand("s", data(0, 0.01, { leap: 3 })),
      cand("f", data(0, 0.01, { enoughSamples: false })),
    ],
    { previous: { selected: "u", noSyncReason: null } },
    NOW,
  );
  assert.equal(letters(r), "NMSsM");
  assert.equal(marks(r), "?????");
  // chronyd 4.7 counts the unreachable sources (the noselect one is not counted)
  assert.equal(
    r.events[0]!.message,
    "Can't synchronise: no selectable sources (1 unreachable sources)",
  );
});

Deno.test("maxdistance and maxjitter reject sources with ~", () => {
  const r = selectSources(
    [
      cand("far", data(0, 4)),
      cand("jit", data(0, 0.01, { stdDev: 2 })),
      cand("ok", data(0, 0.02)),
    ],
    {},
    NOW,
  );
  assert.equal(letters(r), "d~*");
  assert.equal(marks(r), "~~*");
  const strict = selectSources([cand("ok", data(0, 0.02))], { maxDistance: 0.01 }, NOW);
  assert.equal(letters(strict), "d");
});

Deno.test("prefer picks a preferred source over a closer one", () => {
  const r = selectSources(
    [
      cand("a", data(0, 0.01)),
      cand("p", data(0, 0.02), { prefer: true }),
    ],
    {},
    NOW,
  );
  assert.equal(letters(r), "P*");
  assert.equal(r.update!.combined, 1);
});

Deno.test("trusted source outvotes two agreeing untrusted ones", () => {
  const r = selectSources(
    [
      cand("t", data(0, 0.01), { trust: true }),
      cand("a", data(1, 0.01)),
      cand("b", data(1.001, 0.01)),
    ],
    {},
    NOW,
  );
  assert.equal(letters(r), "*TT");
  assert.equal(r.selected, 0);
});

Deno.test("require: no update unless a required source agrees", () => {
  const sources = [
    cand("r", data(1, 0.01), { require: true }),
    cand("a", data(0, 0.01)),
    cand("b", data(0.001, 0.01)),
  ];
  const r = selectSources(sources, { previous: { selected: "a", noSyncReason: null } }, NOW);
  assert.equal(letters(r), "xWW");
  assert.equal(r.update, null);
  assert.equal(r.events[0]!.message, "Can't synchronise: no required source selectable");
  const ok = selectSources(
    [
      cand("r", data(0, 0.02), { require: true }),
      sources[1]!,
      sources[2]!,
    ],
    {},
    NOW,
  );
  assert.equal(letters(ok), "+*+");
});

Deno.test("minsources: waits until enough sources agree", () => {
  const two = [cand("a", data(0, 0.01)), cand("b", data(0, 0.01))];
  const r = selectSources(two, { minSources: 3 }, NOW);
  assert.equal(letters(r), "WW");
  assert.equal(r.update, null);
  assert.equal(selectSources(two, { minSources: 2 }, NOW).selected, 0);
});

Deno.test("reselectdist keeps the current source until another is better by more than it", () => {
  const prev = { selected: "b", noSyncReason: null };
  const close = selectSources(
    [
      cand("a", data(0, 0.01)),
      cand("b", data(0, 0.01005)),
    ],
    { previous: prev },
    NOW,
  );
  assert.equal(close.selected, 1);
  assert.deepEqual(close.events, []);
  const better = selectSources(
    [
      cand("a", data(0, 0.0098)),
      cand("b", data(0, 0.01005)),
    ],
    { previous: prev },
    NOW,
  );
  assert.equal(better.selected, 0);
  assert.equal(better.events[0]!.message, "Selected source a");
});

Deno.test("stratumweight adds distance per stratum", () => {
  const r = selectSources(
    [
      cand("s3", data(0, 0.01, { stratum: 3 })),
      cand("s1", data(0, 0.0105, { stratum: 1 })),
    ],
    {},
    NOW,
  );
  assert.equal(r.selected, 1);
  assert.ok(Math.abs(r.statuses[1]!.score! - (0.0105 + 0.001 + 100e-6)) < 1e-15);
});

Deno.test("intersect finds the deepest region, counting trusted intervals first", () => {
  assert.deepEqual(
    intersect([
      { lo: 0, hi: 2, trusted: false },
      { lo: 1, hi: 3, trusted: false },
      { lo: 5, hi: 6, trusted: false },
    ]),
    { lo: 1, hi: 2, depth: 2, trustDepth: 0 },
  );
  assert.deepEqual(
    intersect([
      { lo: 0, hi: 2, trusted: false },
      { lo: 1, hi: 3, trusted: false },
      { lo: 5, hi: 6, trusted: true },
    ]),
    { lo: 5, hi: 6, depth: 1, trustDepth: 1 },
  );
  assert.equal(intersect([]), null);
});

Deno.test("leap is voted by more than half of the combined sources", () => {
  assert.equal(voteLeap([1, 1, 0]), 1);
  assert.equal(voteLeap([1, 0]), 0);
  assert.equal(voteLeap([2, 2, 2]), 2);
});

Deno.test("SourceStats feeding selection: two 1 s falsetickers among five are rejected", () => {
  const S = 1_000_000_000n;
  const offsets = [0.0002, 1.0, -0.0001, 0.0003, -0.999];
  const stats = offsets.map((_, i) => new SourceStats({ name: `s${i}` }));
  for (let k = 0; k < 8; k++) {
    stats.forEach((st, i) =>
      st.accumulate({
        time: NOW + BigInt(k * 64) * S,
        offset: offsets[i]! + (k % 2 === 0 ? 1e-6 : -1e-6),
        peerDelay: 0.02 + i * 1e-3,
        peerDispersion: 1e-6,
        rootDelay: 0.01,
        rootDispersion: 0.001,
        stratum: 2,
        leap: 0,
      })
    );
  }
  const now = NOW + 8n * 64n * S;
  const r = selectSources(
    stats.map((st) => cand(st.name, st.getSelectionData(now))),
    {},
    now,
  );
  assert.equal(marks(r), "*x++x");
  const u = r.update!;
  assert.equal(u.combined, 3);
  assert.ok(Math.abs(u.offset - 0.00013) < 5e-5, `${u.offset}`);
});

/** An orphan-mode peer: reference ID `id`, our own ID 0x7f00000c (127.0.0.12). */
function orphanPeer(id: number, stratum: number, extra: Partial<Candidate> = {}): Candidate {
  return {
    name: `peer${id.toString(16)}`,
    refId: id,
    address: null,
    reachable: true,
    options: {},
    data: data(0, 0.001, { stratum }),
    localRefId: 0x7f00000c,
    ...extra,
  };
}

Deno.test("orphan: a peer at the orphan stratum with a smaller reference ID is used, larger ones are O", () => {
  const r = selectSources(
    [orphanPeer(0x7f00000b, 10), orphanPeer(0x7f00000d, 10)],
    { orphanStratum: 10 },
    NOW,
  );
  assert.equal(r.selected, 0);
  assert.equal(letters(r), "*O");
  assert.equal(marks(r), "*?");
  assert.equal(r.update?.stratum, 11);
});

Deno.test("orphan: the smallest reference ID keeps its local reference (no peer usable)", () => {
  const r = selectSources(
    [orphanPeer(0x7f00000d, 10), orphanPeer(0x7f00000e, 11)],
    { orphanStratum: 10, previous: { selected: "x", noSyncReason: null } },
    NOW,
  );
  assert.equal(r.selected, null);
  assert.equal(r.update, null);
  assert.equal(letters(r), "OO");
  assert.equal(r.events[0]?.message, "Can't synchronise: no selectable sources");
});

Deno.test("orphan: a peer already synchronised to the orphan (stratum + 1) is never used", () => {
  // Our ID is larger than the peer's, but the peer is at stratum 11: it follows another orphan.
  const r = selectSources([orphanPeer(0x7f00000b, 11)], { orphanStratum: 10 }, NOW);
  assert.equal(r.selected, null);
  assert.equal(letters(r), "O");
});

Deno.test("orphan: sources below the orphan stratum are preferred; orphan peers then wait as O", () => {
  const real = { ...orphanPeer(0xc0000201, 2), name: "real" };
  const r = selectSources(
    [orphanPeer(0x7f00000b, 10), real],
    { orphanStratum: 10 },
    NOW,
  );
  assert.equal(r.selected, 1);
  assert.equal(letters(r), "O*");
});

Deno.test("orphan: reference IDs compare unsigned; unknown own ID never uses orphan peers", () => {
  const high = orphanPeer(0xc0a80001, 10, { localRefId: 0xc0a80002 });
  assert.equal(selectSources([high], { orphanStratum: 10 }, NOW).selected, 0);
  const unknown = orphanPeer(0x7f00000b, 10, { localRefId: null });
  assert.equal(selectSources([unknown], { orphanStratum: 10 }, NOW).selected, null);
  // Not in orphan mode: stratum 10 peers are ordinary sources.
  assert.equal(selectSources([orphanPeer(0x7f00000d, 10)], {}, NOW).selected, 0);
});

Deno.test("a majority held back only by sources still warming up waits quietly", () => {
  const r = selectSources(
    [
      cand("a", data(0, 0.01)),
      cand("b", data(0, 0.01, { enoughSamples: false })),
    ],
    {},
    NOW,
  );
  assert.equal(r.update, null);
  assert.equal(letters(r), "WM");
  assert.deepEqual(r.events, []);
});

Deno.test("a failure is logged when it unselects a source, and once at start after 8 polls (4.6+)", () => {
  const none = [cand("u", data(0, 0.01), {}, false), cand("v", null, {}, false)];
  // before any source made 8 polls: nothing (sources may still answer)
  const early = selectSources(none, {}, NOW);
  assert.equal(early.selected, null);
  assert.deepEqual(early.events, []);
  const polled = none.map((c, i) => ({ ...c, reachUpdates: i === 0 ? 8 : 2 }));
  const start = selectSources(polled, { previous: early.memory }, NOW);
  assert.deepEqual(start.events.map((e) => e.message), [
    "Can't synchronise: no selectable sources (2 unreachable sources)",
  ]);
  // once only
  assert.deepEqual(selectSources(polled, { previous: start.memory }, NOW).events, []);
  // a selected source lost: logged (chronyd 4.3), with 4.7's count
  const lost = selectSources(none, { previous: { selected: "u", noSyncReason: null } }, NOW);
  assert.equal(
    lost.events[0]?.message,
    "Can't synchronise: no selectable sources (2 unreachable sources)",
  );
  assert.deepEqual(selectSources(none, { previous: lost.memory }, NOW).events, []);
});

Deno.test("start-up failure: none without an unreachable source to count; majority at once", () => {
  // too distant sources only: chronyd 4.8 logs their distance, no failure line
  const far = [cand("a", data(0, 5)), cand("b", data(0, 5))].map((c) => ({
    ...c,
    reachUpdates: 8,
  }));
  const r = selectSources(far, {}, NOW);
  assert.deepEqual(r.events.map((e) => e.message), [
    "Root distance of a exceeds maxdistance of 3.000 seconds",
    "Root distance of b exceeds maxdistance of 3.000 seconds",
  ]);
  // each once, while it stays so
  assert.deepEqual(selectSources(far, { previous: r.memory }, NOW).events, []);
  const jittery = selectSources([cand("a", data(0, 0.01, { stdDev: 2 }))], {}, NOW);
  assert.deepEqual(jittery.events.map((e) => e.message), [
    "Jitter of a exceeds maxjitter of 1.000 seconds",
  ]);
  // four sources in two pairs: no majority, logged at start before any 8 polls
  const pairs = selectSources(
    [
      cand("a", data(0, 0.01)),
      cand("b", data(0, 0.01)),
      cand("c", data(1, 0.01)),
      cand("d", data(1, 0.01)),
    ],
    {},
    NOW,
  );
  assert.deepEqual(pairs.events.map((e) => e.message), [
    "Can't synchronise: no majority (only 2 of 4 sources agree)",
  ]);
  // minsources: when a source has made 8 polls
  const few = [cand("a", data(0, 0.01))];
  assert.deepEqual(selectSources(few, { minSources: 2 }, NOW).events, []);
  assert.deepEqual(
    selectSources(few.map((c) => ({ ...c, reachUpdates: 8 })), { minSources: 2 }, NOW).events
      .map((e) => e.message),
    ["Can't synchronise: not enough selectable sources"],
  );
});

Deno.test("every state carries a reason for people: distance, samples, falseticker, selected", () => {
  const r = selectSources(
    [
      cand("a", data(0.001, 0.01)),
      cand("b", data(1.0, 0.01)),
      cand("c", data(0.002, 0.012)),
      cand("d", data(-0.001, 0.015)),
      cand("far", data(0, 1.6), {}),
      cand("new", data(0, 0.01, { samples: 2, enoughSamples: false, samplesNeeded: 3 })),
      cand("ns", data(0, 0.01), { noselect: true }),
    ],
    { maxDistance: 1.5 },
    NOW,
  );
  const why = r.statuses.map((s) => s.reason);
  assert.equal(letters(r), "*x++dMN");
  assert.match(
    why[0]!,
    /^selected: best score among 3 agreeing sources \(distance 10 ms, stratum 2\)$/,
  );
  assert.equal(why[1], "falseticker: its interval does not overlap the majority's");
  assert.equal(why[2], "combined with the selected source");
  assert.equal(why[4], "distance 1.6 s over maxdistance 1.5 s");
  assert.equal(why[5], "too few samples yet (2 of 3)");
  assert.equal(why[6], "noselect option: never selected");
  const few = selectSources([cand("a", data(0, 0.01))], { minSources: 2 }, NOW);
  assert.equal(few.statuses[0]!.reason, "1 agreeing source, minsources 2");
  assert.equal(reasonOfLetter("x"), "falseticker: its interval does not overlap the majority's");
  assert.equal(humanSeconds(340e-6), "340 µs");
});

const SEC = 1_000_000_000n;

Deno.test("maxunreach: an unreachable source with fresh samples stays selectable for maxunreach polls", () => {
  // "g" stopped answering; its newest sample (10 s ago) is more recent than the
  // oldest sample of the reachable "b" (100 s ago), so it may stay selected.
  const g = (polls: number, options: SourceSelectOptions = { prefer: true }) => ({
    ...cand("g", data(0, 0.01, { lastSampleTime: NOW - 10n * SEC }), options, false),
    unreachablePolls: polls,
  });
  const b = cand("b", data(0, 0.02, { firstSampleTime: NOW - 100n * SEC }));
  // default maxunreach 100000
  let r = selectSources([g(50), b], {}, NOW);
  assert.equal(letters(r)[0], "*");
  r = selectSources([g(3, { prefer: true, maxUnreach: 3 }), b], {}, NOW);
  assert.equal(letters(r)[0], "*", "3 polls is not over maxunreach 3");
  r = selectSources([g(4, { prefer: true, maxUnreach: 3 }), b], {}, NOW);
  assert.equal(letters(r), "S*");
  assert.equal(r.statuses[0]!.reason, "unreachable for 4 polls, over maxunreach 3");
  r = selectSources([g(1, { prefer: true, maxUnreach: 0 }), b], {}, NOW);
  assert.equal(letters(r), "S*", "maxunreach 0: unselected as soon as it is unreachable");
});

Deno.test("maxunreach: an unreachable source with samples older than the reachable ones' is stale", () => {
  const g = {
    ...cand("g", data(0, 0.01, { lastSampleTime: NOW - 200n * SEC }), { prefer: true }, false),
    unreachablePolls: 1,
  };
  const b = cand("b", data(0, 0.02, { firstSampleTime: NOW - 100n * SEC }));
  assert.equal(letters(selectSources([g, b], {}, NOW)), "S*");
  // Alone (no reachable source holds any sample) it is stale at once.
  assert.equal(letters(selectSources([g], {}, NOW)), "S");
  // A noselect reachable source does not count.
  const n = cand("n", data(0, 0.02, { firstSampleTime: NOW - 1000n * SEC }), { noselect: true });
  assert.equal(letters(selectSources([{ ...g, data: data(0, 0.01) }, n], {}, NOW)), "SN");
  // Only the last 8 polls of a reachable source count: b polling every 1 s
  // covers 8 s, older than g's newest sample 10 s ago.
  const fresh = { ...g, data: data(0, 0.01, { lastSampleTime: NOW - 10n * SEC }) };
  assert.equal(letters(selectSources([fresh, { ...b, pollInterval: 1 }], {}, NOW)), "S*");
  assert.equal(letters(selectSources([fresh, { ...b, pollInterval: 4 }], {}, NOW))[0], "*");
});
