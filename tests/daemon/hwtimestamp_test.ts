import assert from "node:assert/strict";
import { holdKernelStamps } from "../io/kernel_stamps.ts";
import {
  checkHwTimestamping,
  chooseRxFilter,
  enabledMessage,
  hasHardwareTimestamping,
  type HwBackend,
  type HwDirective,
  HwTimestamping,
  interfaceNames,
  SYSTEM_HW_BACKEND,
} from "../../lib/daemon/hwtimestamp.ts";
import {
  HWTSTAMP,
  L,
  PTP,
  PTP_SYS_OFFSET_PRECISE_LAYOUT,
  SCM_TIMESTAMPING_PKTINFO,
} from "../../ffi/layout.ts";
import { MsgArena } from "../../ffi/msg_arena.ts";
import { stampedFrame } from "../../lib/clock/hwclock.ts";
import { parseCommandLine } from "../../lib/conf/parse.ts";
import { DeviceError } from "../../lib/refclock/device.ts";
import { writeClockTime } from "../../lib/refclock/phc.ts";
import { FakeDevice } from "../refclock/fake_device.ts";
import { measurementSources, pickRxTime } from "../../lib/daemon/client_io.ts";
import {
  type HwTxTimestampCallback,
  type PacketCallback,
  type SockAddr,
  type TxTimestampCallback,
  UdpSocket,
} from "../../lib/io/udp.ts";
import { PtpPort, type PtpSocket } from "../../lib/io/ptp_port.ts";
import { decodeNtpOverPtp, encodeNtpOverPtp } from "../../lib/ntp/ptp.ts";
import { ClientLog } from "../../lib/ntp/clientlog.ts";
import { isOsError } from "../../lib/io/os_error.ts";
import { NtpServerSocket } from "../../lib/io/ntp_server.ts";
import { NtpServer, unsynchronisedReference } from "../../lib/ntp/server.ts";
import { readNtp64, type Timestamp, writeNtp64 } from "../../lib/time/timestamp.ts";

const hw = (iface: string, line: number): HwDirective => ({
  name: "hwtimestamp",
  args: [iface],
  file: "c.conf",
  line,
});
const capable = new Set(["ptp0"]);
const has = (n: string) => capable.has(n);

Deno.test("hwtimestamp: a named interface without it is fatal, as chronyd", () => {
  const r = checkHwTimestamping([hw("*", 1), hw("eth0", 2)], has, () => ["eth0", "lo"]);
  assert.equal(r.fatal, "Could not enable HW timestamping on eth0");
  assert.deepEqual(r.unsupported, []);
});

Deno.test("hwtimestamp *: interfaces without it are passed over silently", () => {
  const r = checkHwTimestamping([hw("*", 1)], has, () => ["eth0", "lo"]);
  assert.deepEqual(r, { fatal: null, unsupported: [] });
});

Deno.test("hwtimestamp on an interface that has it passes the start-up check", () => {
  const all = checkHwTimestamping([hw("*", 1)], has, () => ["eth0", "ptp0"]);
  assert.deepEqual(all, { fatal: null, unsupported: [] });
  const named = checkHwTimestamping([hw("ptp0", 3)], has, () => []);
  assert.deepEqual(named, { fatal: null, unsupported: [] });
});

Deno.test("the ethtool probe: loopback has no hardware timestamping, a missing interface neither", () => {
  assert.ok(interfaceNames().includes("lo"));
  assert.equal(hasHardwareTimestamping("lo"), false);
  assert.equal(hasHardwareTimestamping("horae-nosuch0"), false);
});

// ---------------------------------------------------------------------------
// Enabling through an injected back-end with recorded ETHTOOL_GET_TS_INFO answers

const T0 = 1_796_421_600_000_000_000n;
/** igb-like: hardware and software TX/RX stamps, raw hardware clock; TX off/on; filters none, all. */
const IGB = { soTimestamping: 0x5f, phcIndex: 0, txTypes: 0b11, rxFilters: 0b11 };
/** A NIC that stamps only PTP events: filters none, PTP v2 L4 event, PTP v2 event. */
const PTP_ONLY = {
  soTimestamping: 0x5f,
  phcIndex: 1,
  txTypes: 0b11,
  rxFilters: 1 | (1 << 6) | (1 << 12),
};
/** virtio_net: software stamps only, no PHC. */
const VIRTIO = { soTimestamping: 0x1a, phcIndex: -1, txTypes: 0, rxFilters: 0 };

