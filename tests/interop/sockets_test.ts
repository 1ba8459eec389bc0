/**
 * The sockets horae's daemon opens, beside the real chronyd 4.3 with the same
 * configuration, as `ss -ulnp` / `ss -tlnp` list them (issue 16 items 2, 3, 9):
 * IPv6 sockets are V6ONLY (`bindcmdaddress ::` beside `0.0.0.0`), a family
 * gets an NTP server socket only when `allow` admits some of its addresses,
 * addresses not on any interface are bound anyway (IP_FREEBIND; TEST-NET
 * addresses, no traffic is ever sent to them), and `ss -p` names the process
 * `chronyd`.
 */
import assert from "node:assert/strict";
import { freePort, haveChrony, makeCert, runCommand, startChronyd, startHorae } from "./harness.ts";

const enabled = haveChrony();

/** One listening socket: `udp 0.0.0.0:NTP` (ports replaced by their role). */
interface Listening {
  sockets: string[];
  /** Process names `ss -p` shows for them. */
  names: Set<string>;
}

/** The listening UDP and TCP sockets of process `pid`, polled until `want` of them are there. */
async function listening(
  pid: number,
  ports: Record<number, string>,
  want: number,
): Promise<Listening> {
  let result: Listening = { sockets: [], names: new Set() };
  for (let attempt = 0; attempt < 50; attempt++) {
    const sockets: string[] = [];
    const names = new Set<string>();
    for (const proto of ["udp", "tcp"]) {
      const r = await runCommand("ss", ["-H", "-n", "-l", "-p", proto === "udp" ? "-u" : "-t"]);
      for (const line of r.stdout.split("\n")) {
        if (!line.includes(`pid=${pid},`)) continue;
        const local = line.trim().split(/\s+/)[3]!;
        const i = local.lastIndexOf(":");
        const port = Number(local.slice(i + 1));
        sockets.push(`${proto} ${local.slice(0, i)}:${ports[port] ?? port}`);
        for (const m of line.matchAll(/\("([^"]+)",pid=(\d+),/g)) {
          if (Number(m[2]) === pid) names.add(m[1]!);
        }
      }
    }
    result = { sockets: sockets.sort(), names };
    if (sockets.length >= want) break;
    await new Promise((res) => setTimeout(res, 100));
  }
  return result;
}

Deno.test({
  name: "sockets: bindcmdaddress :: beside 0.0.0.0 (remote-monitoring guide) and " +
    "allow 127.0.0.1 open the same sockets as chronyd: V6ONLY, no [::] NTP socket",
  ignore: !enabled,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const ntp = freePort(), cmd = freePort();
    const ports = { [ntp]: "NTP", [cmd]: "CMD" };
    const lines = [
      `port ${ntp}`,
      "allow 127.0.0.1",
      `cmdport ${cmd}`,
      "bindcmdaddress 0.0.0.0",
      "bindcmdaddress ::",
    ];
    const expected = ["udp 0.0.0.0:CMD", "udp 0.0.0.0:NTP", "udp [::]:CMD"];
    const ref = await startChronyd({ address: "0.0.0.0", lines });
    let chronyd: Listening;
    try {
      chronyd = await listening(ref.pid, ports, expected.length);
    } finally {
      await ref.stop();
    }
    assert.deepEqual(chronyd.sockets, expected, "chronyd 4.3 itself");
    const horae = await startHorae(["bindaddress 0.0.0.0", ...lines]);
    let got: Listening;
    try {
      got = await listening(horae.pid, ports, expected.length);
    } finally {
      await horae.stop();
    }
    assert.deepEqual(got.sockets, chronyd.sockets);
    assert.deepEqual([...got.names], ["chronyd"], "ss -p names the daemon chronyd");
  },
});

Deno.test({
  name: "sockets: bindaddress and bindcmdaddress of addresses on no interface (TEST-NET) " +
    "are bound as chronyd binds them (FREEBIND): NTP, NTS-KE, command, both families",
  ignore: !enabled,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const ntp = freePort(), ke = freePort(), cmd = freePort();
    const ports = { [ntp]: "NTP", [ke]: "NTSKE", [cmd]: "CMD" };
    const lines = [
      `port ${ntp}`,
      "allow",
      "bindaddress 203.0.113.74",
      "bindaddress 2001:db8::74",
      `cmdport ${cmd}`,
      "bindcmdaddress 203.0.113.75",
      "bindcmdaddress 2001:db8::75",
    ];
    const expected = [
      "tcp 203.0.113.74:NTSKE",
      "tcp [2001:db8::74]:NTSKE",
      "udp 203.0.113.74:NTP",
      "udp 203.0.113.75:CMD",
      "udp [2001:db8::74]:NTP",
      "udp [2001:db8::75]:CMD",
    ];
    const ref = await startChronyd({ address: "203.0.113.74", ntsKePort: ke, lines });
    let chronyd: Listening;
    try {
      chronyd = await listening(ref.pid, ports, expected.length);
    } finally {
      await ref.stop();
    }
    assert.deepEqual(chronyd.sockets, expected, "chronyd 4.3 itself");
    const certDir = await Deno.makeTempDir({ prefix: "horae-sockets-" });
    const { cert, key } = await makeCert(certDir);
    const horae = await startHorae([
      ...lines,
      `ntsport ${ke}`,
      `ntsservercert ${cert}`,
      `ntsserverkey ${key}`,
      "ntsdumpdir DIR",
    ]);
    let got: Listening;
    let err: string;
    try {
      got = await listening(horae.pid, ports, expected.length);
    } finally {
      err = await horae.stop();
      await Deno.remove(certDir, { recursive: true });
    }
    assert.deepEqual(got.sockets, chronyd.sockets, err);
    assert.doesNotMatch(err, /Could not/);
  },
});

