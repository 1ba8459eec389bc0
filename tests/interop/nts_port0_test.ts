/**
 * An NTS server with `port 0` (no NTP server: a host dedicated to NTS-KE,
 * `ntsntpserver` naming the NTP server), beside the real chronyd 4.3 and 4.8
 * with the same configuration. Observed with both: the NTS-KE port listens
 * (on `bindaddress` and the IPv6 wildcard), ntskeys is written to ntsdumpdir,
 * nothing is logged about it, a connection from an address `allow` does not
 * admit is closed before the TLS handshake (also after `chronyc allow` /
 * `deny`) and counted nowhere, and an admitted one gets a critical NTPv4 port
 * record of 0. `ntsport 0` does not disable the NTS-KE server: it listens on a
 * port the kernel picks, one per family.
 */
import assert from "node:assert/strict";
import {
  CHRONYC48,
  CHRONYD48,
  freePort,
  haveChrony,
  haveChrony48,
  makeCert,
  runCommand,
  startChronyd,
  startHorae,
} from "./harness.ts";
import { encodeRecords } from "../../lib/nts/ke_records.ts";
import { describeOutcome, probeKe } from "./ke_probe.ts";

const enabled = haveChrony();
const have48 = enabled && haveChrony48();

const u16 = (v: number) => Uint8Array.of(v >> 8, v & 0xff);
/** NTPv4, AES-SIV-CMAC-256, End of Message: the request every NTS client sends. */
const REQUEST = encodeRecords([
  { type: 1, critical: true, body: u16(0) },
  { type: 4, critical: true, body: u16(15) },
  { type: 0, critical: true, body: new Uint8Array(0) },
]);

/** What one daemon did, comparable between them. */
interface Observed {
  /** Listening TCP sockets (`127.0.0.1:KE`, the NTS-KE port by its role). */
  listening: string[];
  /** NTS-KE outcomes: no allow, after `allow 127.0.0.1`, after `deny 127.0.0.1`. */
  outcomes: string[];
  /** The NTS-KE lines of serverstats. */
  stats: string[];
  /** ntskeys was written (NKS0 by 4.3 and horae, NKS1 by 4.8). */
  ntskeys: boolean;
}

/** The TCP sockets process `pid` listens on, polled until there are `want`. */
async function tcpListening(pid: number, want: number): Promise<string[]> {
  let sockets: string[] = [];
  for (let i = 0; i < 50 && sockets.length < want; i++) {
    if (i > 0) await new Promise((r) => setTimeout(r, 100));
    const r = await runCommand("ss", ["-H", "-n", "-l", "-t", "-p"]);
    sockets = r.stdout.split("\n").filter((l) => l.includes(`pid=${pid},`))
      .map((l) => l.trim().split(/\s+/)[3]!).sort();
  }
  return sockets;
}

/** Probes the NTS-KE server on 127.0.0.1 `port` with a valid request. */
async function probe(port: number, cert: string): Promise<string> {
  return describeOutcome(
    await probeKe({ port, caFile: cert, alpn: ["ntske/1"], request: REQUEST, timeoutMs: 10_000 }),
  );
}

type Kind = "chronyd 4.3" | "chronyd 4.8" | "horae";

/**
 * Runs `kind` with `port 0` and an NTS server on `ntsPort` (0: the kernel's
 * choice) and records what it does; `allowFirst` starts it with `allow 127.0.0.1`.
 */
