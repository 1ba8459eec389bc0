/**
 * `xleave` on `peer` lines beside chronyd 4.3 (configured with `xleave` on
 * its own `peer` line too): horae's symmetric packets switch to the
 * interleaved form chronyd's peers use (seen on loopback between two chronyd
 * 4.3), chronyd answers them interleaved, and horae's measurements are then
 * interleaved (`ntpdata` Interleaved: Yes, every valid packet good) and it
 * synchronises to chronyd.
 */
import assert from "node:assert/strict";
import { freePort, haveChrony, runCommand, startChronyd, startHorae } from "./harness.ts";

const enabled = haveChrony();
if (!enabled && Deno.env.get("CI")) throw new Error("chronyd/chronyc missing and CI is set");

async function chronyc(socket: string, cmd: string): Promise<string> {
  return (await runCommand("/usr/bin/chronyc", ["-h", socket, "-n", cmd])).stdout;
}

Deno.test({
  name: "peer xleave: horae's interleaved symmetric packets against chronyd 4.3",
  ignore: !enabled,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const ourPort = freePort();
    const real = await startChronyd({
      port: freePort(),
      lines: [`peer 127.0.0.1 port ${ourPort} minpoll 0 maxpoll 0 xleave`],
    });
    const horae = await startHorae([
      `peer 127.0.0.1 port ${real.port} minpoll 0 maxpoll 0 xleave`,
      `port ${ourPort}`,
      "bindaddress 127.0.0.1",
      "allow 127.0.0.0/8",
    ], { flags: ["-4"] });
    try {
      let ours = "", data = "";
      const count = (name: string) =>
        Number(data.match(new RegExp(`^${name}\\s+: (\\d+)`, "m"))?.[1]);
      const end = Date.now() + 30_000;
      while (Date.now() < end) {
        await new Promise((r) => setTimeout(r, 500));
        ours = await chronyc(horae.socket, "sources");
        data = await chronyc(horae.socket, "ntpdata");
        if (
          /^=\* 127\.0\.0\.1 +1 /m.test(ours) && /^Interleaved\s+: Yes$/m.test(data) &&
          count("Total good RX") >= 6
        ) break;
      }
      assert.match(ours, /^=\* 127\.0\.0\.1 +1 /m, ours);
      assert.match(data, /^Interleaved\s+: Yes$/m, data);
      assert.ok(count("Total good RX") >= 6, data);
      // every valid packet was a good measurement (none lost to the interleaved timestamps)
      assert.equal(count("Total good RX"), count("Total valid RX"), data);
      const delay = Number(data.match(/^Peer delay\s+: ([-\d.]+)/m)?.[1]);
      assert.ok(delay > 0 && delay < 0.01, data);
    } finally {
      await horae.stop();
      await real.stop();
    }
  },
});
