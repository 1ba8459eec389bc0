/**
 * `ptpport` (NTP-over-PTP) with the real chronyd 4.3, both ways on loopback:
 * horae as a client of chronyd's PTP port, and chronyd as a client of
 * horae's. Client and server use the same PTP port number (as the protocol
 * requires) on different loopback addresses (`bindaddress`; -4, since
 * chronyd would also take the port on [::]).
 *
 * Safety: -x on both sides, loopback only, ports from freePort(), each
 * daemon stopped by its own PID.
 */
import assert from "node:assert/strict";
import {
  chronycOutput,
  freePort,
  haveChrony,
  sourcesUntil,
  startChronyd,
  startHorae,
} from "./harness.ts";

const enabled = haveChrony();

Deno.test({
  name: "ptpport: horae is a client of chronyd 4.3's NTP-over-PTP server",
  ignore: !enabled,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const ptp = freePort();
    const server = await startChronyd({
      port: 0,
      address: "127.0.0.2",
      flags: ["-4"],
      lines: [`ptpport ${ptp}`, "local stratum 1", "allow 127.0.0.0/8"],
    });
    const client = await startHorae([
      `server 127.0.0.2 port ${ptp} minpoll 0 maxpoll 0 iburst`,
      `ptpport ${ptp}`,
      "bindaddress 127.0.0.3",
    ], { flags: ["-4"] });
    try {
      const out = await sourcesUntil(client.socket, /^\^\* 127\.0\.0\.2 /m, 30_000);
      assert.match(out, /^\^\* 127\.0\.0\.2 +1 /m, out);
      const nd = await chronycOutput(client.socket, ["ntpdata"]);
      assert.match(nd, new RegExp(`^Remote port\\s+: ${ptp}$`, "m"), nd);
    } finally {
      const err = await client.stop();
      await server.stop();
      assert.doesNotMatch(err, /not supported yet|Could not open PTP/, err);
    }
  },
});

Deno.test({
  name: "ptpport: chronyd 4.3 is a client of horae's NTP-over-PTP server (NTP port off)",
  ignore: !enabled,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const ptp = freePort();
    const server = await startHorae([
      `ptpport ${ptp}`,
      "port 0",
      "local stratum 1",
      "allow 127.0.0.0/8",
      "bindaddress 127.0.0.4",
    ], { flags: ["-4"] });
    const client = await startChronyd({
      port: 0,
      address: "127.0.0.5",
      flags: ["-4"],
      lines: [`server 127.0.0.4 port ${ptp} minpoll 0 maxpoll 0 iburst`, `ptpport ${ptp}`],
    });
    try {
      const out = await sourcesUntil(client.socket, /^\^\* 127\.0\.0\.4 /m, 30_000);
      assert.match(out, /^\^\* 127\.0\.0\.4 +1 /m, out);
    } finally {
      await client.stop();
      const err = await server.stop();
      assert.doesNotMatch(err, /not supported yet|Could not open PTP/, err);
    }
  },
});
