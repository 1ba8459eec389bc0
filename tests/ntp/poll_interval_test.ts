import assert from "node:assert/strict";
import { clampPoll, POLL_MAX, POLL_MIN, pollSeconds } from "../../lib/ntp/poll_interval.ts";

Deno.test("polls are clamped to minpoll..maxpoll", () => {
  assert.equal(clampPoll(3, { minpoll: 6, maxpoll: 10 }), 6);
  assert.equal(clampPoll(12, { minpoll: 6, maxpoll: 10 }), 10);
  assert.equal(clampPoll(8, { minpoll: 6, maxpoll: 10 }), 8);
});

Deno.test("limits beyond chrony's -7..24 are clamped and maxpoll below minpoll yields minpoll", () => {
  assert.equal(clampPoll(-20, { minpoll: -10, maxpoll: 30 }), POLL_MIN);
  assert.equal(clampPoll(40, { minpoll: -10, maxpoll: 30 }), POLL_MAX);
  assert.equal(clampPoll(2, { minpoll: 6, maxpoll: 4 }), 6);
});

Deno.test("poll seconds are powers of two", () => {
  assert.equal(pollSeconds(6), 64);
  assert.equal(pollSeconds(-7), 1 / 128);
});
