/**
 * chronyd 4.4+ selection logging beside chronyd 4.8: three real chronyd
 * servers, one seen 0.5 s off through the `offset` option; both clients log
 * "Detected falseticker" for that one only, and select one of the others.
 * @module
 */
import assert from "node:assert/strict";
import { freePort, haveChrony, sharedPath, startChronyd, startHorae } from "./harness.ts";

const CHRONYD48 = sharedPath("chrony-4.8/chronyd");
const have48 = (() => {
  try {
    return Deno.statSync(CHRONYD48).isFile;
  } catch {
    return false;
  }
})();
if (!have48 && Deno.env.get("CI")) throw new Error(`chrony 4.8 reference missing: ${CHRONYD48}`);
const have = haveChrony() && have48;

/** Log lines about selection, timestamps removed. */
const selection = (log: string) =>
  log.split("\n").map((l) => l.replace(/^\S+Z /, "")).filter((l) =>
    /^(Detected falseticker|Selected source|Can't synchronise)/.test(l)
  );

Deno.test({
  name: "falseticker detection is logged as chronyd 4.8 logs it",
  ignore: !have,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const port = freePort();
    const servers = [];
    for (const a of ["127.0.0.1", "127.0.0.2", "127.0.0.3"]) {
      servers.push(await startChronyd({ port, address: a }));
    }
    const lines = [1, 2, 3].map((i) =>
      `server 127.0.0.${i} port ${port} minpoll 0 maxpoll 0 iburst${i === 3 ? " offset 0.5" : ""}`
    );
    const ref = await startChronyd({ binary: CHRONYD48, lines });
    const horae = await startHorae(lines);
    let refLog = "", horaeLog = "";
    try {
      const deadline = Date.now() + 30_000;
      while (Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 500));
        refLog = await Deno.readTextFile(`${ref.dir}/log`);
        if (selection(refLog).some((l) => l.startsWith("Detected"))) break;
      }
      // horae's log is read when it stops: give it the same time
      await new Promise((r) => setTimeout(r, 3000));
    } finally {
      horaeLog = await horae.stop();
      await ref.stop();
      for (const s of servers) await s.stop();
    }
    for (const [who, log] of [["chronyd 4.8", refLog], ["horae", horaeLog]] as const) {
      const sel = selection(log);
      assert.ok(sel.includes("Detected falseticker 127.0.0.3"), `${who}: ${sel.join(" | ")}`);
      assert.ok(!sel.some((l) => /falseticker 127\.0\.0\.[12]$/.test(l)), `${who}: ${sel}`);
      assert.match(
        sel.find((l) => l.startsWith("Selected")) ?? "",
        /^Selected source 127\.0\.0\.[12]$/,
      );
    }
  },
});
