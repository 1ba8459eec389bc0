/**
 * The project's harness for interoperability tests against the real chrony
 * (Debian's package): starts chronyd as a reference server or client on
 * loopback high ports, never controlling the clock (`-x`, `-u root`, a private
 * chmod-700 directory with its own command socket), and stops it by PID.
 *
 * When chronyd is not installed the tests are skipped locally, and fail when
 * `CI` is set (CI installs it).
 *
 * @module
 */

/** True when the real chronyd can be used; throws under CI when it is missing. */
export function haveChrony(): boolean {
  const found = ["/usr/sbin/chronyd", "/usr/bin/chronyc"].every((p) => {
    try {
      return Deno.statSync(p).isFile;
    } catch {
      return false;
    }
  });
  if (!found && Deno.env.get("CI")) {
    throw new Error("interop: the real chrony is not installed, and CI is set");
  }
  if (!found) console.warn("interop: chronyd not installed: skipping");
  return found;
}

/** A free UDP (and TCP) port above 10000 on 127.0.0.1, chosen at random. */
export function freePort(): number {
  for (let i = 0; i < 200; i++) {
    const port = 20000 + Math.floor(Math.random() * 40000);
    try {
      const u = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port });
      u.close();
      const t = Deno.listen({ hostname: "127.0.0.1", port });
      t.close();
      return port;
    } catch {
      // in use: try another
    }
  }
  throw new Error("interop: no free port found");
}

/** A running real chronyd. */
export interface RealChronyd {
  pid: number;
  dir: string;
  /** Its command socket. */
  socket: string;
  /** Its NTP port (0 for a client-only instance). */
  port: number;
  /** Certificate of its NTS server, when started with NTS. */
  cert: string | null;
  stop(): Promise<void>;
}

/** Options for {@link startChronyd}. */
export interface ChronydOptions {
  /** Extra configuration lines. */
  lines?: string[];
  /** Serve NTP on this port (a `local stratum 1` server), or 0 for none. */
  port?: number;
  /** Also serve NTS-KE on this port (self-signed certificate, SAN localhost/127.0.0.1). */
  ntsKePort?: number;
  /** Extra chronyd flags (e.g. `-4`). */
  flags?: string[];
  /** Address to serve on (default 127.0.0.1; any 127.x.y.z works on Linux loopback). */
  address?: string;
  /** The chronyd to run (default /usr/sbin/chronyd, Debian's 4.3). */
  binary?: string;
}

async function run(cmd: string, args: string[]): Promise<{ code: number; out: string }> {
  const o = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  const dec = new TextDecoder();
  return { code: o.code, out: dec.decode(o.stdout) + dec.decode(o.stderr) };
}