function backend(
  now: () => bigint,
  setConfigError?: number,
  linkSpeed?: (name: string) => number | null,
) {
  const applied: [string, number, number][] = [];
  const phcs = new Map<string, FakeDevice>();
  const b: HwBackend = {
    ...(linkSpeed ? { linkSpeed } : {}),
    interfaces: () => ["eth0", "eth1", "eth2", "lo"],
    tsInfo: (n) =>
      ({ eth0: IGB, eth1: PTP_ONLY, eth2: VIRTIO } as Record<string, typeof IGB>)[n] ?? null,
    ifindex: (n) => ({ lo: 1, eth0: 2, eth1: 3, eth2: 4 } as Record<string, number>)[n] ?? null,
    setConfig: (n, tx, rx) => {
      if (setConfigError !== undefined) {
        throw new DeviceError("ioctl SIOCSHWTSTAMP", setConfigError, n);
      }
      applied.push([n, tx, rx]);
      return { txType: tx, rxFilter: rx };
    },
    openPhc: (path) => {
      // a free-running PHC: 37 s ahead, gaining 12.5 ppm; precise cross timestamps
      const d = new FakeDevice(path, {
        [PTP.SYS_OFFSET_PRECISE]: (a) => {
          const v = new DataView(a!.buffer, a!.byteOffset);
          const sys = now();
          writeClockTime(v, PTP_SYS_OFFSET_PRECISE_LAYOUT.device, phcAt(sys));
          writeClockTime(v, PTP_SYS_OFFSET_PRECISE_LAYOUT.sysRealtime, sys);
          return 0;
        },
      });
      phcs.set(path, d);
      return d;
    },
  };
  return { b, applied, phcs };
}

function phcAt(sys: bigint): bigint {
  return sys + 37_000_000_000n + ((sys - T0) * 125n) / 10_000_000n;
}

function configs(lines: string[]) {
  const p = parseCommandLine(lines);
  assert.deepEqual(p.errors, []);
  return p.config.hwTimestamps;
}

Deno.test("hwtimestamp rx filters: the most specific for NTP by default, or as asked", () => {
  assert.equal(chooseRxFilter(undefined, IGB.rxFilters), HWTSTAMP.FILTER_ALL);
  assert.equal(chooseRxFilter(undefined, 1 | (1 << 15) | 2), HWTSTAMP.FILTER_NTP_ALL);
  assert.equal(chooseRxFilter(undefined, PTP_ONLY.rxFilters), HWTSTAMP.FILTER_NONE);
  assert.equal(chooseRxFilter("ptp", PTP_ONLY.rxFilters), HWTSTAMP.FILTER_PTP_V2_L4_EVENT);
  assert.equal(chooseRxFilter("ptp", 1 | (1 << 12)), HWTSTAMP.FILTER_PTP_V2_EVENT);
  // no PTP filter: TX stamps only, as chronyd (not ALL)
  assert.equal(chooseRxFilter("ptp", IGB.rxFilters), HWTSTAMP.FILTER_NONE);
  assert.equal(chooseRxFilter("all", PTP_ONLY.rxFilters), null);
  assert.equal(chooseRxFilter("ntp", IGB.rxFilters), HWTSTAMP.FILTER_ALL);
  assert.equal(chooseRxFilter("none", 0), HWTSTAMP.FILTER_NONE);
});

Deno.test("hwtimestamp *: every capable interface set up (SIOCSHWTSTAMP, PHC), the rest passed over", async () => {
  const t = backend(() => T0);
  const { hw, fatal } = HwTimestamping.enable(configs(["hwtimestamp *"]), T0, t.b);
  assert.equal(fatal, null);
  assert.deepEqual(hw.interfaces.map((i) => [i.name, i.ifindex, i.rxFilter]), [
    ["eth0", 2, HWTSTAMP.FILTER_ALL],
    ["eth1", 3, HWTSTAMP.FILTER_NONE],
  ]);
  assert.deepEqual(t.applied, [
    ["eth0", HWTSTAMP.TX_ON, HWTSTAMP.FILTER_ALL],
    ["eth1", HWTSTAMP.TX_ON, HWTSTAMP.FILTER_NONE],
  ]);
  assert.deepEqual([...t.phcs.keys()], ["/dev/ptp0", "/dev/ptp1"]);
  await hw.close();
  assert.ok([...t.phcs.values()].every((d) => d.closed));
});

