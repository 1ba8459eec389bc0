/**
 * The V8 flags every horae launcher passes to Deno (bin/horae, the bundle's and
 * the compiled file's launchers from tools/bundle.ts and tools/compile.ts;
 * tests/tools/launcher_flags_test.ts keeps them equal). Chosen by measurement
 * (`bench/idle.ts --v8-flags`, figures in docs/STATUS.md), issue 12:
 *
 * - `--gc-memory-reducer-start-delay-ms=2000`, `--memory-reducer-delay-ms=2000`:
 *   V8's memory reducer (a garbage collection that shrinks the heap once the
 *   program goes quiet) runs ~4 s after start, within start-up, instead of
 *   ~38 s after it, in the middle of an idle daemon's first minute. Same heap
 *   afterwards, same work; only its time changes. A busy server never goes
 *   quiet, so it is not affected.
 *
 * Measured and not chosen: `--no-memory-reducer` (no reduction at all: +2 MB
 * of V8 heap), `--single-threaded` (no concurrent GC for the server, heap not
 * reduced), `--max-semi-space-size=1`, `--max-lazy`, `--optimize-for-size`,
 * `--stack-size=512` (no measurable gain), `--jitless`/`--lite-mode` (no
 * memory gain; the server needs the optimising compilers).
 *
 * @module
 */

/** V8 flags (without the `--v8-flags=` prefix). */
export const V8_FLAGS: readonly string[] = [
  "--gc-memory-reducer-start-delay-ms=2000",
  "--memory-reducer-delay-ms=2000",
];

/** The Deno option carrying {@link V8_FLAGS}. */
export const DENO_V8_OPTION = `--v8-flags=${V8_FLAGS.join(",")}`;
