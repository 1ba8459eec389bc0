import assert from "node:assert/strict";
import { TimerQueue } from "../../lib/io/timers.ts";
import { realNow } from "../../lib/io/realtime.ts";
import type { Timestamp } from "../../lib/time/timestamp.ts";

Deno.test("timers: fire in deadline order, not arming order, and not before their deadline", async () => {
  const q = new TimerQueue();
  const order: string[] = [];
  const start = realNow();
  let lateFiredAt: Timestamp = 0n;
  await new Promise<void>((resolve) => {
    q.at(start + 30_000_000n, (now) => {
      order.push("late");
      lateFiredAt = now;
      resolve();
    });
    q.at(start + 10_000_000n, () => order.push("early"));
    q.at(start - 1n, () => order.push("past"));
  });
  assert.deepEqual(order, ["past", "early", "late"]);
  assert.ok(lateFiredAt >= start + 30_000_000n);
  assert.equal(q.size, 0);
  q.clear();
});

Deno.test("timers: a cancelled timer never runs", async () => {
  const q = new TimerQueue();
  const ran: number[] = [];
  const t = realNow();
  const a = q.at(t + 5_000_000n, () => ran.push(1));
  await new Promise<void>((resolve) => q.at(t + 20_000_000n, () => resolve()));
  assert.deepEqual(ran, [1]);
  const b = q.at(realNow() + 5_000_000n, () => ran.push(2));
  assert.equal(q.cancel(b), true);
  assert.equal(q.cancel(a), false);
  await new Promise<void>((resolve) => q.after(0.02, () => resolve()));
  assert.deepEqual(ran, [1]);
  q.clear();
});

Deno.test("timers: clear() leaves no pending setTimeout (sanitizer would fail otherwise)", () => {
  const q = new TimerQueue();
  q.after(3600, () => {
    throw new Error("must not run");
  });
  q.after(1, () => {});
  assert.equal(q.size, 2);
  q.clear();
  assert.equal(q.size, 0);
});

Deno.test("timers: due timers are decided by the injected clock", async () => {
  let fake: Timestamp = 1_000n;
  const q = new TimerQueue({ now: () => fake });
  const fired: Timestamp[] = [];
  q.at(5_000n, (now) => fired.push(now));
  // the fake clock has not reached the deadline: a wake-up must re-arm, not fire
  await new Promise((r) => setTimeout(r, 5));
  fake = 6_000n;
  q.rearm();
  await new Promise((r) => setTimeout(r, 5));
  assert.deepEqual(fired, [6_000n]);
  q.clear();
});
