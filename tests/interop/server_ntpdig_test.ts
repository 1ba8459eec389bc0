import assert from "node:assert/strict";
import { NtpServer, unsynchronisedReference } from "../../lib/ntp/server.ts";
import { NtpServerSocket } from "../../lib/io/ntp_server.ts";
import { realNow } from "../../lib/io/realtime.ts";
import { haveChrony, runCommand, sharedPath } from "./harness.ts";

const NTPDIG = sharedPath("peer/ntpdig-port");

function haveNtpdig(): boolean {
  try {
    return Deno.statSync(NTPDIG).isFile && haveChrony();
  } catch {
    if (Deno.env.get("CI")) throw new Error("interop: ntpdig-port missing, and CI is set");
    return false;
  }
}

Deno.test({
  name: "interop: ntpdig reads horae's server as stratum 1 within 1 ms",
  ignore: !haveNtpdig(),
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const reference = unsynchronisedReference(-25);
    reference.local = { stratum: 1, distance: 1, orphan: false };
    reference.localSince = realNow();
    const server = new NtpServer({ reference });
    const sock = NtpServerSocket.open(server, { family: "ipv4", address: "127.0.0.1", port: 0 });
    try {
      const r = await runCommand(NTPDIG, ["127.0.0.1"], {
        timeoutMs: 15_000,
        env: { NTPPORT: String(sock.localAddress().port), PATH: Deno.env.get("PATH") ?? "" },
      });
      // e.g. "2026-11-23 11:02:24.406620 (+0000) -0.000001 +/- 0.000105 127.0.0.1 s1 no-leap"
      const m = r.stdout.match(/\) ([-+]?\d+\.\d+) \+\/- (\d+\.\d+) 127\.0\.0\.1 s(\d+) (\S+)/);
      assert.ok(m, r.stdout + r.stderr);
      // Same clock: the offset is within the exchange's error bound (ntpdig's "+/-", which
      // grows with the round trip when the machine is loaded), and within 1 ms when idle.
      const bound = Math.max(1e-3, 2 * Number(m[2]));
      assert.ok(Math.abs(Number(m[1])) < bound, `offset ${m[1]} +/- ${m[2]}`);
      assert.equal(m[3], "1");
      assert.equal(m[4], "no-leap");
    } finally {
      await sock.close();
    }
  },
});
