/**
 * `extfield F323` against the real chronyd: horae's server answers requests
 * carrying the field as chronyd 4.3 and 4.8 do (field by field; the times
 * differ), and horae <-> chronyd 4.3 with `extfield F323` synchronise both
 * ways (also with a MAC or NTS: the field before the MAC / NTS fields), each side's `ntpdata` root delay being the other's
 * finer value.
 */
import assert from "node:assert/strict";
import {
  CHRONYD48,
  fakeServer,
  freePort,
  haveChrony,
  haveChrony48,
  makeCert,
  runCommand,
  startChronyd,
  startHorae,
} from "./harness.ts";
import { decodePacket } from "../../lib/ntp/packet.ts";
import { findF323 } from "../../lib/ntp/ef_f323.ts";

const enabled = haveChrony() && haveChrony48();
const hex = (s: string) => new Uint8Array(s.match(/../g)!.map((b) => parseInt(b, 16)));
const HEADER = "23000620" + "00".repeat(36) + "a21076cf2decb6";
const F = "f323001cf5bedd9a" + "00".repeat(20);
/** Requests and what chronyd did with each (reply length), captured here from 4.3 and 4.8. */
const VARIANTS: [string, string][] = [
  ["plain", HEADER + "01" + F],
  ["bad magic", HEADER + "02" + "f323001cf5bedd9b" + "00".repeat(20)],
  ["length 32", HEADER + "03" + "f3230020f5bedd9a" + "00".repeat(24)],
  ["unknown field first", HEADER + "04" + "20050010" + "00".repeat(12) + F],
  ["unknown field after", HEADER + "05" + F + "2005001c" + "00".repeat(24)],
  ["body not zero", HEADER + "06" + "f323001cf5bedd9a" + "11".repeat(20)],
  ["two fields", HEADER + "07" + F + F],
];

async function ask(port: number, req: Uint8Array): Promise<Uint8Array | null> {
  const sock = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  try {
    await sock.send(req, { transport: "udp", hostname: "127.0.0.1", port });
    let timer: ReturnType<typeof setTimeout> | undefined;
    const r = await Promise.race([
      sock.receive().then(([b]) => b),
      new Promise<null>((res) => timer = setTimeout(() => res(null), 1000)),
    ]);
    clearTimeout(timer);
    return r;
  } finally {
    sock.close();
  }
}

/** What must agree with chronyd: length, header but times and precision, field but its monotonic timestamp and epoch. */
function shape(r: Uint8Array | null) {
  if (r === null) return null;
  const p = decodePacket(r);
  const f = findF323(p.extensions);
  return {
    length: r.length,
    first: [...r.subarray(0, 3)],
    root: [...r.subarray(4, 16)],
    field: f && [...r.subarray(48, 60)],
    monoMinusRx: f && Math.abs(Number(BigInt.asIntN(64, f.monoReceiveTs - p.receiveTs))) / 2 ** 32,
    epoch: f?.monoEpoch ?? null,
  };
}

Deno.test({
  name: "extfield F323 server: horae answers each request as chronyd 4.3 and 4.8 (field by field)",
  ignore: !enabled,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const ports = [freePort(), freePort(), freePort()];
    const c43 = await startChronyd({ port: ports[0]! });
    const c48 = await startChronyd({ port: ports[1]!, binary: CHRONYD48 });
    const ours = await startHorae([
      `port ${ports[2]}`,
      "bindaddress 127.0.0.1",
      "allow 127.0.0.1",
      "local stratum 1",
    ]);
    try {
      const epochs: (number | null)[][] = [[], [], []];
      for (const [name, v] of VARIANTS) {
        const got = [];
        for (const port of ports) got.push(shape(await ask(port, hex(v))));
        got.forEach((g, i) => epochs[i]!.push(g?.epoch ?? null));
        const [a, b, h] = got.map((g) => g && { ...g, monoMinusRx: undefined, epoch: undefined });
        assert.deepEqual(a, b, `${name}: chronyd 4.3 and 4.8 differ`);
        assert.deepEqual(h, a, `${name}: horae differs from chronyd`);
        // never corrected (local): the monotonic receive timestamp is the receive timestamp
        for (const g of got) {
          if (g?.field) assert.ok(g.monoMinusRx! < 1e-6, `${name}: ${g.monoMinusRx}`);
        }
      }
      // one epoch per server, in every reply with the field
      for (const e of epochs) assert.equal(new Set(e.filter((x) => x !== null)).size, 1);
    } finally {
      await ours.stop();
      await c48.stop();
      await c43.stop();
    }
  },
});

