/**
 * Issue 12 (idle memory): what an idle daemon does not need is imported
 * dynamically, only when configured. This follows the static imports (not
 * `import type`, not `await import()`) from the daemon's entry modules on the
 * source text and checks that none of them reaches NTS/OpenSSL, `-q`/`-Q`,
 * the HTTP endpoint or node:crypto.
 */
import assert from "node:assert/strict";

const ROOT = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");
const STATIC_IMPORT = /^(?:import|export)\s+(?!type\b)(?:[^;"]*?\sfrom\s+)?"([^"]+)";/gms;

/** Static import closure of `entry` (paths relative to the repository, and bare specifiers). */
function closure(entry: string): Set<string> {
  const seen = new Set<string>();
  const todo = [entry];
  while (todo.length > 0) {
    const path = todo.pop()!;
    if (seen.has(path)) continue;
    seen.add(path);
    if (!path.endsWith(".ts")) continue;
    const text = Deno.readTextFileSync(`${ROOT}/${path}`);
    for (const m of text.matchAll(STATIC_IMPORT)) {
      const spec = m[1]!;
      if (!spec.startsWith(".")) {
        seen.add(spec);
        continue;
      }
      const dir = path.split("/").slice(0, -1);
      for (const part of spec.split("/")) {
        if (part === "..") dir.pop();
        else if (part !== ".") dir.push(part);
      }
      todo.push(dir.join("/"));
    }
  }
  return seen;
}

Deno.test("lazy imports: the idle daemon's static imports hold no NTS, -q, HTTP or node:crypto", () => {
  const all = closure("lib/daemon/chronyd.ts");
  for (const m of closure("lib/daemon/daemon.ts")) all.add(m);
  assert.ok(all.has("lib/engine/engine.ts") && all.has("ffi/libc.ts"), "the walk follows imports");
  const unwanted = [...all].filter((m) =>
    m.startsWith("node:crypto") || m === "ffi/libssl.ts" || m.startsWith("lib/nts/") ||
    m.startsWith("lib/http/") ||
    ["lib/daemon/nts_server.ts", "lib/daemon/nts_client.ts", "lib/daemon/oneshot.ts"].includes(m)
  );
  assert.deepEqual(unwanted, []);
});
