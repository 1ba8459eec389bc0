/**
 * NTS benchmark: NTS-KE handshakes per second and NTS-authenticated NTP
 * replies per second, horae (bench/nts_runner.ts) beside the real chronyd
 * (`ntsport`, `ntsserverkey`/`ntsservercert`, `local stratum 1`), measured
 * in the same run on loopback with the same client, each for a bounded time.
 *
 * How: NTS-KE: `CONCURRENCY` loops of horae's `ntsKeExchange()` (one shared
 * TLS client context) for `SECONDS`; the client runs in this process, so the
 * figure is bounded by it equally for both servers. NTP: one NTS-KE per
 * server, `REQUESTS` signed requests prepared from its cookies (one reply
 * verified with horae's client code), then `bench/ntsload.c` (compiled with
 * gcc into a private temp dir) keeps `WINDOW` of them in flight for
 * `SECONDS` (the servers keep no replay state), `ROUNDS` times alternating;
 * the best run of each counts. The loader does a few hundred thousand
 * requests/s, so it is not the bottleneck. Beside each rate: the CPU time
 * the server's processes (all threads; chronyd's NTS-KE helper too) took per
 * handshake and per NTS reply, from /proc, which load on the machine moves
 * less than the rates.
 *
 * Usage: `./denow run -A bench/nts.ts [--seconds S | --quick] [--ke-only]
 * [--ntsprocesses N]` (`--ke-only`: the NTS-KE figure alone; `--ntsprocesses`:
 * horae's NTS-KE helpers, default 1 as chronyd's)
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
import { buildNtsRequest, verifyNtsReply } from "../lib/nts/ntp_auth.ts";
import { AES_SIV_CMAC_256 } from "../lib/nts/siv.ts";
import { freePort, startChronyd } from "../tests/interop/harness.ts";
import { cpuByThread, cpuMs } from "./proc_cpu.ts";
import { makeCert, startHoraeNts } from "../tests/interop/nts_server_test.ts";

const secondsAt = Deno.args.indexOf("--seconds");
/** Seconds per figure: `--seconds S`, 1 with `--quick` (as `deno task bench --quick` passes). */
const SECONDS = secondsAt >= 0
  ? Number(Deno.args[secondsAt + 1])
  : Deno.args.includes("--quick")
  ? 1
  : 3;
const CONCURRENCY = 8;
/** Only the NTS-KE figure (for profiling the KE server). */
const KE_ONLY = Deno.args.includes("--ke-only");
const procsAt = Deno.args.indexOf("--ntsprocesses");
const HORAE_EXTRA = procsAt >= 0 ? ["--ntsprocesses", Deno.args[procsAt + 1]!] : [];
/** NTS requests in flight (NTP figure). */
const WINDOW = 64;
/** Distinct prepared requests (one per cookie of the NTS-KE). */
const REQUESTS = 8;
/** Loader runs per server, alternating; the best counts. */
const ROUNDS = 2;
const ROOT = new URL("..", import.meta.url).pathname;