/** Starts the real chronyd with a private directory. */
export async function startChronyd(options: ChronydOptions = {}): Promise<RealChronyd> {
  const dir = await Deno.makeTempDir({ prefix: "horae-ref-" });
  await Deno.chmod(dir, 0o700);
  const port = options.port ?? 0;
  const lines = [
    `port ${port}`,
    `bindaddress ${options.address ?? "127.0.0.1"}`,
    "cmdport 0",
    `bindcmdaddress ${dir}/chronyd.sock`,
    `pidfile ${dir}/chronyd.pid`,
    `driftfile ${dir}/drift`,
  ];
  if (port !== 0) lines.push("local stratum 1", "allow 127.0.0.0/8");
  let cert: string | null = null;
  if (options.ntsKePort) {
    const made = await makeCert(dir);
    cert = made.cert;
    lines.push(
      `ntsport ${options.ntsKePort}`,
      `ntsserverkey ${dir}/localhost-key.pem`,
      `ntsservercert ${cert}`,
      `ntsdumpdir ${dir}`,
    );
  }
  lines.push(...(options.lines ?? []));
  await Deno.writeTextFile(`${dir}/chronyd.conf`, lines.join("\n") + "\n");
  const r = await run(options.binary ?? "/usr/sbin/chronyd", [
    "-x",
    "-u",
    "root",
    ...(options.flags ?? []),
    "-f",
    `${dir}/chronyd.conf`,
    "-l",
    `${dir}/log`,
  ]);
  if (r.code !== 0) throw new Error(`interop: chronyd failed to start: ${r.out}`);
  let pid = 0;
  for (let i = 0; i < 100 && pid === 0; i++) {
    try {
      pid = Number((await Deno.readTextFile(`${dir}/chronyd.pid`)).trim()) || 0;
    } catch {
      await new Promise((res) => setTimeout(res, 50));
    }
  }
  if (pid === 0) throw new Error("interop: chronyd wrote no pid file");
  const socket = `${dir}/chronyd.sock`;
  for (let i = 0; i < 100; i++) {
    try {
      Deno.statSync(socket);
      break;
    } catch {
      await new Promise((res) => setTimeout(res, 20));
    }
  }
  return {
    pid,
    dir,
    socket,
    port,
    cert,
    async stop() {
      try {
        Deno.kill(pid, "SIGTERM");
      } catch {
        return;
      }
      for (let i = 0; i < 100; i++) {
        try {
          Deno.kill(pid, "SIGCONT"); // probe: throws once it has gone
        } catch {
          break;
        }
        await new Promise((res) => setTimeout(res, 20));
      }
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

/** Output and exit code of a command. */
export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command with a bounded time; kills it (by its PID) after `timeoutMs`. */
export async function runCommand(
  cmd: string,
  args: string[],
  options: { timeoutMs?: number; env?: Record<string, string> } = {},
): Promise<CommandResult> {
  const child = new Deno.Command(cmd, {
    args,
    stdout: "piped",
    stderr: "piped",
    ...(options.env ? { env: options.env } : {}),
  }).spawn();
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
  }, options.timeoutMs ?? 30_000);
  const o = await child.output();
  clearTimeout(timer);
  const dec = new TextDecoder();
  return { code: o.code, stdout: dec.decode(o.stdout), stderr: dec.decode(o.stderr) };
}

/**
 * `chronyc -h SOCKET -n ARGS...` (chrony 4.3's unless `binary`), bounded to
 * 5 s: its standard output. `-n`: no address is looked up.
 */
export async function chronycOutput(
  socket: string,
  args: string[],
  binary = "/usr/bin/chronyc",
): Promise<string> {
  return (await runCommand(binary, ["-h", socket, "-n", ...args], { timeoutMs: 5000 })).stdout;
}

/**
 * Asks `chronyc sources` every 0.5 s until its output matches `pattern` or
 * `ms` have passed; returns the last output (the caller asserts on it).
 */
export async function sourcesUntil(
  socket: string,
  pattern: RegExp,
  ms: number,
  binary = "/usr/bin/chronyc",
): Promise<string> {
  const end = performance.now() + ms;
  let out = "";
  while (performance.now() < end) {
    out = await chronycOutput(socket, ["sources"], binary);
    if (pattern.test(out)) break;
    await new Promise((res) => setTimeout(res, 500));
  }
  return out;
}

/** The repository root. */
export const ROOT = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");

/** Parses `System clock wrong by X seconds` from chronyd's output; null if absent. */
export function wrongBy(output: string): number | null {
  const m = output.match(/System clock wrong by (-?\d+\.\d+) seconds/);
  return m ? Number(m[1]) : null;
}

/**
 * A file of the workplace's shared/ folder (beside the checkout, as CI lays it
 * out; /work/shared on the developers' machines).
 */
export function sharedPath(rel: string): string {
  for (const base of [`${ROOT}/../shared`, "/work/shared"]) {
    try {
      Deno.statSync(`${base}/${rel}`);
      return `${base}/${rel}`;
    } catch { /* try the next */ }
  }
  return `${ROOT}/../shared/${rel}`;
}

/**
 * A fresh chmod-700 directory holding `chronyd.conf`: `lines` (`DIR` replaced by
 * the directory) plus the daemon's own command socket, pidfile and driftfile
 * there, and `cmdport 0` / `port 0` unless `lines` set them. Returns the directory.
 */
export async function writeDaemonConfig(lines: string[], prefix: string): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix });
  await Deno.chmod(dir, 0o700);
  const own = lines.map((l) => l.replaceAll("DIR", dir));
  const has = (name: string) => own.some((l) => l.split(/\s+/)[0] === name);
  const conf = [
    ...own,
    ...(has("cmdport") ? [] : ["cmdport 0"]),
    ...(has("port") ? [] : ["port 0"]),
    `bindcmdaddress ${dir}/chronyd.sock`,
    `pidfile ${dir}/chronyd.pid`,
    ...(has("driftfile") ? [] : [`driftfile ${dir}/drift`]),
  ];
  await Deno.writeTextFile(`${dir}/chronyd.conf`, conf.join("\n") + "\n");
  return dir;
}

