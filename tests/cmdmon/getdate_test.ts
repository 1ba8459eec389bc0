/**
 * settime's date forms: the table observed from the real chronyc 4.3 (what it
 * sent to a capturing command socket, TZ=UTC, at 2026-12-04 21:00:57 UTC),
 * and the local zone / explicit zones.
 */
import assert from "node:assert/strict";
import { getDate } from "../../lib/cmdmon/getdate.ts";

const NOW = Date.UTC(2026, 11, 4, 21, 0, 57, 400);
const utc = () => 0;
const at = (...a: [number, number, number, number?, number?, number?]) =>
  Date.UTC(a[0], a[1] - 1, a[2], a[3] ?? 0, a[4] ?? 0, a[5] ?? 0) / 1000;
const now = Math.floor(NOW / 1000);

const OBSERVED: [string, number | null][] = [
  ["16:30", at(2026, 12, 4, 16, 30)],
  ["16:30:05", at(2026, 12, 4, 16, 30, 5)],
  ["Nov 21, 1997 16:30:05", at(1997, 11, 21, 16, 30, 5)],
  ["now", now],
  ["+1 hour", now + 3600],
  ["1 hour ago", now - 3600],
  ["tomorrow", now + 86400],
  ["yesterday 10:00", at(2026, 12, 3, 10)],
  ["2026-12-04 20:00:00", at(2026, 12, 4, 20)],
  ["12/04/2026 20:00", at(2026, 12, 4, 20)],
  ["garbage", null],
  ["", at(2026, 12, 4)],
  ["4 Dec 2026 20:01", at(2026, 12, 4, 20, 1)],
  ["now + 5 seconds", now + 5],
  ["20:10 UTC", at(2026, 12, 4, 20, 10)],
  ["2:10pm", at(2026, 12, 4, 14, 10)],
  ["noon", null],
  ["next monday", at(2026, 12, 7)],
  ["last week", now - 604800],
  ["3 days ago 10:00", at(2026, 12, 1, 10)],
  ["1997-11-21", at(1997, 11, 21)],
  ["21 nov 1997", at(1997, 11, 21)],
  ["Fri", at(2026, 12, 4)],
  ["-5 min", now - 300],
  ["16:30 CET", at(2026, 12, 4, 15, 30)],
  ["Nov 21 16:30", at(2026, 11, 21, 16, 30)],
  ["12/4", at(2026, 12, 4)],
  ["16:30:05.5", null],
  ["today", now],
  ["2 weeks", now + 1209600],
  ["16", at(2026, 12, 4, 16)],
  ["1630", at(2026, 12, 4, 16, 30)],
];

Deno.test("getdate: every form of the table observed from chronyc 4.3 (TZ=UTC)", () => {
  for (const [text, want] of OBSERVED) assert.equal(getDate(text, NOW, utc), want, text);
});

Deno.test("getdate: local time unless a zone is given", () => {
  const paris = () => 60;
  assert.equal(getDate("16:30", NOW, paris), at(2026, 12, 4, 15, 30));
  assert.equal(getDate("16:30 UTC", NOW, paris), at(2026, 12, 4, 16, 30));
  assert.equal(getDate("16:30 +0200", NOW, paris), at(2026, 12, 4, 14, 30));
  // midnight of the local day: 23:30 UTC is already the 5th in Paris
  const late = Date.UTC(2026, 11, 4, 23, 30);
  assert.equal(getDate("", late, paris), at(2026, 12, 4, 23));
  assert.equal(getDate("now", late, paris), late / 1000);
});

Deno.test("getdate: out-of-range fields are refused", () => {
  for (const bad of ["25:00", "12:60", "13pm", "2026-13-01", "Nov 32", "16:30 16:31"]) {
    assert.equal(getDate(bad, NOW, utc), null, bad);
  }
});
