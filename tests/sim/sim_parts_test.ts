import assert from "node:assert/strict";
import { Prng } from "../../lib/clock/prng.ts";
import { EventQueue } from "../../lib/sim/event_queue.ts";
import { SimLink } from "../../lib/sim/sim_link.ts";
import { SimServer, utcShift } from "../../lib/sim/sim_server.ts";
import { decodePacket, encodePacket, MODE_CLIENT, newPacket } from "../../lib/ntp/packet.ts";
import { fromUnixSeconds, ntp64Bits } from "../../lib/time/timestamp.ts";

Deno.test("event queue: earliest first, ties in insertion order", () => {
  const q = new EventQueue<string>();
  q.push(5n, "c");
  q.push(1n, "a");
  q.push(5n, "d");
  q.push(3n, "b");
  const out: string[] = [];
  for (let e = q.pop(); e; e = q.pop()) out.push(e.value);
  assert.deepEqual(out, ["a", "b", "c", "d"]);
});

Deno.test("link: transit is delay plus exponential jitter of the given mean; loss rate holds", () => {
  const link = new SimLink({ delay: 100e-6, jitter: 10e-6, loss: 0.3 }, new Prng(3));
  let lost = 0, sum = 0, n = 0, min = Infinity;
  for (let i = 0; i < 20000; i++) {
    const t = link.transit();
    if (t === null) lost++;
    else {
      sum += t;
      n++;
      min = Math.min(min, t);
    }
  }
  assert.ok(Math.abs(lost / 20000 - 0.3) < 0.02, `loss ${lost / 20000}`);
  assert.ok(min >= 100e-6);
  assert.ok(Math.abs(sum / n - 110e-6) < 1e-6, `mean ${sum / n}`);
});

Deno.test("server: falseticker offset, step at T, leap announced then inserted", () => {
  const start = fromUnixSeconds(1_483_221_600);
  const leap = fromUnixSeconds(1_483_228_800);
  const world = { start, leapInsertAt: leap };
  const s = new SimServer({ offset: 1, step: { at: 100, by: -0.5 } }, world);
  assert.equal(s.errorAt(start), 1);
  assert.equal(s.errorAt(start + 100_000_000_000n), 0.5);
  assert.equal(s.leapAt(start), 1);
  assert.equal(s.leapAt(leap), 0);
  assert.equal(utcShift(leap - 1n, leap), 0);
  assert.equal(utcShift(leap, leap), -1);
});

Deno.test("server: answers a client request with mode 4, our origin, stratum 1", () => {
  const s = new SimServer({});
  const req = {
    ...newPacket(),
    mode: MODE_CLIENT as 3,
    transmitTs: ntp64Bits(0x1234_5678_9abc_def0n),
  };
  const reply = s.respond(encodePacket(req), fromUnixSeconds(1_700_000_000));
  assert.ok(reply);
  const p = decodePacket(reply);
  assert.equal(p.mode, 4);
  assert.equal(p.stratum, 1);
  assert.equal(p.originTs, req.transmitTs);
  assert.ok(p.transmitTs > p.receiveTs);
  assert.equal(s.respond(encodePacket({ ...req, mode: 4 }), 0n), null);
});

Deno.test("run: the visible offset of a single path is half its fixed asymmetry; RMS about it from the trace", async () => {
  const { runScenario } = await import("../../lib/sim/simulation.ts");
  const { scenario } = await import("../../lib/sim/scenarios.ts");
  const r = runScenario(scenario("wan-asym"), { duration: 3000, warmup: 1000, trace: true });
  assert.ok(Math.abs(r.visibleOffset! - -1e-3) < 1e-12);
  let s2 = 0, n = 0;
  for (let k = 1000; k < r.trace!.length; k++) {
    s2 += (r.trace![k]! - r.visibleOffset!) ** 2;
    n++;
  }
  assert.ok(Math.abs(r.rmsAboutVisible! - Math.sqrt(s2 / n)) < 1e-12);
  assert.ok(r.rmsAboutVisible! < r.rmsOffset, "the client tracks what it sees, not true time");
  assert.equal(runScenario(scenario("lan"), { duration: 300 }).visibleOffset, 0);
  assert.equal(runScenario(scenario("falsetickers"), { duration: 300 }).visibleOffset, null);
});