/** CPU time of this process alone (the NTS-KE client; not the horae server it started), ms. */
function ownCpuMs(): number {
  const f = Deno.readTextFileSync("/proc/self/stat");
  const fields = f.slice(f.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** Thread groups of the split: Deno names its Workers' threads after them, its FFI/IO threads tokio-*. */
function threadGroup(name: string): string {
  if (/^worker/.test(name)) return "helper";
  if (/^tokio/.test(name)) return "ffi-poll/io";
  if (/^V8/.test(name)) return "V8 GC";
  return "main";
}

/** Warm-up before each NTS-KE figure (JIT, session pools), seconds. */
const KE_WARMUP = 0.5;

interface KeFigure {
  rate: number;
  /** Server CPU per handshake, ms, all threads. */
  cpuMs: number;
  /** ...split by thread group. */
  split: Map<string, number>;
  /** This process's (the client's) CPU per handshake, ms. */
  clientMs: number;
}

/** NTS-KE handshakes/s against `port` for `SECONDS`, with the server's CPU per handshake. */
async function keRate(port: number, ca: string, pid: number): Promise<KeFigure> {
  const ctx = TlsContext.client({ alpn: [NTS_KE_ALPN], caFiles: [ca], systemCerts: false });
  let done = 0, failed = 0;
  const loop = async (seconds: number) => {
    const end = performance.now() + seconds * 1000;
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
  };
  await loop(KE_WARMUP);
  done = failed = 0;
  const c0 = cpuByThread(pid), u0 = ownCpuMs();
  await loop(SECONDS);
  const c1 = cpuByThread(pid), u1 = ownCpuMs();
  ctx.free();
  if (failed > 0) console.error(`  (${failed} NTS-KE failures)`);
  const n = Math.max(1, done);
  const split = new Map<string, number>();
  let total = 0;
  for (const [name, ms] of c1) {
    const d = ms - (c0.get(name) ?? 0);
    total += d;
    const g = threadGroup(name);
    split.set(g, (split.get(g) ?? 0) + d / n);
  }
  return { rate: done / SECONDS, cpuMs: total / n, split, clientMs: (u1 - u0) / n };
}

function splitText(split: Map<string, number>): string {
  return [...split].filter(([, ms]) => ms >= 0.005).map(([g, ms]) => `${g} ${ms.toFixed(2)}`)
    .join(", ");
}

/** NTS-KE with the server, then `REQUESTS` signed requests (one per cookie) in a file. */
async function prepareRequests(ntpPort: number, ntsPort: number, ca: string, file: string) {
  const ke = await ntsKeExchange({
    host: "localhost",
    address: "127.0.0.1",
    port: ntsPort,
    caFiles: [ca],
    systemCerts: false,
  });
  const parts: Uint8Array[] = [];
  let sample: { req: Uint8Array; uniqueId: Uint8Array } | null = null;
  for (const cookie of ke.cookies.slice(0, REQUESTS)) {
    const header = new Uint8Array(48);
    header[0] = 0x23; // v4, client. RFC 5905 §7.3
    crypto.getRandomValues(header.subarray(40));
    const uniqueId = crypto.getRandomValues(new Uint8Array(32));
    const req = buildNtsRequest(header, {
      uniqueId,
      cookie,
      placeholders: 0,
      aead: AES_SIV_CMAC_256,
      c2s: ke.c2sKey,
      nonce: crypto.getRandomValues(new Uint8Array(16)),
    });
    sample ??= { req, uniqueId };
    parts.push(new Uint8Array([req.length >> 8, req.length & 0xff]), req);
  }
  await Deno.writeFile(file, concat(parts));
  // One verified round trip first: the loader only looks at the header.
  const sock = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  try {
    await sock.send(sample!.req, { transport: "udp", hostname: "127.0.0.1", port: ntpPort });
    const timer = setTimeout(() => sock.close(), 2000);
    const [reply] = await sock.receive();
    clearTimeout(timer);
    const r = verifyNtsReply(reply, {
      uniqueId: sample!.uniqueId,
      aead: AES_SIV_CMAC_256,
      s2c: ke.s2cKey,
    });
    if (r.kind !== "ok" || r.cookies.length !== 1) throw new Error("unexpected NTS reply");
  } finally {
    try {
      sock.close();
    } catch { /* closed by the timer */ }
  }
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

async function run(cmd: string, args: string[]): Promise<string> {
  const o = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  const out = new TextDecoder().decode(o.stdout) + new TextDecoder().decode(o.stderr);
  if (!o.success) throw new Error(`${cmd} failed: ${out}`);
  return out;
}

/** NTS NTP replies/s from the compiled loader (closed loop, `WINDOW` in flight). */
async function ntpRate(
  loader: string,
  ntpPort: number,
  file: string,
  pid: number,
): Promise<{ rate: number; cpuUs: number }> {
  const c0 = cpuMs(pid);
  const out = await run(loader, [
    "-p",
    String(ntpPort),
    "-f",
    file,
    "-d",
    String(SECONDS),
    "-w",
    String(WINDOW),
  ]);
  const m = out.match(/replies\/s=(\d+) naks=(\d+) short=(\d+)/);
  if (!m) throw new Error(`ntsload: ${out}`);
  if (m[2] !== "0" || m[3] !== "0") console.error(`  (${m[2]} NAKs, ${m[3]} short replies)`);
  const rate = Number(m[1]);
  return { rate, cpuUs: ((cpuMs(pid) - c0) * 1000) / Math.max(1, rate * SECONDS) };
}

/** Ends the run after the NTS-KE figure (`--ke-only`). */
class Skip extends Error {}

const dir = await Deno.makeTempDir({ prefix: "horae-bench-nts-" });
const { cert, key } = await makeCert(dir);
const horae = await startHoraeNts(cert, key, HORAE_EXTRA);
const ntsPort = freePort();
const chrony = await startChronyd({ port: freePort(), ntsKePort: ntsPort });
try {
  console.log(
    `NTS benchmark on loopback, ${SECONDS} s per figure; NTS-KE client: horae in-process; ` +
      `NTP load: bench/ntsload.c`,
  );
  const keH = await keRate(horae.nts, cert, horae.pid);
  const keC = await keRate(ntsPort, chrony.cert!, chrony.pid);
  console.log(
    `NTS-KE handshakes/s: horae ${keH.rate.toFixed(0)}  chronyd ${keC.rate.toFixed(0)}  ` +
      `ratio ${(keH.rate / keC.rate).toFixed(2)}  (server CPU per handshake: horae ${
        keH.cpuMs.toFixed(2)
      } ms, chronyd ${keC.cpuMs.toFixed(2)} ms)`,
  );
  console.log(
    `  NTS-KE CPU per handshake, ms: horae ${splitText(keH.split)}; ` +
      `client (this process) ${keH.clientMs.toFixed(2)} with horae, ${
        keC.clientMs.toFixed(2)
      } with chronyd`,
  );
  if (KE_ONLY) throw new Skip();
  const loader = `${dir}/ntsload`;
  await run("gcc", ["-O2", "-Wall", "-o", loader, `${ROOT}bench/ntsload.c`]);
  await prepareRequests(horae.ntp, horae.nts, cert, `${dir}/horae.req`);
  await prepareRequests(chrony.port, ntsPort, chrony.cert!, `${dir}/chronyd.req`);
  // Alternate and keep the best of each to even out noise.
  let ntpH = { rate: 0, cpuUs: 0 }, ntpC = { rate: 0, cpuUs: 0 };
  for (let i = 0; i < ROUNDS; i++) {
    const c = await ntpRate(loader, chrony.port, `${dir}/chronyd.req`, chrony.pid);
    if (c.rate > ntpC.rate) ntpC = c;
    const h = await ntpRate(loader, horae.ntp, `${dir}/horae.req`, horae.pid);
    if (h.rate > ntpH.rate) ntpH = h;
  }
  console.log(
    `NTS NTP replies/s:   horae ${ntpH.rate.toFixed(0)}  chronyd ${ntpC.rate.toFixed(0)}  ` +
      `ratio ${(ntpH.rate / ntpC.rate).toFixed(2)}  (server CPU per reply: horae ${
        ntpH.cpuUs.toFixed(1)
      } µs, chronyd ${ntpC.cpuUs.toFixed(1)} µs)`,
  );
} catch (e) {
  if (!(e instanceof Skip)) throw e;
} finally {
  await chrony.stop();
  await horae.stop();
  await Deno.remove(dir, { recursive: true });
}
