/**
 * `deno run -A bench/relay.ts [--quick] [--seconds N] [--seed N] [--path wan-asym] [--trace]`: horae
 * and the real chronyd 4.3 side by side on the same impaired network path.
 *
 * One real server (chronyd `local stratum 1` on 127.0.0.1) and two clients,
 * horae's `chronyd -d -x` and the real `chronyd -x`, with the same source
 * line, each polling the server through its own instance of an impairing
 * UDP relay on loopback written for this bench (`bench/relay.c`, compiled
 * with gcc at start): per direction a base delay, an exponential jitter,
 * occasional spikes and loss, drawn from a generator with the same seed for
 * both instances. The clients share the machine's clock with the server, so
 * the only offset an ideal client can see is the one the fixed asymmetry of
 * the base delays makes: it believes the real clock is `(down - up) / 2`
 * fast and keeps its (virtual, `-x`) clock that much behind, so the truth
 * of its time minus the real clock is `-(down - up) / 2`, and of its
 * estimate of the real clock minus the server `(down - up) / 2`.
 *
 * Every 2 s both daemons are read the same way with the real `chronyc -n
 * -c`: the estimate of the real clock minus the source is tracking's System
 * time (under -x: the real clock's distance from the daemon's corrected
 * time, positive = slow) negated, plus the source's sourcestats Offset.
 * After the warm-up its error against the truth gives RMS and max per
 * daemon. As a cross-check, each daemon also serves NTP on its own port and
 * the bench asks it directly on loopback (best of 4 exchanges) for its time
 * against CLOCK_REALTIME (lib/io/realtime.ts): chronyd -x serves its
 * corrected time, whose truth is minus the same figure. The relay measures its
 * own added delay per direction (send time minus due time, from the kernel's
 * receive timestamp) and the bench prints it for both instances.
 *
 * Pitfall kept away: chronyd sends each request from a new source port. The
 * relay forwards everything through ONE upstream socket opened at start and
 * matches replies to clients by the request's transmit timestamp, so no
 * socket is set up on the path of a request.
 *
 * Bounded: `--seconds` (default 300, at most 540; `--quick` 60), plus ~10 s
 * of start-up; every process is stopped by its PID at the end, also on error
 * or SIGINT/SIGTERM.
 * @module
 */
import { realNow } from "../lib/io/realtime.ts";
import {
  decodePacket,
  encodePacket,
  MODE_CLIENT,
  newPacket,
  ntpToTimestamp,
  timestampToNtp,
} from "../lib/ntp/packet.ts";
import { diffSeconds } from "../lib/time/timestamp.ts";
import {
  freePort,
  haveChrony,
  ROOT,
  runCommand,
  startChronyd,
  startHorae,
} from "../tests/interop/harness.ts";

/** One direction of the impaired path, seconds and probabilities. */
export interface DirectionSpec {
  base: number;
  /** Mean of the exponential jitter. */
  jitter: number;
  spikeProbability: number;
  /** Added on a spike. */
  spike: number;
  loss: number;
}

/** The path of the bench (our choice: WAN-like, jitter mostly on the way to the server). */
export const PATH: { up: DirectionSpec; down: DirectionSpec } = {
  up: { base: 2e-3, jitter: 1e-3, spikeProbability: 0.03, spike: 10e-3, loss: 0.02 },
  down: { base: 4e-3, jitter: 0.3e-3, spikeProbability: 0.01, spike: 5e-3, loss: 0.02 },
};

/**
 * `--path wan-asym`: SIM-SCENARIOS.md's wan-asym path (20 ms up, 22 ms down,
 * exponential jitter of mean 2 ms each way; no spikes, no loss).
 */
export const WAN_ASYM_PATH: { up: DirectionSpec; down: DirectionSpec } = {
  up: { base: 20e-3, jitter: 2e-3, spikeProbability: 0, spike: 0, loss: 0 },
  down: { base: 22e-3, jitter: 2e-3, spikeProbability: 0, spike: 0, loss: 0 },
};

/** Paths `--path` can name. */
export const PATHS: Record<string, { up: DirectionSpec; down: DirectionSpec }> = {
  default: PATH,
  "wan-asym": WAN_ASYM_PATH,
};

/** One running relay process. */
interface RelayProcess {
  port: number;
  /** Stops it (SIGTERM, by PID) and returns its added-delay statistics. */
  stop(): Promise<unknown>;
}