/** A running horae daemon (`bin/chronyd -d -x`) in a private directory. */
export interface HoraeDaemon {
  /** Its PID (the launchers exec, so it is the daemon itself). */
  pid: number;
  dir: string;
  /** The spawned process (strace's under `HORAE_STRACE_DIR`). */
  child: Deno.ChildProcess;
  /** Its command socket. */
  socket: string;
  /**
   * Stops it by PID (SIGTERM, SIGKILL after 5 s), removes its directory;
   * resolves with its stderr. Calling it again returns the same result.
   */
  stop(): Promise<string>;
}

/**
 * Starts horae's daemon in the foreground (`-d -x`, never controlling the
 * clock) with `lines` as its configuration, in a fresh chmod-700 directory
 * that also holds its command socket, pidfile and driftfile (`cmdport 0` and
 * `port 0` unless `lines` set them). `DIR` in a line is replaced by the
 * directory. Resolves once the command socket answers (at most ~10 s).
 *
 * `filter` adds `-F LEVEL` (the seccomp system call filter). Two environment
 * variables apply to every daemon a test run starts: `HORAE_TEST_FILTER=N`
 * adds `-F N` where the test chose no level (to run the interop tests under
 * the filter), and `HORAE_STRACE_DIR=DIR` runs each daemon under `strace -f`
 * writing `DIR/horae.<random>.strace` (tools/seccomp_measure.ts).
 */
export async function startHorae(
  lines: string[],
  options: { flags?: string[]; filter?: number; env?: Record<string, string> } = {},
): Promise<HoraeDaemon> {
  const dir = await writeDaemonConfig(lines, "horae-daemon-");
  const envFilter = Deno.env.get("HORAE_TEST_FILTER");
  const level = options.filter ?? (envFilter ? Number(envFilter) : 0);
  const args = [
    ...(level !== 0 ? ["-F", String(level)] : []),
    ...(options.flags ?? []),
    "-d",
    "-x",
    "-f",
    `${dir}/chronyd.conf`,
  ];
  const straceDir = Deno.env.get("HORAE_STRACE_DIR");
  const trace = straceDir
    ? ["-f", "-qq", "-o", `${straceDir}/horae.${crypto.randomUUID().slice(0, 8)}.strace`]
    : [];
  const child = new Deno.Command(straceDir ? "strace" : `${ROOT}/bin/chronyd`, {
    args: straceDir ? [...trace, `${ROOT}/bin/chronyd`, ...args] : args,
    stdout: "null",
    stderr: "piped",
    ...(options.env ? { env: options.env } : {}),
  }).spawn();
  const socket = `${dir}/chronyd.sock`;
  for (let i = 0; i < 100; i++) {
    const r = await runCommand("/usr/bin/chronyc", ["-h", socket, "tracking"], {
      timeoutMs: 3000,
    });
    if (r.code === 0) break;
    await new Promise((res) => setTimeout(res, 100));
  }
  let stopped: Promise<string> | null = null;
  return {
    pid: child.pid,
    dir,
    child,
    socket,
    stop() {
      stopped ??= (async () => {
        try {
          // Under strace the child is strace: signal the daemon itself.
          const pid = straceDir
            ? Number(Deno.readTextFileSync(`${dir}/chronyd.pid`).trim())
            : child.pid;
          Deno.kill(pid, "SIGTERM");
        } catch {
          try {
            child.kill("SIGTERM");
          } catch { /* gone */ }
        }
        const timer = setTimeout(() => {
          try {
            child.kill("SIGKILL");
          } catch { /* gone */ }
        }, 5000);
        const out = await child.output();
        clearTimeout(timer);
        await Deno.remove(dir, { recursive: true }).catch(() => {});
        return new TextDecoder().decode(out.stderr);
      })();
      return stopped;
    },
  };
}

