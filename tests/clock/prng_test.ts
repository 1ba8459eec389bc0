import assert from "node:assert/strict";
import { Prng } from "../../lib/clock/prng.ts";

Deno.test("Prng: the same seed gives the same sequence, another seed another", () => {
  const a = new Prng(42), b = new Prng(42), c = new Prng(43);
  const sa = Array.from({ length: 5 }, () => a.nextUint32());
  const sb = Array.from({ length: 5 }, () => b.nextUint32());
  const sc = Array.from({ length: 5 }, () => c.nextUint32());
  assert.deepEqual(sa, sb);
  assert.notDeepEqual(sa, sc);
});

Deno.test("Prng: uniform, normal and exponential have the right moments", () => {
  const r = new Prng(1);
  const n = 200000;
  let su = 0, sn = 0, sn2 = 0, se = 0;
  for (let i = 0; i < n; i++) {
    const u = r.uniform();
    assert.ok(u >= 0 && u < 1);
    su += u;
    const z = r.normal(1, 2);
    sn += z;
    sn2 += (z - 1) ** 2;
    se += r.exponential(3);
  }
  assert.ok(Math.abs(su / n - 0.5) < 0.005);
  assert.ok(Math.abs(sn / n - 1) < 0.02);
  assert.ok(Math.abs(Math.sqrt(sn2 / n) - 2) < 0.02);
  assert.ok(Math.abs(se / n - 3) < 0.03);
});