async function startRelay(
  bin: string,
  serverPort: number,
  seed: number,
  path: { up: DirectionSpec; down: DirectionSpec },
): Promise<RelayProcess> {
  const d = (x: DirectionSpec) =>
    [x.base, x.jitter, x.spikeProbability, x.spike, x.loss].map(String);
  const child = new Deno.Command(bin, {
    args: [String(serverPort), String(seed), ...d(path.up), ...d(path.down)],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.getReader();
  const dec = new TextDecoder();
  let text = "";
  while (!text.includes("\n")) {
    const r = await reader.read();
    if (r.done) throw new Error("relay: no port line");
    text += dec.decode(r.value);
  }
  const port = Number(/port (\d+)/.exec(text)?.[1]);
  let stopped: Promise<unknown> | null = null;
  return {
    port,
    stop() {
      stopped ??= (async () => {
        try {
          child.kill("SIGTERM");
        } catch { /* gone */ }
        let rest = text.slice(text.indexOf("\n") + 1);
        for (;;) {
          const r = await reader.read();
          if (r.done) break;
          rest += dec.decode(r.value);
        }
        await child.status;
        try {
          return JSON.parse(rest.trim());
        } catch {
          return null;
        }
      })();
      return stopped;
    },
  };
}

/**
 * The daemon's estimate of the real clock minus its source, seconds, read
 * alike from both daemons with the real `chronyc -n -c`: the System time of
 * `tracking` (under -x: how far the real clock is from the daemon's
 * corrected time, positive = slow) and the Offset of the source in
 * `sourcestats` (corrected time minus source, from its regression). Null
 * before the source has 3 samples.
 */
async function estimate(socket: string): Promise<number | null> {
  const run = (cmd: string) =>
    runCommand("/usr/bin/chronyc", ["-n", "-c", "-h", socket, cmd], { timeoutMs: 3000 });
  const [t, st] = await Promise.all([run("tracking"), run("sourcestats")]);
  if (t.code !== 0 || st.code !== 0) return null;
  const systemTime = Number(t.stdout.trim().split(",")[4]);
  const f = st.stdout.trim().split("\n")[0]?.split(",") ?? [];
  if (f.length < 8 || Number(f[1]) < 3) return null;
  const offset = Number(f[6]);
  if (!Number.isFinite(systemTime) || !Number.isFinite(offset)) return null;
  return -systemTime + offset;
}

/** The "Jitter asymmetry" of `chronyc -n ntpdata` for the daemon's source, or null. */
async function jitterAsymmetry(socket: string): Promise<number | null> {
  const r = await runCommand("/usr/bin/chronyc", ["-n", "-h", socket, "ntpdata"], {
    timeoutMs: 3000,
  });
  const m = /Jitter asymmetry\s*:\s*(\S+)/.exec(r.stdout);
  return m ? Number(m[1]) : null;
}

/**
 * A cross-check: the daemon's served time minus CLOCK_REALTIME, seconds,
 * from the best (lowest delay) of `tries` client exchanges with it on
 * loopback; null if it does not answer or is unsynchronised.
 */
async function servedOffset(port: number, tries = 4): Promise<number | null> {
  const sock = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  let best: { delay: number; offset: number } | null = null;
  try {
    for (let i = 0; i < tries; i++) {
      const t1 = realNow();
      const req = encodePacket({
        ...newPacket(),
        mode: MODE_CLIENT,
        transmitTs: timestampToNtp(t1),
      });
      await sock.send(req, { transport: "udp", hostname: "127.0.0.1", port });
      const got = await Promise.race([
        sock.receive(),
        new Promise<null>((r) => setTimeout(() => r(null), 500)),
      ]);
      const t4 = realNow();
      if (got === null) continue;
      const p = decodePacket(got[0]);
      if (p.originTs !== timestampToNtp(t1) || p.leap === 3) continue;
      const t2 = ntpToTimestamp(p.receiveTs, t1)!, t3 = ntpToTimestamp(p.transmitTs, t1)!;
      const delay = diffSeconds(t4, t1) - diffSeconds(t3, t2);
      const offset = (diffSeconds(t2, t1) + diffSeconds(t3, t4)) / 2;
      if (best === null || delay < best.delay) best = { delay, offset };
    }
  } finally {
    sock.close();
  }
  return best?.offset ?? null;
}

/** RMS and max |error| of a series, seconds. */
function figures(errors: number[]): { n: number; rms: number; max: number; mean: number } {
  const n = errors.length;
  if (n === 0) return { n, rms: NaN, max: NaN, mean: NaN };
  return {
    n,
    rms: Math.sqrt(errors.reduce((a, e) => a + e * e, 0) / n),
    max: Math.max(...errors.map(Math.abs)),
    mean: errors.reduce((a, e) => a + e, 0) / n,
  };
}

async function main(): Promise<void> {
  const args = Deno.args;
  const quick = args.includes("--quick");
  const opt = (name: string): string | undefined => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const seconds = Math.min(Number(opt("--seconds") ?? (quick ? 60 : 300)), 540);
  const seed = Number(opt("--seed") ?? 1);
  const pathName = opt("--path") ?? "default";
  const path = PATHS[pathName];
  if (path === undefined) throw new RangeError(`unknown --path "${pathName}"`);
  const warmup = Math.min(quick ? 20 : 60, seconds / 2);
  if (!haveChrony()) {
    console.log(JSON.stringify({ bench: "relay", error: "chronyd 4.3 not installed" }));
    if (Deno.env.get("CI")) Deno.exit(1);
    return;
  }
  const dir = await Deno.makeTempDir({ prefix: "horae-relay-" });
  const cleanup: (() => Promise<unknown>)[] = [() => Deno.remove(dir, { recursive: true })];
  const stopAll = async () => {
    for (const c of cleanup.splice(0).reverse()) await c().catch(() => {});
  };
  const onSignal = () => {
    stopAll().finally(() => Deno.exit(130));
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  try {
    const bin = `${dir}/relay`;
    const cc = await new Deno.Command("gcc", {
      args: ["-O2", "-Wall", "-o", bin, `${ROOT}/bench/relay.c`, "-lm"],
    }).output();
    if (cc.code !== 0) throw new Error(`gcc: ${new TextDecoder().decode(cc.stderr)}`);
    const serverPort = freePort();
    const server = await startChronyd({ port: serverPort });
    cleanup.push(() => server.stop());
    const relayH = await startRelay(bin, serverPort, seed, path);
    cleanup.push(() => relayH.stop());
    const relayC = await startRelay(bin, serverPort, seed, path);
    cleanup.push(() => relayC.stop());
    // Same source line for both: a 1 s poll so that minutes give many samples.
    const source = (port: number) => `server 127.0.0.1 port ${port} iburst minpoll 0 maxpoll 0`;
    const hPort = freePort();
    const horae = await startHorae([
      source(relayH.port),
      "makestep 1 3",
      `port ${hPort}`,
      "bindaddress 127.0.0.1",
      "allow 127.0.0.1",
    ]);
    cleanup.push(() => horae.stop());
    const cPort = freePort();
    const chronyd = await startChronyd({
      lines: [source(relayC.port), "makestep 1 3", "allow 127.0.0.1", `port ${cPort}`],
    });
    cleanup.push(() => chronyd.stop());

    // An ideal client believes the real clock is (down - up) / 2 ahead of the server.
    const truth = (path.down.base - path.up.base) / 2;
    const err = { horae: [] as number[], chronyd: [] as number[] };
    // Cross-check: served time minus real time, whose truth is -truth.
    const served = { horae: [] as number[], chronyd: [] as number[] };
    /** `--trace`: [seconds, horae error µs, chronyd error µs] per reading after the warm-up. */
    const trace: [number, number | null, number | null][] = [];
    const t0 = performance.now();
    for (;;) {
      const elapsed = (performance.now() - t0) / 1000;
      if (elapsed >= seconds) break;
      const [h, c] = await Promise.all([estimate(horae.socket), estimate(chronyd.socket)]);
      const hs = await servedOffset(hPort);
      const cs = await servedOffset(cPort);
      if (elapsed >= warmup) {
        if (h !== null) err.horae.push(h - truth);
        if (c !== null) err.chronyd.push(c - truth);
        if (hs !== null) served.horae.push(hs + truth);
        if (cs !== null) served.chronyd.push(cs + truth);
        const e6 = (x: number | null) => x === null ? null : Number(((x - truth) * 1e6).toFixed(1));
        trace.push([Math.round(elapsed), e6(h), e6(c)]);
      }
      await new Promise((r) => setTimeout(r, 2000));
    }
    const [asymH, asymC] = await Promise.all([horae.socket, chronyd.socket].map(jitterAsymmetry));
    const addedH = await relayH.stop(), addedC = await relayC.stop();
    const h = figures(err.horae), c = figures(err.chronyd);
    const us = (x: number) => Number((x * 1e6).toFixed(1));
    const show = (f: ReturnType<typeof figures>) => ({
      readings: f.n,
      rms_error_us: us(f.rms),
      max_error_us: us(f.max),
      mean_error_us: us(f.mean),
    });
    console.log(JSON.stringify({
      bench: "relay",
      seconds,
      warmup_s: warmup,
      seed,
      path_name: pathName,
      path,
      truth_us: us(truth),
      horae: show(h),
      chronyd: show(c),
      ratio_rms: Number((h.rms / c.rms).toFixed(2)),
      jitter_asymmetry: { horae: asymH, chronyd: asymC },
      served_time_check: {
        horae: show(figures(served.horae)),
        chronyd: show(figures(served.chronyd)),
      },
      relay_added_s: { horae: addedH, chronyd: addedC },
      ...(args.includes("--trace") ? { trace } : {}),
    }));
  } finally {
    await stopAll();
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
  }
}

if (import.meta.main) await main();