/**
 * A fresh self-signed P-256 certificate and key in `dir` (`NAME-cert.pem`,
 * `NAME-key.pem`), for CN `name` with the given subjectAltName.
 */
export async function makeCert(
  dir: string,
  name = "localhost",
  san = "DNS:localhost,IP:127.0.0.1",
): Promise<{ cert: string; key: string }> {
  const cert = `${dir}/${name}-cert.pem`, key = `${dir}/${name}-key.pem`;
  const r = await runCommand("openssl", [
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-nodes",
    "-keyout",
    key,
    "-out",
    cert,
    "-days",
    "30",
    "-subj",
    `/CN=${name}`,
    "-addext",
    `subjectAltName=${san}`,
  ]);
  if (r.code !== 0) throw new Error(`interop: openssl failed: ${r.stderr}`);
  return { cert, key };
}

/**
 * A tiny NTP server whose clock is `offset` seconds ahead of this machine's
 * (a function: asked at each timestamp, e.g. a server that steps).
 */
export function fakeServer(
  port: number,
  offset: number | (() => number),
): { stop(): Promise<void> } {
  const sock = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port });
  const ahead = typeof offset === "number" ? () => offset : offset;
  const now = () => (performance.timeOrigin + performance.now()) / 1000 + ahead();
  const put = (v: DataView, at: number, t: number) => {
    const s = Math.floor(t);
    v.setUint32(at, s + 2208988800);
    v.setUint32(at + 4, Math.floor((t - s) * 2 ** 32));
  };
  const loop = (async () => {
    for await (const [req, addr] of sock) {
      const rx = now();
      if (req.length < 48) continue;
      const r = new Uint8Array(48);
      const v = new DataView(r.buffer);
      r[0] = (req[0]! & 0x38) | 4; // no leap warning, the client's version, server
      r[1] = 1;
      r[2] = req[2]!;
      r[3] = 0xec; // precision ~2^-20 s
      v.setUint32(12, 0x46414b45); // "FAKE"
      put(v, 16, rx - 1);
      r.set(req.subarray(40, 48), 24);
      put(v, 32, rx);
      put(v, 40, now());
      await sock.send(r, addr).catch(() => {});
    }
  })().catch(() => {});
  return {
    async stop() {
      sock.close();
      await loop;
    },
  };
}

/** chronyd and chronyc 4.8, built for this machine (shared/chrony-4.8). */
export const CHRONYD48 = sharedPath("chrony-4.8/chronyd");
/** See {@link CHRONYD48}. */
export const CHRONYC48 = sharedPath("chrony-4.8/chronyc");

/** Whether chrony 4.8's binaries are there; throws under CI when they are not. */
export function haveChrony48(): boolean {
  const have = [CHRONYD48, CHRONYC48].every((p) => {
    try {
      return Deno.statSync(p).isFile;
    } catch {
      return false;
    }
  });
  if (!have && Deno.env.get("CI")) throw new Error(`chrony 4.8 reference missing: ${CHRONYC48}`);
  return have;
}

/**
 * Writes `dir/chronyd.conf` (`lines`, then `cmdport 0` and the command socket
 * and pidfile in `dir`) and starts horae or chronyd 4.8 on it in the
 * foreground (`-d -x`; chronyd also `-u root`), stderr piped: for tests that
 * run the two side by side on one configuration.
 */
export async function spawnBeside48(
  kind: "horae" | "chronyd 4.8",
  dir: string,
  lines: string[],
): Promise<Deno.ChildProcess> {
  const conf = `${dir}/chronyd.conf`;
  const trailer = ["cmdport 0", `bindcmdaddress ${dir}/chronyd.sock`, `pidfile ${dir}/chronyd.pid`];
  await Deno.writeTextFile(conf, [...lines, ...trailer].join("\n") + "\n");
  const [cmd, args] = kind === "horae"
    ? [`${ROOT}/bin/chronyd`, ["-d", "-x", "-f", conf]]
    : [CHRONYD48, ["-d", "-x", "-u", "root", "-f", conf]];
  return new Deno.Command(cmd, { args, stdout: "null", stderr: "piped" }).spawn();
}