Deno.test("hwtimestamp NAME: no hardware, an unsupported filter or a refused SIOCSHWTSTAMP is fatal", () => {
  const t = backend(() => T0);
  assert.equal(
    HwTimestamping.enable(configs(["hwtimestamp eth2"]), T0, t.b).fatal,
    "Could not enable HW timestamping on eth2",
  );
  assert.equal(
    HwTimestamping.enable(configs(["hwtimestamp eth1 rxfilter all"]), T0, t.b).fatal,
    "Could not enable HW timestamping on eth1",
  );
  assert.equal(
    HwTimestamping.enable(configs(["hwtimestamp nosuch9"]), T0, t.b).fatal,
    "Could not enable HW timestamping on nosuch9",
  );
  const eperm = backend(() => T0, 1);
  assert.equal(
    HwTimestamping.enable(configs(["hwtimestamp eth0"]), T0, eperm.b).fatal,
    "Could not enable HW timestamping on eth0",
  );
  // `*` with a refused SIOCSHWTSTAMP: silently nothing
  const all = HwTimestamping.enable(configs(["hwtimestamp *"]), T0, eperm.b);
  assert.equal(all.fatal, null);
  assert.equal(all.hw.interfaces.length, 0);
});

Deno.test("hwtimestamp: a refused SIOCSHWTSTAMP is fine when SIOCGHWTSTAMP shows it already set so", async () => {
  // ptp4l configured eth0 with TX on and filter ALL; we lack CAP_NET_ADMIN (EPERM)
  const t = backend(() => T0, 1);
  const current = new Map<string, { txType: number; rxFilter: number }>([
    ["eth0", { txType: HWTSTAMP.TX_ON, rxFilter: HWTSTAMP.FILTER_ALL }],
  ]);
  t.b.getConfig = (n) => current.get(n) ?? null;
  const ok = HwTimestamping.enable(configs(["hwtimestamp eth0"]), T0, t.b);
  assert.equal(ok.fatal, null);
  assert.deepEqual(ok.hw.interfaces.map(enabledMessage), ["Enabled HW timestamping on eth0"]);
  await ok.hw.close();
  // configured otherwise (filter NONE where we want ALL): still fatal for a named interface
  current.set("eth0", { txType: HWTSTAMP.TX_ON, rxFilter: HWTSTAMP.FILTER_NONE });
  const bad = HwTimestamping.enable(configs(["hwtimestamp eth0"]), T0, t.b);
  assert.equal(bad.fatal, "Could not enable HW timestamping on eth0");
  // rxfilter ptp on a NIC without PTP filters: TX only, said at start-up as chronyd does
  const tx = backend(() => T0);
  const ptp = HwTimestamping.enable(configs(["hwtimestamp eth0 rxfilter ptp"]), T0, tx.b);
  assert.deepEqual(tx.applied, [["eth0", HWTSTAMP.TX_ON, HWTSTAMP.FILTER_NONE]]);
  assert.deepEqual(ptp.hw.interfaces.map(enabledMessage), [
    "Enabled HW timestamping (TX only) on eth0",
  ]);
  await ptp.hw.close();
});

Deno.test("hwtimestamp: PHC readings every 2^poll s, then RX/TX stamps converted with rxcomp/txcomp", async () => {
  let now = T0;
  const t = backend(() => now);
  const { hw } = HwTimestamping.enable(
    configs([
      "hwtimestamp eth0 minpoll -2 maxpoll 2 minsamples 3 rxcomp 645e-9 txcomp 300e-9 precision 50e-9",
    ]),
    now,
    t.b,
  );
  const eth0 = hw.interfaces[0]!;
  assert.equal(eth0.config.minpoll, -2);
  assert.equal(hw.poll(now), T0 + 250_000_000n);
  assert.equal(hw.convertRx(2, phcAt(now)), null); // one reading < minsamples 3
  for (let i = 0; i < 6; i++) {
    now = hw.poll(now)!;
    hw.poll(now);
  }
  assert.ok(eth0.clock.samples >= 3);
  assert.ok(eth0.clock.poll > -2, "the interval grew while the PHC behaved");
  const sys = now + 100_000_000n;
  const rx = hw.convertRx(2, phcAt(sys))!;
  assert.ok(Math.abs(Number(rx.time - (sys - 645n))) <= 2, `rx off by ${rx.time - sys + 645n} ns`);
  assert.ok(rx.err >= 50e-9 && rx.err < 60e-9);
  const tx = hw.convertTx(2, phcAt(sys))!;
  assert.ok(Math.abs(Number(tx.time - (sys + 300n))) <= 2);
  assert.equal(hw.convertRx(4, phcAt(sys)), null); // eth2: not set up, the kernel stamp is used
  assert.deepEqual(hw.counters, { rx: 1, tx: 1, failed: 2 });
  await hw.close();
});

