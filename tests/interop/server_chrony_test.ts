import assert from "node:assert/strict";
import { ClientLog } from "../../lib/ntp/clientlog.ts";
import { AddressFilter } from "../../lib/ntp/addrfilt.ts";
import { NtpServer, unsynchronisedReference } from "../../lib/ntp/server.ts";
import { NtpServerSocket } from "../../lib/io/ntp_server.ts";
import { realNow } from "../../lib/io/realtime.ts";
import { haveChrony, runCommand, wrongBy } from "./harness.ts";

/** horae's server on 127.0.0.1, a kernel-chosen port, `local stratum 1`, allow 127/8. */
function startServer() {
  const reference = unsynchronisedReference(-25);
  reference.local = { stratum: 1, distance: 1, orphan: false };
  reference.localSince = realNow();
  const clientLog = new ClientLog({ seed: 11, random: Math.random });
  const filter = AddressFilter.fromRules([{ allow: true, all: false, subnet: "127.0.0.0/8" }]);
  const server = new NtpServer({ reference, clientLog, filter });
  const sock = NtpServerSocket.open(server, { family: "ipv4", address: "127.0.0.1", port: 0 });
  return { sock, clientLog, port: sock.localAddress().port };
}

Deno.test({
  name: "interop: real chronyd -Q measures horae's server within 1 ms",
  ignore: !haveChrony(),
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const { sock, port } = startServer();
    try {
      const r = await runCommand("chronyd", [
        "-Q",
        "-t",
        "5",
        "-f",
        "/dev/null",
        `server 127.0.0.1 port ${port} iburst maxsamples 1`,
      ], { timeoutMs: 15_000 });
      const off = wrongBy(r.stdout + r.stderr);
      assert.notEqual(off, null, r.stdout + r.stderr);
      assert.ok(Math.abs(off!) < 1e-3, `offset ${off}`);
    } finally {
      await sock.close();
    }
  },
});

Deno.test({
  name: "interop: real chronyd -Q with xleave gets interleaved replies within 1 ms",
  ignore: !haveChrony(),
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const { sock, clientLog, port } = startServer();
    try {
      const r = await runCommand("chronyd", [
        "-Q",
        "-t",
        "8",
        "-f",
        "/dev/null",
        `server 127.0.0.1 port ${port} iburst xleave maxsamples 4`,
      ], { timeoutMs: 20_000 });
      const off = wrongBy(r.stdout + r.stderr);
      assert.notEqual(off, null, r.stdout + r.stderr);
      assert.ok(Math.abs(off!) < 1e-3, `offset ${off}`);
      assert.ok(clientLog.serverStats().ntpInterleavedHits > 0, "no interleaved request seen");
    } finally {
      await sock.close();
    }
  },
});
