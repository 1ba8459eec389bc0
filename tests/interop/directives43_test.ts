/**
 * chrony 4.3 directives beside chronyd 4.3 on loopback: `clockprecision`
 * (the served precision is its rounded log2), `dscp` (the NTP socket's TOS
 * byte, read with `ss --tos`), `bindcmddevice` (the command socket bound to
 * the interface, `ss` shows `%lo`), `commandkey` (accepted with chronyd's
 * warning), and `sourcedir` sources added after all the configuration's own
 * (the order of `chronyc sources`).
 * @module
 */
import assert from "node:assert/strict";
import { freePort, haveChrony, runCommand, startChronyd, startHorae } from "./harness.ts";

const enabled = haveChrony();
if (!enabled && Deno.env.get("CI")) throw new Error("chronyd/chronyc missing and CI is set");

/** The precision byte (log2 s) of the NTP reply from 127.0.0.1:port. */
async function servedPrecision(port: number): Promise<number | null> {
  const sock = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  try {
    for (let attempt = 0; attempt < 10; attempt++) {
      const req = new Uint8Array(48);
      req[0] = 0x23;
      await sock.send(req, { transport: "udp", hostname: "127.0.0.1", port });
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<null>((r) => (timer = setTimeout(() => r(null), 500)));
      const got = await Promise.race([sock.receive().catch(() => null), timeout]);
      clearTimeout(timer);
      if (got !== null && got[0].length >= 48) {
        return new Int8Array(got[0].buffer, got[0].byteOffset)[3]!;
      }
    }
    return null;
  } finally {
    sock.close();
  }
}

/** `ss -lnup --tos` lines of sockets bound to `port`. */
async function ssLines(port: number): Promise<string[]> {
  const r = await runCommand("ss", ["-H", "-lnup", "--tos"], { timeoutMs: 5000 });
  return r.stdout.split("\n").filter((l) => new RegExp(`:${port}\\s`).test(l));
}

Deno.test({
  name: "directives 4.3: clockprecision, dscp, bindcmddevice as chronyd 4.3",
  ignore: !enabled,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    for (const [precision, log2] of [["0.003", -8], ["0.001", -10]] as const) {
      const refPort = freePort(), horPort = freePort();
      const refCmd = freePort(), horCmd = freePort();
      const common = [`clockprecision ${precision}`, "dscp 46", "bindcmddevice lo"];
      const ref = await startChronyd({
        port: refPort,
        lines: [...common, `cmdport ${refCmd}`, "local stratum 3"],
      });
      const hor = await startHorae([
        `port ${horPort}`,
        "allow 127.0.0.1",
        "local stratum 3",
        `cmdport ${horCmd}`,
        ...common,
      ]);
      try {
        assert.equal(await servedPrecision(refPort), log2);
        assert.equal(await servedPrecision(horPort), log2);
        for (const [name, ntp, cmd] of [["chronyd", refPort, refCmd], ["horae", horPort, horCmd]]) {
          const ntpLines = await ssLines(ntp as number);
          assert.ok(ntpLines.length > 0, `${name}: no NTP socket`);
          assert.ok(ntpLines.every((l) => /tos:0xb8/.test(l)), `${name}: ${ntpLines.join("\n")}`);
          const cmdLines = await ssLines(cmd as number);
          assert.ok(
            cmdLines.some((l) => l.includes(`127.0.0.1%lo:${cmd}`)),
            `${name}: ${cmdLines.join("\n")}`,
          );
        }
      } finally {
        await hor.stop();
        await ref.stop();
      }
    }
  },
});

Deno.test({
  name: "directives 4.3: commandkey warned about; sourcedir sources after the configuration's",
  ignore: !enabled,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "horae-sd-" });
    await Deno.chmod(dir, 0o700);
    const server = await startChronyd({ port: freePort() });
    try {
      await Deno.writeTextFile(`${dir}/a.sources`, `server 127.0.0.3 port ${server.port}\n`);
      const lines = [
        "commandkey 1",
        `sourcedir ${dir}`,
        `server 127.0.0.2 port ${server.port}`,
        `pool 127.0.0.4 port ${server.port}`,
      ];
      const ref = await startChronyd({ lines });
      const hor = await startHorae(lines);
      const order = async (socket: string) => {
        const r = await runCommand("/usr/bin/chronyc", ["-n", "-c", "-h", socket, "sources"], {
          timeoutMs: 5000,
        });
        return r.stdout.split("\n").filter((l) => l !== "").map((l) => l.split(",")[2]);
      };
      try {
        let want: (string | undefined)[] = [];
        for (let i = 0; i < 40 && want.length < 3; i++) {
          want = await order(ref.socket);
          if (want.length < 3) await new Promise((r) => setTimeout(r, 250));
        }
        assert.deepEqual(want, ["127.0.0.2", "127.0.0.4", "127.0.0.3"]);
        let got: (string | undefined)[] = [];
        for (let i = 0; i < 40 && got.length < 3; i++) {
          got = await order(hor.socket);
          if (got.length < 3) await new Promise((r) => setTimeout(r, 250));
        }
        assert.deepEqual(got, want);
        const refLog = await Deno.readTextFile(`${ref.dir}/log`);
        assert.match(refLog, /commandkey directive is no longer supported/);
        assert.match(await hor.stop(), /commandkey directive is no longer supported/);
      } finally {
        await hor.stop();
        await ref.stop();
      }
    } finally {
      await server.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

/** `count` datagrams received on 127.0.0.1:port (with arrival times), within `ms`. */
async function receiveOn(
  port: number,
  count: number,
  ms: number,
): Promise<{ bytes: Uint8Array; from: number; at: number }[]> {
  const sock = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port });
  const out: { bytes: Uint8Array; from: number; at: number }[] = [];
  const end = Date.now() + ms;
  try {
    while (out.length < count && Date.now() < end) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<null>((
        r,
      ) => (timer = setTimeout(() => r(null), end - Date.now())));
      const got = await Promise.race([sock.receive().catch(() => null), timeout]);
      clearTimeout(timer);
      if (got === null) break;
      out.push({ bytes: got[0], from: (got[1] as Deno.NetAddr).port, at: Date.now() / 1000 });
    }
  } finally {
    sock.close();
  }
  return out;
}