Deno.test("hwtimestamp RX: a NIC stamp replaces the kernel's once the NIC clock is tracked", () => {
  let now = T0;
  const t = backend(() => now);
  const { hw } = HwTimestamping.enable(configs(["hwtimestamp eth0 rxcomp 100e-9"]), now, t.b);
  const kernel = T0 + 5_000_000_000n + 7_300n; // the kernel stamped 7.3 µs after the NIC
  const nic = phcAt(T0 + 5_000_000_000n);
  assert.deepEqual(pickRxTime(hw, 2, kernel, nic), { time: kernel, hardware: false }); // no readings yet
  for (let i = 0; i < 3; i++) {
    hw.poll(now);
    now += 1_000_000_000n;
  }
  const r = pickRxTime(hw, 2, kernel, nic);
  assert.equal(r.hardware, true);
  assert.ok(Math.abs(Number(r.time - (T0 + 5_000_000_000n - 100n))) <= 2, `${r.time}`);
  assert.deepEqual(pickRxTime(hw, 2, kernel, null), { time: kernel, hardware: false });
  assert.deepEqual(pickRxTime(null, 2, kernel, nic), { time: kernel, hardware: false });
});

Deno.test("hwtimestamp RX: moved to the end of the frame at the link speed, refreshed after each reading", () => {
  let now = T0;
  // recorded ETHTOOL_GLINKSETTINGS answers of eth0 after each PHC reading: the link renegotiated
  // from 1 Gb/s down to 100 Mb/s, then came back at 10 Gb/s; once the driver did not answer
  const speeds: (number | null)[] = [100, 100, 100, 10000, null];
  const asked: string[] = [];
  const t = backend(() => now, undefined, (n) => (asked.push(n), speeds.shift() ?? null));
  const { hw } = HwTimestamping.enable(configs(["hwtimestamp eth0 rxcomp 100e-9"]), now, t.b);
  const eth0 = hw.interfaces[0]!;
  assert.equal(eth0.linkSpeed, 1000); // assumed until the driver answers, as chronyd
  for (let i = 0; i < 3; i++) {
    hw.poll(now);
    now += 1_000_000_000n;
  }
  assert.deepEqual(asked, ["eth0", "eth0", "eth0"]);
  assert.equal(eth0.linkSpeed, 100);
  const sys = now + 100_000_000n;
  const ntp4 = { udpLength: 48, family: 4 } as const;
  const within = (got: bigint | undefined, want: bigint) =>
    assert.ok(got !== undefined && Math.abs(Number(got - want)) <= 2, `${got} vs ${want}`);
  // 100 Mb/s: 94 bytes take 7520 ns; rxcomp 100 ns subtracted after
  within(hw.convertRx(2, phcAt(sys), ntp4)?.time, sys + 7520n - 100n);
  within(hw.convertRx(2, phcAt(sys), { udpLength: 48, family: 6 })?.time, sys + 9120n - 100n);
  within(hw.convertRx(2, phcAt(sys))?.time, sys - 100n); // no frame given: no correction
  within(hw.convertTx(2, phcAt(sys))?.time, sys); // TX stamps are never moved
  hw.poll(now);
  now += 2_000_000_000n;
  hw.poll(now);
  assert.equal(eth0.linkSpeed, 10000);
  within(hw.convertRx(2, phcAt(sys), ntp4)?.time, sys + 75n - 100n);
  now += 4_000_000_000n;
  hw.poll(now);
  assert.equal(eth0.linkSpeed, 10000); // no answer: the last speed stays
  // through the client's choice of stamp too
  const r = pickRxTime(hw, 2, sys + 9_000n, phcAt(sys), { udpLength: 228, family: 4 });
  assert.equal(r.hardware, true);
  within(r.time, sys + 219n - 100n);
});