async function until(what: string, ok: () => Promise<boolean>, ms = 40_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await ok()) return;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function chronyc(socket: string, cmd: string): Promise<string> {
  const r = await runCommand("/usr/bin/chronyc", ["-n", "-h", socket, cmd], { timeoutMs: 5000 });
  return r.stdout;
}

const field = (out: string, name: string) =>
  out.match(new RegExp(`^${name}\\s*: (.+)$`, "m"))?.[1]?.trim() ?? "";

/** `ntpdata` of `client` and `tracking` of `server` agree on the root delay (the finer value) within 1 µs. */
async function rootDelayAgrees(client: string, server: string): Promise<boolean> {
  const nd = await chronyc(client, "ntpdata");
  const tr = await chronyc(server, "tracking");
  const a = parseFloat(field(nd, "Root delay")), b = parseFloat(field(tr, "Root delay"));
  return field(nd, "NTP tests") === "111 111 1111" && b > 0 && Math.abs(a - b) <= 1.5e-6;
}

Deno.test({
  name:
    "extfield F323: horae <-> chronyd 4.3 synchronise both ways (also with a MAC, NTS), ntpdata has the finer root delay",
  ignore: !enabled,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const upstream = freePort();
    const fake = fakeServer(upstream, 0.002);
    // upstream polled every 16 s: the servers' root delay holds still between updates
    const src = `server 127.0.0.1 port ${upstream} iburst minpoll 4 maxpoll 4`;
    const ourPort = freePort(), refPort = freePort();
    const dir = await Deno.makeTempDir({ prefix: "horae-f323-" });
    const keys = `${dir}/keys`;
    await Deno.writeTextFile(keys, "1 SHA1 HEX:0102030405060708090A0B0C0D0E0F1011121314\n", {
      mode: 0o600,
    });
    const cert = await makeCert(dir);
    const kePort = freePort();
    const horae = await startHorae([
      src,
      `port ${ourPort}`,
      "bindaddress 127.0.0.1",
      "allow 127.0.0.1",
      `keyfile ${keys}`,
      `ntsserverkey ${cert.key}`,
      `ntsservercert ${cert.cert}`,
      `ntsport ${kePort}`,
      "ntsdumpdir DIR",
    ]);
    const ref = await startChronyd({ port: refPort, lines: [src] });
    // chronyd clients of horae: plain and with a MAC
    const line = `server 127.0.0.1 port ${ourPort} iburst minpoll 0 maxpoll 0 extfield F323`;
    const c1 = await startChronyd({ lines: [line] });
    const c2 = await startChronyd({ lines: [`keyfile ${keys}`, `${line} key 1`] });
    const c3 = await startChronyd({
      lines: [
        `server localhost port ${ourPort} iburst nts ntsport ${kePort} minpoll 0 maxpoll 0 extfield F323`,
        `ntstrustedcerts ${cert.cert}`,
      ],
      flags: ["-4"],
    });
    // horae as a client of chronyd 4.3
    const h2 = await startHorae([
      `server 127.0.0.1 port ${refPort} iburst minpoll 0 maxpoll 0 extfield F323`,
    ]);
    try {
      await until(
        "chronyd clients of horae synchronised with its finer root delay",
        async () =>
          (await rootDelayAgrees(c1.socket, horae.socket)) &&
          (await rootDelayAgrees(c2.socket, horae.socket)) &&
          (await rootDelayAgrees(c3.socket, horae.socket)),
      );
      assert.match(await chronyc(c2.socket, "ntpdata"), /Authenticated\s*: Yes/);
      assert.match(await chronyc(c3.socket, "ntpdata"), /Authenticated\s*: Yes/);
      const synced = async (socket: string) =>
        field(await chronyc(socket, "tracking"), "Stratum") === "3";
      for (const c of [c1, c2, c3]) {
        await until("chronyd client at stratum 3", () => synced(c.socket));
      }
      await until(
        "horae synchronised to chronyd with its finer root delay",
        () => rootDelayAgrees(h2.socket, ref.socket),
      );
      await until("horae client at stratum 3", () => synced(h2.socket));
    } finally {
      await h2.stop();
      await c3.stop();
      await c2.stop();
      await c1.stop();
      await ref.stop();
      await horae.stop();
      await fake.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
