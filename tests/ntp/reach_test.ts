import assert from "node:assert/strict";
import { ReachRegister } from "../../lib/ntp/reach.ts";

Deno.test("a new reach register is unreachable with 8 unanswered polls", () => {
  const r = new ReachRegister();
  assert.equal(r.isReachable(), false);
  assert.equal(r.unansweredPolls(), 8);
  assert.equal(r.toOctal(), "0");
});

Deno.test("eight answered polls give 377 octal", () => {
  const r = new ReachRegister();
  for (let i = 0; i < 8; i++) {
    r.polled();
    r.received();
  }
  assert.equal(r.toOctal(), "377");
  assert.equal(r.unansweredPolls(), 0);
});

Deno.test("unanswered polls count the newest zero bits; the 8th makes the source unreachable", () => {
  const r = new ReachRegister();
  r.polled();
  r.received();
  for (let i = 1; i <= 7; i++) {
    r.polled();
    assert.equal(r.unansweredPolls(), i);
    assert.equal(r.isReachable(), true);
  }
  r.polled();
  assert.equal(r.isReachable(), false);
  assert.equal(r.value, 0);
});

Deno.test("reach register keeps only 8 bits and reset clears it", () => {
  const r = new ReachRegister(0x1ff);
  assert.equal(r.value, 0xff);
  r.polled();
  assert.equal(r.value, 0xfe);
  r.reset();
  assert.equal(r.value, 0);
});

Deno.test("reach register counts the polls made while unreachable, for maxunreach", () => {
  const r = new ReachRegister();
  r.polled();
  r.received();
  for (let i = 1; i <= 7; i++) r.polled();
  assert.equal(r.unreachablePolls, 0, "still reachable after 7 unanswered polls");
  r.polled();
  assert.equal(r.unreachablePolls, 1, "the poll that clears the register counts");
  r.polled();
  r.polled();
  assert.equal(r.unreachablePolls, 3);
  r.received();
  assert.equal(r.unreachablePolls, 0, "an answer ends it");
  for (let i = 0; i < 8; i++) r.polled();
  assert.equal(r.unreachablePolls, 1);
  r.reset();
  assert.equal(r.unreachablePolls, 0);
});
