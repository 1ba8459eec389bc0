import assert from "node:assert/strict";
import { bindLibrary, UPGRADE_CALLS, upgradeLibraries, usesFastCalls } from "../../ffi/bind.ts";

const SYMBOLS = {
  getpid: { parameters: [], result: "i32" },
  strlen: { parameters: ["buffer"], result: "usize" },
  labs: { parameters: ["i64"], result: "i64" },
  memchr: { parameters: ["buffer", "i32", "usize"], result: "pointer" },
  abs: { parameters: ["i32"], result: "i32" },
  usleep_nb: { name: "usleep", parameters: ["u32"], result: "i32", nonblocking: true },
  no_such_function_here: { parameters: [], result: "void", optional: true },
} as const;

const text = new TextEncoder().encode("hello\0");

/** What each symbol returns for fixed arguments, with the JS type of the result. */
function results(lib: ReturnType<typeof bindLibrary<typeof SYMBOLS>>) {
  const at = lib.memchr(text, 0x6c, 5n);
  return {
    getpid: lib.getpid(),
    strlen: lib.strlen(text),
    strlenType: typeof lib.strlen(text),
    labs: lib.labs(-5n),
    labsType: typeof lib.labs(-5n),
    memchr: at === null
      ? null
      : Deno.UnsafePointer.value(at) - Deno.UnsafePointer.value(Deno.UnsafePointer.of(text)),
    memchrNone: lib.memchr(text, 0x7a, 5n),
  };
}

Deno.test("bind: the cheap path gives what Deno.dlopen gives, and switches after frequent calls", async () => {
  const lib = bindLibrary("libc.so.6", SYMBOLS);
  const ref = Deno.dlopen("libc.so.6", SYMBOLS);
  try {
    assert.equal(usesFastCalls(lib), false);
    const slow = results(lib);
    assert.deepEqual(slow, results(ref.symbols));
    assert.equal(slow.getpid, Deno.pid);
    assert.equal(slow.memchr, 2n);
    assert.equal(lib.no_such_function_here, null);
    assert.equal(await lib.usleep_nb(1), 0);
    // a burst of calls (a server under load) switches to Deno.dlopen's fast functions
    for (let i = 1; i <= UPGRADE_CALLS * 3 && !usesFastCalls(lib); i++) lib.abs(-i);
    assert.equal(usesFastCalls(lib), true);
    assert.deepEqual(results(lib), slow);
    assert.equal(lib.abs(-7), 7);
  } finally {
    ref.close();
  }
});

Deno.test("bind: a few calls spread out stay on the cheap path; upgradeLibraries switches at once", () => {
  const lib = bindLibrary("libc.so.6", SYMBOLS);
  for (let i = 0; i < UPGRADE_CALLS - 2; i++) lib.abs(i);
  assert.equal(usesFastCalls(lib), false);
  upgradeLibraries();
  assert.equal(usesFastCalls(lib), true);
  assert.equal(lib.abs(-3), 3);
});
