/**
 * The argument errors horae's chronyc is tested for (tests/cmdmon/chronyc_cases.ts)
 * held against the real chronyc 4.3 (selectopts and offset: 4.8), and the
 * command column of `help` against chronyc 4.3's. Each runs the real chronyc
 * `-n` inside a private network namespace (only `lo`; `unshare`, root only),
 * so the host names some cases look up fail without leaving the machine,
 * against a UDP port where nothing answers: an error printed before any
 * request comes at once, and a line that was sent anyway shows as a 506.
 * @module
 */
import assert from "node:assert/strict";
import { CHRONYC48, freePort, haveChrony, haveChrony48, runCommand } from "./harness.ts";
import { ARGUMENT_ERRORS } from "../cmdmon/chronyc_cases.ts";
import { helpText } from "../../lib/cmdmon/chronyc.ts";

const enabled = haveChrony() && haveChrony48();
const root = Deno.uid() === 0;

/** The real chronyc `bin` with `words` in a fresh network namespace with only loopback. */
function isolated(bin: string, port: number, ...words: string[]) {
  return runCommand("unshare", [
    "--net",
    "sh",
    "-c",
    'ip link set lo up && exec "$0" "$@"',
    bin,
    "-n",
    "-h",
    "127.0.0.1",
    "-p",
    String(port),
    "-m",
    "timeout 100",
    "retries 0",
    ...words,
  ], { timeoutMs: 10_000 });
}

function needRoot(): boolean {
  if (root) return true;
  if (Deno.env.get("CI")) throw new Error("chronyc argument interop needs root (unshare)");
  console.warn("chronyc argument interop: not root, skipping");
  return false;
}

Deno.test({
  name: "chronyc argument errors: the real chronyc prints the same message and exit code",
  ignore: !enabled,
  async fn() {
    if (!needRoot()) return;
    const port = freePort();
    for (const [line, message] of ARGUMENT_ERRORS) {
      const bin = /^(selectopts|offset)\b/.test(line) ? CHRONYC48 : "/usr/bin/chronyc";
      const r = await isolated(bin, port, line);
      assert.deepEqual(
        [r.code, r.stdout, r.stderr],
        [1, "", message === "" ? "" : message + "\n"],
        `${line} (${bin})`,
      );
    }
  },
});

/**
 * The command column of `help` (a usage or a section title), continuation
 * lines left out: a usage of 28 columns or more has its line to itself, a
 * shorter one is followed by a space at column 28 and the description.
 */
function usages(text: string): string[] {
  return text.split("\n").filter((l) => l !== "" && !l.startsWith(" ")).map((l) =>
    l.length > 28 && l[27] !== " " ? l : l.slice(0, 28).trimEnd()
  );
}

Deno.test({
  name: "chronyc help: the same commands and usages as chronyc 4.3's, in its order",
  ignore: !enabled,
  async fn() {
    if (!needRoot()) return;
    const r = await isolated("/usr/bin/chronyc", freePort(), "help");
    assert.equal(r.code, 0);
    assert.deepEqual(usages(helpText()), usages(r.stdout));
  },
});
