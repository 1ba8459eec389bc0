import assert from "node:assert/strict";
import { DENO_V8_OPTION, V8_FLAGS } from "../../lib/daemon/runtime_flags.ts";
import { LAUNCHER } from "../../tools/bundle.ts";
import { stub } from "../../tools/compile.ts";

const ROOT = new URL("../..", import.meta.url).pathname;

Deno.test("launchers: bin/horae, the bundle's and the compiled file's pass the same V8 flags", () => {
  const bin = Deno.readTextFileSync(`${ROOT}bin/horae`);
  assert.ok(
    bin.includes(`\${HORAE_V8_FLAGS-"${V8_FLAGS.join(",")}"}`),
    "bin/horae's default flags",
  );
  assert.ok(bin.includes(`\${v8:+"--v8-flags=$v8"}`), "bin/horae passes them");
  const count = (text: string) => text.split(DENO_V8_OPTION).length - 1;
  assert.equal(count(LAUNCHER), 2, "both exec lines of the bundle's launcher");
  assert.equal(count(stub("0".repeat(64))), 2, "both exec lines of the compiled file's stub");
  const compile = Deno.readTextFileSync(`${ROOT}tools/compile.ts`);
  assert.ok(/"--no-prompt",\s+DENO_V8_OPTION,/.test(compile), "deno compile bakes them in");
});

Deno.test("launchers: HORAE_V8_FLAGS replaces bin/horae's V8 flags (empty: none)", async () => {
  for (const [env, want] of [["--max-lazy", "--v8-flags=--max-lazy"], ["", null]] as const) {
    // the exec line, printed instead of run
    const o = await new Deno.Command("sh", {
      args: ["-c", `sed 's|^exec |echo |' "${ROOT}bin/horae" | sh -s -- chronyd -v`],
      env: { HORAE_V8_FLAGS: env },
      stdout: "piped",
    }).output();
    const line = new TextDecoder().decode(o.stdout);
    if (want) assert.ok(line.includes(want), line);
    else assert.ok(!line.includes("--v8-flags"), line);
  }
});