Deno.test("the link speed of this host's interfaces through ETHTOOL_GLINKSETTINGS/GSET, as sysfs reports it", () => {
  for (const name of interfaceNames()) {
    let sysfs: number | null;
    try {
      sysfs = Number(Deno.readTextFileSync(`/sys/class/net/${name}/speed`).trim());
    } catch (e) {
      if (!isOsError(e)) throw e;
      sysfs = null; // EINVAL: no speed (lo, ifb: no ethtool answer; a link down: unknown)
    }
    const got = SYSTEM_HW_BACKEND.linkSpeed!(name);
    if (sysfs === null) assert.ok(got === null || got === 0, `${name}: ${got}`);
    else assert.equal(got, sysfs < 0 ? 0 : sysfs, name); // -1: SPEED_UNKNOWN (virtio here)
  }
  assert.equal(SYSTEM_HW_BACKEND.linkSpeed!("horae-nosuch0"), null);
});

Deno.test("a socket asking for hardware stamps on loopback gets kernel stamps and no NIC stamp", async () => {
  const held = await holdKernelStamps();
  const a = UdpSocket.open({ family: "ipv4", address: "127.0.0.1", hwTimestamping: true });
  const b = UdpSocket.open({ family: "ipv4", address: "127.0.0.1" });
  try {
    assert.equal(a.hwTimestamping, true);
    const got = new Promise<[boolean, Timestamp | null]>((res) =>
      a.onPacket((_b, _f, _rx, _l, kernel, hwRx) => res([kernel, hwRx]))
    );
    b.send(new Uint8Array(48), a.localAddress());
    const [kernel, hwRx] = await got;
    assert.equal(kernel, true);
    assert.equal(hwRx, null);
  } finally {
    await held.close();
    await a.close();
    await b.close();
  }
});

Deno.test("NTP server socket with hwtimestamp: without NIC stamps (loopback) it answers with kernel ones", async () => {
  const server = new NtpServer({ reference: unsynchronisedReference(-20) });
  let asked = 0;
  const hwStamps = {
    convertRx: () => (asked++, null),
    convertTx: () => (asked++, null),
  };
  const sock = NtpServerSocket.open(server, {
    family: "ipv4",
    address: "127.0.0.1",
    port: 0,
    hw: hwStamps,
  });
  const client = UdpSocket.open({ family: "ipv4", address: "127.0.0.1" });
  try {
    const reply = new Promise<Uint8Array>((res) => client.onPacket((b) => res(b.slice())));
    const req = new Uint8Array(48);
    req[0] = 0x23;
    client.send(req, sock.localAddress());
    const r = await reply;
    assert.equal(r[0]! & 7, 4);
    assert.deepEqual([sock.stats.hwRx, sock.stats.hwTx, asked], [0, 0, 0]);
  } finally {
    await client.close();
    await sock.close();
  }
});

// ---------------------------------------------------------------------------
// The PTP port's server side (`ptpport` with `hwtimestamp ... rxfilter ptp`) through an injected
// socket delivering recorded NIC stamps

