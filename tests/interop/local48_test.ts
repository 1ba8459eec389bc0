/**
 * chrony 4.5/4.7's `local activate`, `waitsynced`, `waitunsynced`: what an
 * NTP client sees over time from horae and from chronyd 4.8 with the same
 * `local` line (no sources: the clock is never synchronised).
 */
import assert from "node:assert/strict";
import {
  CHRONYD48,
  freePort,
  haveChrony,
  haveChrony48,
  startChronyd,
  startHorae,
} from "./harness.ts";
import { RawClient } from "./raw_client.ts";

const LOCAL_REFID = 0x7f7f0101;

interface Seen {
  /** Seconds after start of the first reply from the local reference, or null. */
  activeAfter: number | null;
  /** Replies before activation: all unsynchronised (leap 3, stratum 0)? */
  unsyncBefore: boolean;
  stratum: number | null;
}

/** Queries `port` twice a second for up to `seconds`, from `start` (ms, performance.now()). */
async function watch(port: number, start: number, seconds: number): Promise<Seen> {
  const client = new RawClient();
  const seen: Seen = { activeAfter: null, unsyncBefore: true, stratum: null };
  try {
    while (performance.now() - start < seconds * 1000) {
      const r = await client.query(port, 500);
      if (r !== null) {
        if (r.refId === LOCAL_REFID && r.leap !== 3) {
          seen.activeAfter = (performance.now() - start) / 1000;
          seen.stratum = r.stratum;
          break;
        }
        if (r.leap !== 3 || r.stratum !== 0) seen.unsyncBefore = false;
      }
      await new Promise((res) => setTimeout(res, 500));
    }
  } finally {
    await client.close();
  }
  return seen;
}

async function both(
  local: string,
  seconds: number,
  binary = CHRONYD48,
): Promise<{ horae: Seen; chrony: Seen }> {
  const hp = freePort();
  const cp = freePort();
  const lines = [local, "allow 127.0.0.1"];
  const t0 = performance.now();
  const c = await startChronyd({ binary, port: cp, lines });
  const t1 = performance.now();
  const h = await startHorae([`port ${hp}`, "bindaddress 127.0.0.1", ...lines]);
  try {
    const [horae, chrony] = await Promise.all([watch(hp, t1, seconds), watch(cp, t0, seconds)]);
    return { horae, chrony };
  } finally {
    await h.stop();
    await c.stop();
  }
}

Deno.test("local waitunsynced: unsynchronised, then the local reference after the wait, as chronyd 4.8", async () => {
  if (!haveChrony48()) return;
  const { horae, chrony } = await both("local stratum 9 waitunsynced 4", 9);
  for (const s of [horae, chrony]) {
    assert.equal(s.unsyncBefore, true);
    assert.equal(s.stratum, 9);
    assert.ok(s.activeAfter !== null && s.activeAfter >= 3.5, `active after ${s.activeAfter}`);
  }
});

Deno.test("local activate: never synchronised, never the local reference, as chronyd 4.8", async () => {
  if (!haveChrony48()) return;
  const { horae, chrony } = await both("local stratum 9 activate 0.5", 3);
  assert.deepEqual(horae, chrony);
  assert.equal(horae.activeAfter, null);
});

Deno.test("local waitsynced: never synchronised, the local reference at once, as chronyd 4.8", async () => {
  if (!haveChrony48()) return;
  const { horae, chrony } = await both("local stratum 9 waitsynced 100", 3);
  // never synchronised: waitsynced does not apply; both serve stratum 9 from the start
  assert.equal(horae.stratum, 9);
  assert.equal(chrony.stratum, 9);
});

Deno.test("local orphan without 4.5+ options: the local reference at once, as chronyd 4.3", async () => {
  // chronyd 4.8 waits 300 s here (4.7's default waitunsynced with orphan); horae keeps 4.3's way
  if (!haveChrony()) return;
  const { horae, chrony } = await both("local stratum 9 orphan", 3, "/usr/sbin/chronyd");
  assert.equal(chrony.stratum, 9);
  assert.equal(horae.stratum, 9);
  assert.ok(horae.activeAfter !== null && horae.activeAfter < 3);
});
