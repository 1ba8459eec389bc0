import assert from "node:assert/strict";
import { effectiveSelectOptions } from "../../lib/clock/authselect.ts";

// chronyd 4.3's selectdata EOpts for: key source, unauth source, unauth prefer, noselect refclock
const SOURCES = [
  { auth: true, options: {} },
  { auth: false, options: {} },
  { auth: false, options: { prefer: true } },
  { auth: null, options: { noselect: true } },
];

Deno.test("authselectmode: the effective options chronyd 4.3 shows", () => {
  assert.deepEqual(effectiveSelectOptions("mix", SOURCES), [
    { require: true, trust: true },
    {},
    { prefer: true },
    { noselect: true },
  ]);
  assert.deepEqual(effectiveSelectOptions("require", SOURCES), [
    {},
    { noselect: true },
    { prefer: true, noselect: true },
    { noselect: true },
  ]);
  assert.deepEqual(
    effectiveSelectOptions("prefer", SOURCES),
    effectiveSelectOptions("require", SOURCES),
  );
  assert.deepEqual(effectiveSelectOptions("ignore", SOURCES), SOURCES.map((s) => s.options));
});

Deno.test("authselectmode: only one kind present changes nothing but require", () => {
  const unauth = [{ auth: false, options: {} }, { auth: null, options: {} }];
  assert.deepEqual(effectiveSelectOptions("mix", unauth), [{}, {}]);
  assert.deepEqual(effectiveSelectOptions("prefer", unauth), [{}, {}]);
  assert.deepEqual(effectiveSelectOptions("require", unauth), [{ noselect: true }, {}]);
  // mix: a selectable refclock beside both kinds gets require and trust too
  const both = [{ auth: true, options: {} }, { auth: false, options: {} }, {
    auth: null,
    options: {},
  }];
  assert.deepEqual(effectiveSelectOptions("mix", both)[2], { require: true, trust: true });
  // noselect sources are not counted
  const ns = [{ auth: true, options: {} }, { auth: false, options: { noselect: true } }];
  assert.deepEqual(effectiveSelectOptions("mix", ns), [{}, { noselect: true }]);
});