/** A socket that records what the port sends and lets the test deliver datagrams and TX stamps. */
class FakePtpSocket implements PtpSocket {
  readonly hwTimestamping = true;
  readonly sent: { bytes: Uint8Array; to: SockAddr; txTimestamp: boolean; id: number }[] = [];
  packet: PacketCallback | null = null;
  tx: TxTimestampCallback | null = null;
  hwTx: HwTxTimestampCallback | null = null;
  #id = 0;
  onPacket(cb: PacketCallback): void {
    this.packet = cb;
  }
  onTxTimestamp(cb: TxTimestampCallback): void {
    this.tx = cb;
  }
  onHwTxTimestamp(cb: HwTxTimestampCallback): void {
    this.hwTx = cb;
  }
  send(bytes: Uint8Array, to: SockAddr, o: { txTimestamp?: boolean } = {}): number | null {
    this.sent.push({
      bytes: bytes.slice(),
      to,
      txTimestamp: o.txTimestamp === true,
      id: ++this.#id,
    });
    return this.#id;
  }
  localAddress(): SockAddr {
    return { family: "ipv4", address: "0.0.0.0", port: 319 };
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

Deno.test("ptpport server with hwtimestamp: NIC RX stamps of requests, the NIC TX stamp of an interleaved reply", async () => {
  let now = T0;
  const t = backend(() => now);
  const { hw } = HwTimestamping.enable(
    configs(["hwtimestamp eth0 rxfilter all txcomp 300e-9"]),
    now,
    t.b,
  );
  for (let i = 0; i < 3; i++) {
    hw.poll(now);
    now += 1_000_000_000n;
  }
  const fake = new FakePtpSocket();
  const server = new NtpServer({
    reference: unsynchronisedReference(-20),
    clientLog: new ClientLog({ seed: 3, random: () => 0 }),
  });
  const port = PtpPort.open({
    port: 319,
    domain: 123,
    server: null,
    families: ["ipv4"],
    hwTimestamping: true,
    openSocket: () => fake,
  });
  port.setServer(server, hw);
  const client: SockAddr = { family: "ipv4", address: "192.0.2.10", port: 319 };
  const local = { address: "192.0.2.1", ifindex: 2 };
  /** A client request received by the NIC at `sys` (the kernel stamped it 9 µs later). */
  const request = (sys: bigint, origin: bigint, receive: bigint) => {
    const ntp = new Uint8Array(48);
    const v = new DataView(ntp.buffer);
    v.setUint8(0, 0x23);
    if (origin !== 0n) writeNtp64(v, 24, origin);
    if (receive !== 0n) writeNtp64(v, 32, receive);
    writeNtp64(v, 40, sys - 50_000n);
    fake.packet!(encodeNtpOverPtp(ntp, 123), client, sys + 9_000n, local, true, phcAt(sys));
    const out = decodeNtpOverPtp(fake.sent.at(-1)!.bytes, 123)!;
    return new DataView(out.buffer, out.byteOffset, out.byteLength);
  };
  const near = (got: Timestamp | null, want: bigint, what: string) =>
    assert.ok(got !== null && Math.abs(Number(got - want)) <= 2, `${what}: ${got} vs ${want}`);
  // 1: basic. RX time = the NIC's stamp moved by 142 bytes (PTP-wrapped NTP over IPv4) at 1 Gb/s
  const sys1 = now + 100_000_000n;
  const r1 = request(sys1, 0n, 0n);
  near(readNtp64(r1, 32, sys1), sys1 + 1136n, "reply 1 receive");
  assert.equal(fake.sent.at(-1)!.txTimestamp, false); // basic: transmit written at send time
  // 2: interleaved (origin = our receive time): a TX stamp is asked for its reply
  const sys2 = sys1 + 1_000_000_000n;
  const r2 = request(sys2, readNtp64(r1, 32, sys1)!, sys1 + 200_000n);
  near(readNtp64(r2, 32, sys2), sys2 + 1136n, "reply 2 receive");
  near(readNtp64(r2, 24, sys2), sys1 + 200_000n, "reply 2 origin = the client's receive");
  const sent2 = fake.sent.at(-1)!;
  assert.equal(sent2.txTimestamp, true);
  // the kernel's TX stamp, then the NIC's (it left eth0 40 µs after the request arrived)
  const tx2 = sys2 + 40_000n;
  fake.tx!(sent2.id, tx2 + 6_000n);
  fake.hwTx!(sent2.id, phcAt(tx2), 2);
  // 3: interleaved again: its transmit field is reply 2's NIC TX stamp, txcomp added
  const sys3 = sys2 + 1_000_000_000n;
  const r3 = request(sys3, readNtp64(r2, 32, sys2)!, sys2 + 300_000n);
  near(readNtp64(r3, 40, sys3), tx2 + 300n, "reply 3 transmit = reply 2's NIC TX stamp");
  assert.deepEqual([port.hwRx, port.hwTx, port.txTimestamps, port.answered], [3, 1, 1, 3]);
  // on a bridge (IP_PKTINFO says br0, index 7) the kernel names the stamping NIC (eth0, 2) and the
  // VLAN-tagged frame's length: 146 + FCS 4 bytes = 1200 ns at 1 Gb/s
  const sys4 = sys3 + 1_000_000_000n;
  const ntp = new Uint8Array(48);
  ntp[0] = 0x23;
  const bridged = { address: "192.0.2.1", ifindex: 7, hwIfindex: 2, l2Length: 146 };
  fake.packet!(encodeNtpOverPtp(ntp, 123), client, sys4 + 9_000n, bridged, true, phcAt(sys4));
  const r4 = decodeNtpOverPtp(fake.sent.at(-1)!.bytes, 123)!;
  near(readNtp64(new DataView(r4.buffer, r4.byteOffset), 32, sys4), sys4 + 1200n, "bridged");
  assert.equal(port.hwRx, 4);
  // a TX stamp of a send that is not one of the server's goes to the client side
  const got: number[] = [];
  port.onTxTimestamp((id) => got.push(id), (id) => got.push(-id));
  fake.tx!(999, tx2);
  fake.hwTx!(999, phcAt(tx2), 2);
  assert.deepEqual(got, [999, -999]);
  await port.close();
  await hw.close();
});

Deno.test("recorded RX cmsgs of a NIC-stamped datagram on a bridge: NIC stamp, stamping NIC, frame length", () => {
  // as recvmmsg writes them with SO_TIMESTAMPING RX_SOFTWARE|RAW_HARDWARE|OPT_PKTINFO and IP_PKTINFO
  const ctl = new Uint8Array(64 + 32 + 32);
  const v = new DataView(ctl.buffer);
  const cmsg = (at: number, len: number, level: number, type: number) => {
    v.setBigUint64(at, BigInt(len), true);
    v.setInt32(at + 8, level, true);
    v.setInt32(at + 12, type, true);
    return at + 16;
  };
  let d = cmsg(0, 16 + 48, L.SOL_SOCKET, L.SO_TIMESTAMPING); // struct scm_timestamping
  v.setBigInt64(d, 1_796_421_605n, true);
  v.setBigInt64(d + 8, 100_009_000n, true); // ts[0]: the kernel's
  v.setBigInt64(d + 32, 1_796_421_642n, true);
  v.setBigInt64(d + 40, 100_000_250n, true); // ts[2]: the NIC's
  d = cmsg(64, 16 + 16, L.SOL_SOCKET, SCM_TIMESTAMPING_PKTINFO); // struct scm_ts_pktinfo
  v.setUint32(d, 2, true); // eth0
  v.setUint32(d + 4, 94, true);
  d = cmsg(96, 16 + 12, L.SOL_IP, L.IP_PKTINFO); // struct in_pktinfo: br0
  v.setInt32(d, 7, true);
  ctl.set([192, 0, 2, 1], d + 8);
  const arena = new MsgArena({ batch: 2, packetSize: 256 });
  arena.parseRecordedControl(1, ctl);
  assert.equal(arena.rxHwTimestamp(1), 1_796_421_642_100_000_250n);
  assert.equal(arena.rxTimestamp(1), 1_796_421_605_100_009_000n);
  assert.deepEqual([arena.localIfindex[1], arena.rxHwIfindex[1], arena.rxL2Length[1]], [7, 2, 94]);
  const s = stampedFrame(
    { ifindex: arena.localIfindex[1]!, hwIfindex: arena.rxHwIfindex[1]!, l2Length: 94 },
    48,
    4,
  );
  assert.deepEqual(s, { ifindex: 2, frame: { udpLength: 48, family: 4, l2Length: 94 } });
  // without SCM_TIMESTAMPING_PKTINFO: the arrival interface and the usual headers
  arena.parseRecordedControl(1, ctl.subarray(0, 64));
  assert.deepEqual([arena.rxHwIfindex[1], arena.rxL2Length[1]], [0, 0]);
  assert.deepEqual(stampedFrame({ ifindex: 7, hwIfindex: 0, l2Length: 0 }, 48, 6), {
    ifindex: 7,
    frame: { udpLength: 48, family: 6 },
  });
});

Deno.test("measurements.log names NIC stamps as ntpdata does (H), kernel ones otherwise", () => {
  const io = (tx: "K" | "H", rx: "K" | "H") => ({
    timestampSources: () => ({ tx, rx, hwTx: tx === "H" ? 1 : 0, hwRx: rx === "H" ? 1 : 0 }),
  });
  assert.deepEqual(measurementSources(io("H", "H"), 1), {
    txSource: "hardware",
    rxSource: "hardware",
  });
  assert.deepEqual(measurementSources(io("K", "H"), 1), {
    txSource: "kernel",
    rxSource: "hardware",
  });
  assert.deepEqual(measurementSources(null, 1), { txSource: "kernel", rxSource: "kernel" });
});