Deno.test({
  name: "directives 4.3: broadcast sends mode-5 packets as chronyd 4.3 (synchronised and not)",
  ignore: !enabled,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    // [local reference, interval, poll, allow]: without `allow` the socket opens for broadcasts
    for (
      const [local, interval, poll, allow] of [
        [true, 1, 0, true],
        [false, 3, 2, true],
        [false, 1, 0, false],
      ] as const
    ) {
      const refPort = freePort(), horPort = freePort();
      const refDst = freePort(), horDst = freePort();
      const extra = local ? ["local stratum 3"] : [];
      // the harness's "port 0" is overridden by the later line (the last one counts in chronyd)
      const ref = await startChronyd({
        lines: [
          `port ${refPort}`,
          ...(allow ? ["allow 127.0.0.1"] : []),
          `broadcast ${interval} 127.0.0.1 ${refDst}`,
          ...extra,
        ],
      });
      const hor = await startHorae([
        `port ${horPort}`,
        ...(allow ? ["allow 127.0.0.1"] : []),
        `broadcast ${interval} 127.0.0.1 ${horDst}`,
        ...extra,
      ]);
      try {
        const [want, got] = await Promise.all([
          receiveOn(refDst, 2, (interval * 2 + 3) * 1000),
          receiveOn(horDst, 2, (interval * 2 + 3) * 1000),
        ]);
        assert.equal(want.length, 2, "chronyd sent no broadcasts");
        assert.equal(got.length, 2, "horae sent no broadcasts");
        assert.equal(want[0]!.from, refPort);
        assert.equal(got[0]!.from, horPort);
        for (const [name, pkts] of [["chronyd", want], ["horae", got]] as const) {
          const gap = pkts[1]!.at - pkts[0]!.at;
          assert.ok(gap > interval * 0.5 && gap < interval * 1.5, `${name}: ${gap} s apart`);
          const v = new DataView(pkts[1]!.bytes.buffer, pkts[1]!.bytes.byteOffset);
          assert.equal(pkts[1]!.bytes.length, 48);
          assert.equal(v.getUint8(2), poll, name);
          for (let o = 24; o < 40; o += 4) assert.equal(v.getUint32(o), 0, `${name} word ${o}`);
          const tx = v.getUint32(40) - 2208988800 + v.getUint32(44) / 2 ** 32;
          assert.ok(Math.abs(tx - pkts[1]!.at) < 0.5, `${name}: transmit ${tx} at ${pkts[1]!.at}`);
        }
        // the header as chronyd's (its precision is measured; ours is fixed), local or not
        const head = (b: Uint8Array) => {
          const v = new DataView(b.buffer, b.byteOffset);
          return [
            v.getUint8(0),
            v.getUint8(1),
            v.getUint8(2),
            v.getUint32(4),
            v.getUint32(8),
            v.getUint32(12),
          ];
        };
        assert.deepEqual(head(got[1]!.bytes), head(want[1]!.bytes));
      } finally {
        await hor.stop();
        await ref.stop();
      }
    }
  },
});

Deno.test({
  name: "directives 4.3: copy takes the server's reference ID and stratum, as chronyd 4.3",
  ignore: !enabled,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const server = await startChronyd({ port: freePort() });
    const lines = [`server 127.0.0.1 port ${server.port} iburst minpoll 0 maxpoll 0 copy`];
    const ref = await startChronyd({ lines });
    const hor = await startHorae(lines);
    const tracking = async (socket: string) => {
      const r = await runCommand("/usr/bin/chronyc", ["-n", "-c", "-h", socket, "tracking"], {
        timeoutMs: 5000,
      });
      const f = r.stdout.trim().split(",");
      return `${f[0]},${f[1]},${f[2]}`;
    };
    try {
      for (const [name, d] of [["chronyd", ref], ["horae", hor]] as const) {
        let t = "";
        for (let i = 0; i < 40 && !t.startsWith("7F7F0101"); i++) {
          t = await tracking(d.socket);
          if (!t.startsWith("7F7F0101")) await new Promise((r) => setTimeout(r, 250));
        }
        // the server's LOCL reference ID and its stratum 1, not 127.0.0.1 and 2
        assert.equal(t, "7F7F0101,127.0.0.1,1", name);
      }
    } finally {
      await hor.stop();
      await ref.stop();
      await server.stop();
    }
  },
});
