/**
 * Symmetric peers: horae's daemon and the real chronyd, each `peer` of the
 * other on loopback. horae synchronises to the real chronyd (`=*`), and the
 * real chronyd receives valid symmetric packets from horae carrying horae's
 * own stratum (it then refuses them as a loop, test D, as it should).
 */
import assert from "node:assert/strict";
import { freePort, haveChrony, runCommand, startChronyd, startHorae } from "./harness.ts";

const enabled = haveChrony();

Deno.test({
  name: "peer: horae and the real chronyd as symmetric peers",
  ignore: !enabled,
  async fn() {
    const ourPort = freePort();
    const real = await startChronyd({
      port: freePort(),
      lines: [`peer 127.0.0.1 port ${ourPort} minpoll 0 maxpoll 1`],
    });
    const horae = await startHorae([
      `peer 127.0.0.1 port ${real.port} minpoll 0 maxpoll 1`,
      `port ${ourPort}`,
      "bindaddress 127.0.0.1",
      "allow 127.0.0.0/8",
    ], { flags: ["-4"] });
    try {
      let ours = "";
      for (let i = 0; i < 60; i++) {
        await new Promise((r) => setTimeout(r, 500));
        ours = (await runCommand("/usr/bin/chronyc", ["-h", horae.socket, "-n", "sources"]))
          .stdout;
        if (/^=\* 127\.0\.0\.1 +1 /m.test(ours)) break;
      }
      assert.match(ours, /^=\* 127\.0\.0\.1 +1 /m, ours);
      let theirs = "";
      for (let i = 0; i < 20; i++) {
        theirs = (await runCommand("/usr/bin/chronyc", ["-h", real.socket, "-n", "ntpdata"]))
          .stdout;
        if (/^Stratum\s+: 2$/m.test(theirs)) break;
        await new Promise((r) => setTimeout(r, 500));
      }
      assert.match(theirs, /^Mode\s+: Symmetric passive$/m, theirs);
      assert.match(theirs, /^Stratum\s+: 2$/m, theirs);
      assert.match(theirs, /^Leap status\s+: Normal$/m, theirs);
      assert.ok(Number(theirs.match(/^Total valid RX\s+: (\d+)/m)?.[1]) > 0, theirs);
    } finally {
      await horae.stop();
      await real.stop();
    }
  },
});
