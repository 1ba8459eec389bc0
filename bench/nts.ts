/**
 * NTS benchmark: NTS-KE handshakes per second and NTS-authenticated NTP
 * replies per second, horae (bench/nts_runner.ts) beside the real chronyd
 * (`ntsport`, `ntsserverkey`/`ntsservercert`, `local stratum 1`), measured
 * in the same run on loopback with the same client, each for a bounded time.
 *
 * How: NTS-KE: `CONCURRENCY` loops of horae's `ntsKeExchange()` (one shared
 * TLS client context) for `SECONDS`; NTP: one NTS-KE, then one UDP socket
 * keeps `WINDOW` NTS requests in flight (the same signed request resent; the
 * servers keep no replay state) for `SECONDS`, counting replies. The client
 * runs in this process, so both figures are bounded by it equally.
 *
 * Usage: `./denow run -A bench/nts.ts [--seconds S]`
 *
 * @example
 * ```sh
 * ./denow run -A bench/nts.ts --seconds 2
 * ```
 * @module
 */
import { TlsContext } from "../ffi/libssl.ts";
import { ntsKeExchange } from "../lib/io/nts_ke_client.ts";
import { NTS_KE_ALPN } from "../lib/nts/ke_records.ts";
import { buildNtsRequest } from "../lib/nts/ntp_auth.ts";
import { AES_SIV_CMAC_256 } from "../lib/nts/siv.ts";
import { freePort, startChronyd } from "../tests/interop/harness.ts";
import { makeCert, startHoraeNts } from "../tests/interop/nts_server_test.ts";

const SECONDS = Number(Deno.args[Deno.args.indexOf("--seconds") + 1] || "3");
const CONCURRENCY = 8;
const WINDOW = 32;

async function keRate(port: number, ca: string): Promise<number> {
  const ctx = TlsContext.client({ alpn: [NTS_KE_ALPN], caFiles: [ca], systemCerts: false });
  let done = 0, failed = 0;
  const end = performance.now() + SECONDS * 1000;
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (performance.now() < end) {
      try {
        await ntsKeExchange({ host: "localhost", address: "127.0.0.1", port, context: ctx });
        done++;
      } catch {
        failed++;
      }
    }
  }));
  ctx.free();
  if (failed > 0) console.error(`  (${failed} NTS-KE failures)`);
  return done / SECONDS;
}

async function ntpRate(ntpPort: number, ntsPort: number, ca: string): Promise<number> {
  const ke = await ntsKeExchange({
    host: "localhost",
    address: "127.0.0.1",
    port: ntsPort,
    caFiles: [ca],
    systemCerts: false,
  });
  const header = new Uint8Array(48);
  header[0] = 0x23; // v4, client. RFC 5905 §7.3
  crypto.getRandomValues(header.subarray(40));
  const req = buildNtsRequest(header, {
    uniqueId: crypto.getRandomValues(new Uint8Array(32)),
    cookie: ke.cookies[0]!,
    placeholders: 0,
    aead: AES_SIV_CMAC_256,
    c2s: ke.c2sKey,
    nonce: crypto.getRandomValues(new Uint8Array(16)),
  });
  const sock = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  const to = { transport: "udp" as const, hostname: "127.0.0.1", port: ntpPort };
  let replies = 0, counting = false;
  const end = performance.now() + SECONDS * 1000;
  const receiver = (async () => {
    for (;;) {
      try {
        const [b] = await sock.receive();
        if (b.length > 48 && counting) replies++;
        if (performance.now() < end) await sock.send(req, to);
      } catch {
        return;
      }
    }
  })();
  counting = true;
  for (let i = 0; i < WINDOW; i++) await sock.send(req, to);
  // Top the window up now and then (losses on loopback under load).
  while (performance.now() < end) {
    await new Promise((r) => setTimeout(r, 100));
    for (let i = 0; i < 4; i++) await sock.send(req, to);
  }
  counting = false;
  sock.close();
  await receiver;
  return replies / SECONDS;
}

const dir = await Deno.makeTempDir({ prefix: "horae-bench-nts-" });
const { cert, key } = await makeCert(dir);
const horae = await startHoraeNts(cert, key);
const ntsPort = freePort();
const chrony = await startChronyd({ port: freePort(), ntsKePort: ntsPort });
try {
  console.log(`NTS benchmark on loopback, ${SECONDS} s per figure, client: horae in-process`);
  const keH = await keRate(horae.nts, cert);
  const keC = await keRate(ntsPort, chrony.cert!);
  console.log(
    `NTS-KE handshakes/s: horae ${keH.toFixed(0)}  chronyd ${keC.toFixed(0)}  ` +
      `ratio ${(keH / keC).toFixed(2)}`,
  );
  const ntpH = await ntpRate(horae.ntp, horae.nts, cert);
  const ntpC = await ntpRate(chrony.port, ntsPort, chrony.cert!);
  console.log(
    `NTS NTP replies/s:   horae ${ntpH.toFixed(0)}  chronyd ${ntpC.toFixed(0)}  ` +
      `ratio ${(ntpH / ntpC).toFixed(2)}`,
  );
} finally {
  await chrony.stop();
  await horae.stop();
  await Deno.remove(dir, { recursive: true });
}
