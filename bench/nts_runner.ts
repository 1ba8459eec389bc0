/**
 * Runs horae's NTP server with NTS (NTS-KE server + NTS on the NTP port)
 * alone on loopback, for interop tests and `bench/nts.ts`: `local stratum 1`,
 * `allow 127.0.0.0/8`, default client log, built from the exported
 * `startNtsServer()`. Prints `READY <ntp port> <nts-ke port>` on stdout once
 * bound; serves until SIGTERM/SIGINT, then prints the counters on stderr.
 *
 * Usage: `deno run -A bench/nts_runner.ts --cert C --key K [--port P]
 * [--ntsport Q] [--dumpdir D] [--ntsprocesses N]` (`ntsprocesses`, default 1 as chronyd)
 *
 * @example
 * ```sh
 * ./denow run -A bench/nts_runner.ts --cert cert.pem --key key.pem --port 0 --ntsport 0
 * ```
 * @module
 */
import { defaultConfig } from "../lib/conf/config.ts";
import { AddressFilter } from "../lib/ntp/addrfilt.ts";
import { ClientLog } from "../lib/ntp/clientlog.ts";
import { NtpServer, unsynchronisedReference } from "../lib/ntp/server.ts";
import { NtpServerSocket } from "../lib/io/ntp_server.ts";
import { realNow } from "../lib/io/realtime.ts";
import { Logger } from "../lib/daemon/log.ts";
import { startNtsServer } from "../lib/daemon/nts_server.ts";
import { poller } from "../lib/io/poller.ts";

function arg(name: string): string | undefined {
  const i = Deno.args.indexOf(name);
  return i >= 0 ? Deno.args[i + 1] : undefined;
}

const cert = arg("--cert"), key = arg("--key");
if (!cert || !key) {
  console.error("usage: nts_runner.ts --cert C --key K [--port P] [--ntsport Q] [--dumpdir D]");
  Deno.exit(2);
}
const reference = unsynchronisedReference(-25);
reference.local = { stratum: 1, distance: 1, orphan: false };
reference.localSince = realNow();
const clientLog = new ClientLog({
  seed: crypto.getRandomValues(new Uint32Array(1))[0]!,
  random: Math.random,
});
const filter = AddressFilter.fromRules([{ allow: true, all: false, subnet: "127.0.0.0/8" }]);
const server = new NtpServer({ reference, clientLog, filter });
const sock = NtpServerSocket.open(server, {
  family: "ipv4",
  address: "127.0.0.1",
  port: Number(arg("--port") ?? "0"),
});
const config = defaultConfig();
config.ntsServerCerts = [cert];
config.ntsServerKeys = [key];
config.port = sock.localAddress().port;
const dump = arg("--dumpdir");
if (dump !== undefined) config.ntsDumpDir = dump;
const log = new Logger({ sink: "stderr", level: 1 });
const nts = (await startNtsServer(config, log, {
  hostname: "127.0.0.1",
  port: Number(arg("--ntsport") ?? "0"),
  clientLog,
  ...(arg("--ntsprocesses") !== undefined ? { processes: Number(arg("--ntsprocesses")) } : {}),
}))!;
server.setAuth(nts.auth);
console.log(`READY ${sock.localAddress().port} ${nts.keServer.port}`);
const stop = async () => {
  const s = clientLog.serverStats();
  console.error(
    `served ${sock.stats.replied} replies; authenticated ${s.ntpAuthHits}; ` +
      `NTS-KE accepted ${s.ntsKeHits} dropped ${s.ntsKeDrops}; ` +
      `KE sessions ${nts.keServer.stats.served} (helpers: ${
        nts.helpers?.servedPerHelper.join(" ") ?? "none"
      }); NAKs ${server.drops.naks}; main thread poll() calls ${poller.polls}`,
  );
  await nts.close();
  await sock.close();
  Deno.exit(0);
};
Deno.addSignalListener("SIGTERM", stop);
Deno.addSignalListener("SIGINT", stop);
