import assert from "node:assert/strict";
import { dropExecutableCode, droppableRuns, exeLines, exeRanges } from "../../ffi/residency.ts";

Deno.test("residency: only the executable's read-only private mappings are chosen", () => {
  const maps = [
    "55b09a035000-55b09bbba000 r--p 00000000 103:02 42 /opt/deno",
    "55b09be30000-55b09fb41000 r-xp 01b85000 103:02 42 /opt/deno",
    "55b09fb41000-55b09fd9a000 rw-p 05895000 103:02 42 /opt/deno",
    "7fe007ae8000-7fe007c3e000 r-xp 00028000 103:02 77 /usr/lib/x86_64-linux-gnu/libc.so.6",
    "7fdfe7dc0000-7fdfe7fe6000 r-xp 00000000 00:00 0 ",
    "7fdfe8000000-7fdfe8001000 r-xp 00000000 103:02 42 /opt/deno2",
  ].join("\n");
  assert.deepEqual(exeRanges(maps, "/opt/deno"), [
    { start: 0x55b09a035000n, length: 0x55b09bbba000n - 0x55b09a035000n, code: false },
    { start: 0x55b09be30000n, length: 0x55b09fb41000n - 0x55b09be30000n, code: true },
  ]);
});

Deno.test("residency: in read-only data private copies are never dropped (present or swapped)", () => {
  // pages: file, file, absent, anonymous (a relocated copy), file, swapped, absent
  const hi = [0xa0000000, 0xa0000000, 0, 0x80000000, 0xa0000000, 0x40000000, 0];
  const entries = new Uint8Array(hi.length * 8);
  hi.forEach((h, i) => new DataView(entries.buffer).setUint32(i * 8 + 4, h, true));
  assert.deepEqual(droppableRuns(entries, 0x10000n), [
    { start: 0x10000n, length: 0x3000n },
    { start: 0x14000n, length: 0x1000n },
    { start: 0x16000n, length: 0x1000n },
  ]);
  assert.deepEqual(droppableRuns(entries.subarray(0, 24), 0x10000n), [
    { start: 0x10000n, length: 0x3000n },
  ]);
});

Deno.test("residency: the executable's mapping lines are compared, other mappings ignored", () => {
  const exe = "/opt/deno";
  const a = ["1000-2000 r--p 00000000 103:02 42 /opt/deno", "3000-4000 rw-p 0 00:00 0 "];
  const b = ["1000-2000 r--p 00000000 103:02 42 /opt/deno", "5000-6000 rw-p 0 00:00 0 "];
  const c = [
    "1000-1800 r--p 00000000 103:02 42 /opt/deno",
    "1800-2000 rw-p 00000000 103:02 42 /opt/deno",
  ];
  assert.equal(exeLines(a.join("\n"), exe), exeLines(b.join("\n"), exe));
  assert.notEqual(exeLines(a.join("\n"), exe), exeLines(c.join("\n"), exe));
  assert.equal(exeLines(a.join("\n"), "/opt/deno2"), "");
});

Deno.test("residency: dropping the executable's code pages keeps the process running", () => {
  const exe = Deno.readLinkSync("/proc/self/exe");
  const mapped = exeRanges(Deno.readTextFileSync("/proc/self/maps"), exe);
  const code = mapped.filter((m) => m.code).length;
  const r = dropExecutableCode();
  assert.ok(code >= 1, "the executable has code mappings");
  // with pagemap readable (root here) the read-only data is given back too, beside the code
  const pagemap = (() => {
    try {
      Deno.openSync("/proc/self/pagemap").close();
      return true;
    } catch {
      return false;
    }
  })();
  assert.ok(pagemap ? r.ranges > code : r.ranges === code, `${r.ranges} ranges, ${code} code`);
  // the code runs on after the drop (its pages fault back in)
  assert.equal([3, 1, 2].sort().join(","), "1,2,3");
  assert.equal(JSON.parse(JSON.stringify({ a: 1 })).a, 1);
});