Deno.test({
  name: "sockets: chronyc allow/deny open and close a family's NTP server socket as in chronyd",
  ignore: !enabled,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const ntp = freePort();
    const ports = { [ntp]: "NTP" };
    const lines = [`port ${ntp}`, "allow 127.0.0.1"];
    const steps: [string[], string[]][] = [
      [[], ["udp 0.0.0.0:NTP"]],
      [["allow", "::1"], ["udp 0.0.0.0:NTP", "udp [::]:NTP"]],
      [["deny", "all", "::/0"], ["udp 0.0.0.0:NTP"]],
      [["deny", "all", "0/0"], []],
    ];
    const walk = async (pid: number, socket: string): Promise<string[][]> => {
      const seen: string[][] = [];
      for (const [command, want] of steps) {
        if (command.length > 0) {
          const r = await runCommand("/usr/bin/chronyc", ["-n", "-h", socket, ...command]);
          assert.match(r.stdout, /200 OK/, r.stdout + r.stderr);
        }
        // Polled until the expected count (sockets close as well as open).
        let got: string[] = [];
        for (let i = 0; i < 30; i++) {
          got = (await listening(pid, ports, 0)).sockets;
          if (got.length === want.length) break;
          await new Promise((res) => setTimeout(res, 100));
        }
        seen.push(got);
      }
      return seen;
    };
    const ref = await startChronyd({ address: "0.0.0.0", lines });
    let chronyd: string[][];
    try {
      chronyd = await walk(ref.pid, ref.socket);
    } finally {
      await ref.stop();
    }
    assert.deepEqual(chronyd, steps.map(([, want]) => want), "chronyd 4.3 itself");
    const horae = await startHorae(["bindaddress 0.0.0.0", ...lines]);
    let got: string[][];
    try {
      got = await walk(horae.pid, horae.socket);
    } finally {
      await horae.stop();
    }
    assert.deepEqual(got, chronyd);
  },
});

Deno.test({
  name: "sockets: an NTS server without allow listens for NTS-KE on both families, as chronyd",
  ignore: !enabled,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const ntp = freePort(), ke = freePort();
    const ports = { [ntp]: "NTP", [ke]: "NTSKE" };
    const expected = ["tcp 0.0.0.0:NTSKE", "tcp [::]:NTSKE"];
    const ref = await startChronyd({ address: "0.0.0.0", ntsKePort: ke, lines: [`port ${ntp}`] });
    let chronyd: Listening;
    try {
      chronyd = await listening(ref.pid, ports, expected.length);
    } finally {
      await ref.stop();
    }
    assert.deepEqual(chronyd.sockets, expected, "chronyd 4.3 itself");
    const certDir = await Deno.makeTempDir({ prefix: "horae-sockets-" });
    const { cert, key } = await makeCert(certDir);
    const horae = await startHorae([
      `port ${ntp}`,
      `ntsport ${ke}`,
      `ntsservercert ${cert}`,
      `ntsserverkey ${key}`,
      "ntsdumpdir DIR",
    ]);
    let got: Listening;
    try {
      got = await listening(horae.pid, ports, expected.length);
    } finally {
      await horae.stop();
      await Deno.remove(certDir, { recursive: true });
    }
    assert.deepEqual(got.sockets, chronyd.sockets);
  },
});

Deno.test({
  name: "sockets: binddevice lo binds the NTP server socket to the device as chronyd does " +
    "(and is not reported as unsupported)",
  ignore: !enabled,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const ntp = freePort();
    const ports = { [ntp]: "NTP" };
    const lines = [`port ${ntp}`, "allow 127.0.0.1", "binddevice lo"];
    const ref = await startChronyd({ address: "127.0.0.1", lines });
    let chronyd: Listening;
    try {
      chronyd = await listening(ref.pid, ports, 1);
    } finally {
      await ref.stop();
    }
    const ntpOf = (l: Listening) => l.sockets.filter((s) => s.endsWith(":NTP"));
    assert.deepEqual(ntpOf(chronyd), ["udp 127.0.0.1%lo:NTP"], "chronyd 4.3 itself");
    const horae = await startHorae(["bindaddress 127.0.0.1", ...lines]);
    let got: Listening;
    let err: string;
    try {
      got = await listening(horae.pid, ports, 1);
    } finally {
      err = await horae.stop();
    }
    assert.deepEqual(ntpOf(got), ntpOf(chronyd), err);
    assert.doesNotMatch(err, /not supported/, err);
  },
});
