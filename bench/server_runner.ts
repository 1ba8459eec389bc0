/**
 * Runs horae's NTP server alone on loopback for benchmarks and interop tests:
 * `local stratum N`, `allow 127.0.0.0/8` (and ::1), default client log.
 * Prints `READY <port>` on stdout once bound; serves until SIGTERM/SIGINT.
 *
 * Usage: `deno run -A bench/server_runner.ts [--port P] [--address A] [--stratum N]
 * [--ratelimit I,B,L] [--noclientlog]`
 *
 * @example
 * ```sh
 * ./denow run -A bench/server_runner.ts --port 0 --stratum 1
 * ```
 * @module
 */
import { AddressFilter } from "../lib/ntp/addrfilt.ts";
import { ClientLog, type ClientLogOptions } from "../lib/ntp/clientlog.ts";
import { NtpServer, unsynchronisedReference } from "../lib/ntp/server.ts";
import { NtpServerSocket } from "../lib/io/ntp_server.ts";
import { realNow } from "../lib/io/realtime.ts";

function arg(name: string): string | undefined {
  const i = Deno.args.indexOf(name);
  return i >= 0 ? Deno.args[i + 1] : undefined;
}

const address = arg("--address") ?? "127.0.0.1";
const port = Number(arg("--port") ?? "0");
const stratum = Number(arg("--stratum") ?? "1");
const reference = unsynchronisedReference(-25);
reference.local = { stratum, distance: 1, orphan: false };
reference.localSince = realNow();
const logOptions: ClientLogOptions = {
  seed: crypto.getRandomValues(new Uint32Array(1))[0]!,
  random: Math.random,
  disabled: Deno.args.includes("--noclientlog"),
};
const rl = arg("--ratelimit");
if (rl !== undefined) {
  const [interval, burst, leak] = rl.split(",").map(Number);
  logOptions.ntpRateLimit = { interval: interval ?? 3, burst: burst ?? 8, leak: leak ?? 2 };
}
const clientLog = new ClientLog(logOptions);
const filter = AddressFilter.fromRules([
  { allow: true, all: false, subnet: "127.0.0.0/8" },
  { allow: true, all: false, subnet: "::1" },
]);
const server = new NtpServer({ reference, clientLog, filter });
const sock = NtpServerSocket.open(server, {
  family: address.includes(":") ? "ipv6" : "ipv4",
  address,
  port,
});
console.log(`READY ${sock.localAddress().port}`);
const stop = async () => {
  const s = clientLog.serverStats();
  console.error(
    `served ${sock.stats.replied} replies; clients ${clientLog.size}; ` +
      `records dropped ${s.logDrops}; interleaved ${s.ntpInterleavedHits}; ` +
      `rate-limited ${s.ntpDrops}`,
  );
  await sock.close();
  Deno.exit(0);
};
Deno.addSignalListener("SIGTERM", stop);
Deno.addSignalListener("SIGINT", stop);