async function observe(kind: Kind, ntsPort: number, allowFirst: boolean): Promise<Observed> {
  const certDir = await Deno.makeTempDir({ prefix: "horae-port0-" });
  await Deno.chmod(certDir, 0o700);
  const { cert, key } = await makeCert(certDir);
  const lines = [
    `ntsport ${ntsPort}`,
    `ntsserverkey ${key}`,
    `ntsservercert ${cert}`,
    `ntsdumpdir ${certDir}`,
    "ntsntpserver ntp.example.net",
    ...(allowFirst ? ["allow 127.0.0.1"] : []),
  ];
  let pid: number, socket: string, stop: () => Promise<string>;
  if (kind === "horae") {
    const d = await startHorae(["port 0", "bindaddress 127.0.0.1", ...lines]);
    ({ pid, socket } = d);
    stop = () => d.stop();
  } else {
    const d = await startChronyd({
      port: 0,
      lines,
      ...(kind === "chronyd 4.8" ? { binary: CHRONYD48 } : {}),
    });
    ({ pid, socket } = d);
    stop = async () => {
      const log = await Deno.readTextFile(`${d.dir}/log`).catch(() => "");
      await d.stop();
      return log;
    };
  }
  const chronyc = kind === "chronyd 4.8" ? CHRONYC48 : "/usr/bin/chronyc";
  const cmd = async (...args: string[]) => {
    const r = await runCommand(chronyc, ["-n", "-h", socket, ...args], { timeoutMs: 10_000 });
    assert.equal(r.code, 0, `${kind}: chronyc ${args.join(" ")}: ${r.stdout}${r.stderr}`);
    return r.stdout;
  };
  let log = "";
  try {
    const sockets = await tcpListening(pid, 2);
    const v4 = sockets.find((s) => s.startsWith("127.0.0.1:"));
    assert.ok(v4, `${kind}: no NTS-KE socket on 127.0.0.1: ${sockets.join(", ")}`);
    const port = Number(v4.slice(v4.lastIndexOf(":") + 1));
    const ports = new Set(sockets.map((s) => s.slice(s.lastIndexOf(":") + 1)));
    // the NTS-KE port by its role (with ntsport 0 the kernel's choice: chronyd binds each
    // family to a port of its own, horae the second to the first's)
    const listening = sockets.map((s) =>
      s.replace(
        /:(\d+)$/,
        (_, p) => Number(p) === ntsPort ? ":KE" : ntsPort === 0 && ports.has(p) ? ":ANY" : `:${p}`,
      )
    );
    const outcomes: string[] = [];
    if (!allowFirst) {
      outcomes.push(await probe(port, cert));
      await cmd("allow", "127.0.0.1");
    }
    outcomes.push(await probe(port, cert));
    await cmd("deny", "127.0.0.1");
    outcomes.push(await probe(port, cert));
    const stats = (await cmd("serverstats")).split("\n").filter((l) => l.startsWith("NTS-KE"));
    let ntskeys = false;
    try {
      ntskeys = /^NKS[01]\n/.test(await Deno.readTextFile(`${certDir}/ntskeys`));
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
    return { listening, outcomes, stats, ntskeys };
  } finally {
    log = await stop();
    await Deno.remove(certDir, { recursive: true }).catch(() => {});
    // nothing about NTS-KE or the port in the log: its start lines only (-F: the filter; 4.8 records
    // the chronyc allow/deny commands)
    const said = log.split("\n").filter((l) =>
      l !== "" &&
      !/version .* starting|control of system clock|root privileges|seccomp filter|exiting/.test(
        l,
      ) &&
      !(kind === "chronyd 4.8" && /(Allowed|Denied) NTP access from 127\.0\.0\.1$/.test(l))
    );
    assert.deepEqual(said, [], `${kind} logged:\n${log}`);
  }
}

for (const [ntsName, allowFirst] of [["a fixed ntsport", false], ["ntsport 0", true]] as const) {
  Deno.test({
    name: `nts port 0: NTS-KE with ${ntsName} (no NTP port) as chronyd 4.3 and 4.8`,
    ignore: !enabled,
    sanitizeResources: false,
    sanitizeOps: false,
    async fn() {
      const kinds: Kind[] = ["chronyd 4.3", ...(have48 ? ["chronyd 4.8" as const] : []), "horae"];
      const seen = new Map<Kind, Observed>();
      for (const kind of kinds) {
        seen.set(kind, await observe(kind, allowFirst ? 0 : freePort(), allowFirst));
      }
      const ref = seen.get("chronyd 4.3")!;
      // what chronyd 4.3 does, stated (so that the comparison below cannot pass vacuously)
      const answer = "NEXT!(0) AEAD!(15) PORT!(0) SERVER!(ntp.example.net) COOKIEx8/100 EOM!";
      assert.deepEqual(
        ref.outcomes,
        allowFirst ? [answer, "tls-failed"] : ["tls-failed", answer, "tls-failed"],
      );
      assert.deepEqual(ref.stats, [
        "NTS-KE connections accepted: 1",
        "NTS-KE connections dropped : 0",
      ]);
      assert.ok(ref.ntskeys, "chronyd 4.3 wrote ntskeys");
      for (const kind of kinds) {
        assert.deepEqual(seen.get(kind), ref, kind);
      }
    },
  });
}
