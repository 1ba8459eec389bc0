/**
 * DaemonBackend control requests against a real Engine on a simulated clock
 * (no sockets): add/duplicate/delete, mask matching, modify_*, access tables,
 * local, makestep settings, reselectdist, reset sources, manual list.
 */
import assert from "node:assert/strict";
import { type BackendServices, DaemonBackend } from "../../lib/daemon/cmdmon_backend.ts";
import type { DaemonState } from "../../lib/daemon/state.ts";
import { Engine, type EngineAction } from "../../lib/engine/engine.ts";
import { engineSpec } from "../../lib/engine/source_spec.ts";
import { SimClock } from "../../lib/clock/sim_clock.ts";
import { Reference } from "../../lib/clock/reference.ts";
import { ManualInput } from "../../lib/clock/manual.ts";
import { ReferenceDiscipline } from "../../lib/engine/discipline.ts";
import { AddressFilter } from "../../lib/ntp/addrfilt.ts";
import { unsynchronisedReference } from "../../lib/ntp/server.ts";
import { defaultConfig, type SourceConfig } from "../../lib/conf/config.ts";
import { parseCommandLine } from "../../lib/conf/parse.ts";
import { type AddSourceParams, AddSrcFlag, AddSrcType } from "../../lib/cmdmon/request.ts";
import { type CmdAddress, Status } from "../../lib/cmdmon/wire.ts";

const v4 = (address: string): CmdAddress => ({ family: "inet4", address });
const UNSPEC: CmdAddress = { family: "unspec" };

function setup() {
  const clock = new SimClock({ start: 0n, seed: 1 });
  const reference = new Reference(clock);
  const discipline = new ReferenceDiscipline(reference);
  const engine = new Engine({
    clock,
    discipline,
    randomBytes: (n) => new Uint8Array(n).fill(7),
  });
  const config = defaultConfig();
  const added: SourceConfig[] = [];
  const logged: string[] = [];
  const state = {
    config,
    clock,
    engine,
    reference,
    discipline,
    manual: new ManualInput(),
    saveDrift: () => {},
    io: { run: (_a: readonly EngineAction[]) => {}, localAddress: () => null },
    ntpAccess: new AddressFilter(),
    cmdAccess: new AddressFilter(),
    server: null,
    serverReference: unsynchronisedReference(-20),
    log: { warn: () => {}, info: (m: string) => logged.push(m) },
    sources: {
      lineOf: () => undefined,
      nts: () => undefined,
      keyAuth: () => undefined,
      remove: (id: number) => engine.removeSource(id),
      unresolved: () => 0,
    },
    keys: { reload: () => true },
    addSource: (sc: SourceConfig) => {
      added.push(sc);
      engine.addSource(engineSpec(sc, config, sc.name));
      return Promise.resolve(1);
    },
    shutdown: () => {},
    cycleLogs: () => {},
  } as unknown as DaemonState;
  engine.start();
  clock.onParameterChange((c) => state.manual.onClockChange(c));
  // the system as the backend sees it: sourcedir lines read are the test's
  const sourceDir: SourceConfig[] = [];
  const services: BackendServices = {
    now: () => clock.now(),
    realNow: () => clock.trueTime(),
    readSourceDirs: () => sourceDir.map((sc) => ({ ...sc })),
  };
  const backend = new DaemonBackend(state, services);
  return { backend, engine, state, added, clock, logged, sourceDir };
}

function addParams(name: string, over: Partial<AddSourceParams> = {}): AddSourceParams {
  return {
    type: AddSrcType.SERVER,
    name,
    port: 11123,
    minpoll: 0,
    maxpoll: 2,
    presendMinpoll: 0,
    minStratum: 0,
    pollTarget: 8,
    version: 4,
    maxSources: 4,
    minSamples: -1,
    maxSamples: -1,
    authkey: 0,
    ntsPort: 4460,
    maxDelay: 3,
    maxDelayRatio: 0,
    maxDelayDevRatio: 10,
    minDelay: 0,
    asymmetry: 0,
    offset: 0,
    flags: AddSrcFlag.ONLINE | AddSrcFlag.IBURST | AddSrcFlag.PREFER,
    filterLength: 0,
    certSet: 0,
    maxDelayQuant: 0,
    maxUnreach: 0,
    ...over,
  };
}

Deno.test("DaemonBackend: add (options from the request), duplicate, modify, delete", async () => {
  const { backend, engine, added } = setup();
  assert.equal(
    backend.control({ kind: "add_source", ...addParams("192.0.2.1") }),
    Status.SUCCESS,
  );
  await Promise.resolve();
  assert.equal(added[0]!.port, 11123);
  assert.equal(added[0]!.iburst, true);
  assert.equal(added[0]!.prefer, true);
  assert.equal(added[0]!.offline, false);
  assert.equal(
    backend.control({ kind: "add_source", ...addParams("192.0.2.1") }),
    Status.SOURCEALREADYKNOWN,
  );
  assert.equal(
    backend.control({ kind: "add_source", ...addParams("bad name") }),
    Status.INVALIDNAME,
  );
  const s = engine.sources[0]!;
  const ip = v4("192.0.2.1");
  assert.equal(
    backend.control({ kind: "modify_minpoll", address: ip, value: 3 }),
    Status.SUCCESS,
  );
  assert.equal(s.ntp.options.minpoll, 3);
  assert.equal(s.ntp.options.maxpoll, 3);
  backend.control({ kind: "modify_maxdelay", address: ip, value: 0.5 });
  assert.equal(s.ntp.options.maxdelay, 0.5);
  backend.control({ kind: "modify_polltarget", address: ip, value: 0 });
  assert.equal(s.ntp.options.polltarget, 1);
  assert.equal(
    backend.control({ kind: "modify_minstratum", address: v4("192.0.2.9"), value: 3 }),
    Status.NOSUCHSOURCE,
  );
  assert.equal(backend.control({ kind: "del_source", ip }), Status.SUCCESS);
  assert.equal(backend.control({ kind: "del_source", ip }), Status.NOSUCHSOURCE);
  assert.equal(backend.nSources(), 0);
});

Deno.test("DaemonBackend: online/offline by mask; none matched is NOSUCHSOURCE", async () => {
  const { backend, engine } = setup();
  backend.control({ kind: "add_source", ...addParams("192.0.2.1") });
  backend.control({ kind: "add_source", ...addParams("198.51.100.1") });
  await Promise.resolve();
  const off = (mask: CmdAddress, address: CmdAddress) =>
    backend.control({ kind: "offline", mask, address });
  assert.equal(off(v4("255.255.255.0"), v4("192.0.2.0")), Status.SUCCESS);
  assert.deepEqual(engine.sources.map((s) => s.ntp.online), [false, true]);
  assert.equal(off(v4("255.255.255.255"), v4("203.0.113.1")), Status.NOSUCHSOURCE);
  assert.equal(off(UNSPEC, UNSPEC), Status.SUCCESS);
  assert.deepEqual(engine.sources.map((s) => s.ntp.online), [false, false]);
  assert.equal(backend.control({ kind: "onoffline" }), Status.SUCCESS);
  assert.deepEqual(engine.sources.map((s) => s.ntp.online), [true, true]);
  assert.equal(
    setup().backend.control({
      kind: "burst",
      mask: UNSPEC,
      address: UNSPEC,
      nGoodSamples: 4,
      nTotalSamples: 8,
    }),
    Status.NOSUCHSOURCE,
  );
});

Deno.test("DaemonBackend: allow/deny/cmdallow tables, accheck, bad subnet", () => {
  const { backend } = setup();
  const c = (kind: "allow" | "deny" | "denyall" | "cmdallow", ip: CmdAddress, bits: number) =>
    backend.control({ kind, ip, subnetBits: bits });
  assert.equal(c("allow", v4("10.0.0.0"), 8), Status.SUCCESS);
  assert.equal(c("deny", v4("10.1.0.0"), 16), Status.SUCCESS);
  const check = (ip: string) => backend.control({ kind: "accheck", ip: v4(ip) });
  assert.equal(check("10.2.0.1"), Status.ACCESSALLOWED);
  assert.equal(check("10.1.0.1"), Status.ACCESSDENIED);
  assert.equal(c("denyall", v4("10.0.0.0"), 8), Status.SUCCESS);
  assert.equal(check("10.2.0.1"), Status.ACCESSDENIED);
  assert.equal(c("allow", v4("10.0.0.0"), 33), Status.BADSUBNET);
  assert.equal(c("cmdallow", UNSPEC, 0), Status.SUCCESS);
  assert.equal(
    backend.control({ kind: "cmdaccheck", ip: v4("203.0.113.5") }),
    Status.ACCESSALLOWED,
  );
  assert.equal(backend.control({ kind: "accheck", ip: UNSPEC }), Status.INVALIDAF);
});

Deno.test("DaemonBackend: local on/off, settings, statuses of facilities not built", () => {
  const { backend, state } = setup();
  const local = { kind: "local2" as const, onOff: 1, stratum: 5, distance: 1, orphan: 1 };
  assert.equal(backend.control(local), Status.SUCCESS);
  assert.equal(backend.tracking().stratum, 5);
  assert.deepEqual(state.serverReference.local, { stratum: 5, orphan: true, distance: 1 });
  backend.control({ ...local, onOff: 0 });
  assert.equal(backend.tracking().stratum, 0);
  assert.equal(state.serverReference.local, null);
  assert.equal(
    backend.control({ kind: "modify_makestep", limit: 3, threshold: 0.1 }),
    Status.SUCCESS,
  );
  assert.equal(backend.control({ kind: "modify_maxupdateskew", value: 100 }), Status.SUCCESS);
  assert.equal(backend.control({ kind: "reselectdistance", value: 1e-4 }), Status.SUCCESS);
  assert.equal(backend.control({ kind: "reselect" }), Status.SUCCESS);
  assert.equal(backend.control({ kind: "reset_sources" }), Status.SUCCESS);
  assert.equal(backend.control({ kind: "dump" }), Status.SUCCESS); // no dumpdir
  assert.equal(backend.control({ kind: "rekey" }), Status.SUCCESS);
  assert.equal(backend.control({ kind: "writertc" }), Status.NORTC);
  assert.equal(backend.control({ kind: "smoothtime", option: 0 }), Status.NOTENABLED);
  assert.deepEqual(backend.manualList(), []);
  assert.deepEqual(state.manual.list(), []);
});

Deno.test("DaemonBackend: manual on/off/list/delete/reset, settime, dfreq, doffset", () => {
  const { backend, state, clock, logged } = setup();
  const T = 1_800_000_000n * 1_000_000_000n;
  clock.setTrueTime(T);
  // without `manual`: settime is refused as chronyd refuses it
  assert.deepEqual(backend.settime(T), { status: Status.NOTENABLED });
  assert.equal(backend.control({ kind: "manual", option: 1 }), Status.SUCCESS);
  const r = backend.settime(clock.now() - 2_000_000_000n); // the clock is 2 s fast
  assert.ok(!("status" in r));
  assert.equal(r.offset, 2);
  assert.equal(r.dfreqPpm, 0);
  assert.deepEqual(logged, ["Making a slew of 2.000000"]);
  assert.equal(backend.tracking().lastOffset, 2);
  // within a second of the last sample: 500 Failure
  assert.deepEqual(backend.settime(clock.now()), { status: Status.FAILED });
  clock.advance(100);
  const r2 = backend.settime(clock.trueTime());
  assert.ok(!("status" in r2));
  // two samples: a frequency change, and the clock's new frequency in the reply
  assert.ok(r2.dfreqPpm !== 0);
  assert.equal(r2.newAfreqPpm, clock.readFrequency());
  assert.equal(state.manual.list().length, 2);
  assert.equal(backend.control({ kind: "manual_delete", index: 2 }), Status.BADSAMPLE);
  assert.equal(backend.control({ kind: "manual_delete", index: 0 }), Status.SUCCESS);
  assert.equal(state.manual.list().length, 1);
  assert.equal(backend.control({ kind: "manual", option: 2 }), Status.SUCCESS);
  assert.deepEqual(backend.manualList(), []);
  assert.equal(backend.control({ kind: "manual", option: 0 }), Status.SUCCESS);
  assert.deepEqual(backend.settime(T), { status: Status.NOTENABLED });
  const f = clock.readFrequency();
  assert.equal(backend.control({ kind: "dfreq", value: 10 }), Status.SUCCESS);
  assert.ok(Math.abs(clock.readFrequency() - (f + 10 * (1 - f * 1e-6))) < 1e-6);
  const before = clock.remainingCorrection();
  assert.equal(backend.control({ kind: "doffset2", value: 0.5 }), Status.SUCCESS);
  assert.ok(Math.abs(clock.remainingCorrection() - before - 0.5) < 1e-3);
  assert.ok(logged.includes("Accumulated delta freq of 10.000ppm"));
  assert.ok(logged.includes("Accumulated delta offset of 0.500000 seconds"));
});

Deno.test("DaemonBackend: ntpdata port from the NTS destination, local address from the IO layer", () => {
  const { backend, engine, state } = setup();
  const auth = {
    ready: () => false,
    signRequest: () => null,
    checkReply: () => "ok" as const,
    destination: () => ({ address: "192.0.2.7", port: 4123 }),
  };
  engine.addSource({ name: "ntp.example", address: "192.0.2.7", options: { port: 123 }, auth });
  engine.addSource({ name: "192.0.2.8", address: "192.0.2.8", options: { port: 11123 } });
  const io = state.io as unknown as { localAddress: (id: number) => string | null };
  io.localAddress = (id) => (id === 0 ? "192.0.2.100" : null);
  const a = backend.ntpData(v4("192.0.2.7"));
  assert.ok(!("status" in a));
  assert.equal(a.remotePort, 4123);
  assert.deepEqual(a.localAddress, v4("192.0.2.100"));
  // no reply yet: nothing to describe, as chronyd (version 0, mode and timestamping Invalid)
  assert.deepEqual([a.leap, a.version, a.mode, a.flags, a.txTssChar, a.rxTssChar], [
    0,
    0,
    0,
    0,
    0,
    0,
  ]);
  const b = backend.ntpData(v4("192.0.2.8"));
  assert.ok(!("status" in b));
  assert.equal(b.remotePort, 11123);
  assert.deepEqual(b.localAddress, UNSPEC);
  // selectdata's Auth column: Y for the authenticated source only
  const auths = [0, 1].map((i) => backend.selectData(i)).map((d) =>
    "status" in d ? -1 : d.authentication
  );
  assert.deepEqual(auths, [1, 0]);
});

Deno.test("DaemonBackend: chronyc 4.8 selectopts and offset change a source's options", async () => {
  const { backend, engine } = setup();
  backend.control({ kind: "add_source", ...addParams("192.0.2.1") }); // prefer
  await Promise.resolve();
  const s = engine.sources[0]!;
  const address = v4("192.0.2.1");
  const selectopts = (mask: number, options: number, a: CmdAddress = address, refId = 0) =>
    backend.control({ kind: "modify_selectopts", address: a, refId, mask, options });
  // +trust +require -prefer: mask in selectdata bits, values as add-source flags
  assert.equal(selectopts(2 | 4 | 8, AddSrcFlag.TRUST | AddSrcFlag.REQUIRE), Status.SUCCESS);
  assert.deepEqual(s.spec.select, { noselect: false, prefer: false, trust: true, require: true });
  assert.equal((backend.selectData(0) as { confOptions: number }).confOptions, 4 | 8);
  // bits outside the mask stay as they are
  assert.equal(selectopts(1, AddSrcFlag.NOSELECT | AddSrcFlag.PREFER), Status.SUCCESS);
  assert.deepEqual(s.spec.select, { noselect: true, prefer: false, trust: true, require: true });
  assert.equal(selectopts(1, 0, v4("192.0.2.9")), Status.NOSUCHSOURCE);
  assert.equal(selectopts(1, 0, UNSPEC, 0x50505300), Status.NOSUCHSOURCE); // no refclock PPS
  const offset = (value: number, a: CmdAddress = address) =>
    backend.control({ kind: "modify_offset", address: a, refId: 0, value });
  assert.equal(offset(0.25), Status.SUCCESS);
  assert.equal(s.ntp.options.offset, 0.25);
  assert.equal(offset(-1e-3), Status.SUCCESS);
  assert.equal(s.ntp.options.offset, -1e-3);
  assert.equal(offset(1, v4("198.51.100.1")), Status.NOSUCHSOURCE);
});

Deno.test("DaemonBackend: makestep under -x fails and logs 'Could not step system clock'", () => {
  const { backend, state } = setup();
  const logged: string[] = [];
  (state as unknown as { log: unknown }).log = {
    warn: (m: string) => logged.push(m),
    info: () => {},
  };
  (state as unknown as { options: unknown }).options = { noClockControl: true };
  assert.equal(backend.control({ kind: "makestep" }), Status.FAILED);
  assert.deepEqual(logged, ["Could not step system clock"]);
});

Deno.test("DaemonBackend: rtcdata/trimrtc/writertc go to the RTC tracker; 513 without one", () => {
  const { backend, state } = setup();
  assert.deepEqual(backend.rtcReport(), { status: Status.NORTC });
  assert.equal(backend.control({ kind: "trimrtc" }), Status.NORTC);
  const report = {
    refTime: 5n,
    nSamples: 3,
    nRuns: 2,
    spanSeconds: 128,
    rtcSecondsFast: 1.5,
    rtcGainRatePpm: 2,
  };
  const calls: string[] = [];
  let writable = true;
  let settable = true;
  state.rtc = {
    report: () => report,
    trim: () => (calls.push("trim"), settable),
    write: () => (calls.push("write"), writable),
    stop: () => Promise.resolve(),
  };
  assert.deepEqual(backend.rtcReport(), report);
  assert.equal(backend.control({ kind: "writertc" }), Status.SUCCESS);
  assert.equal(backend.control({ kind: "trimrtc" }), Status.SUCCESS);
  writable = false;
  settable = false;
  assert.equal(backend.control({ kind: "writertc" }), Status.FAILED);
  assert.equal(backend.control({ kind: "trimrtc" }), Status.FAILED);
  assert.deepEqual(calls, ["write", "trim", "write", "trim"]);
});

Deno.test("DaemonBackend: dump asks the daemon to write the histories (lib/daemon/dumps.ts)", () => {
  const { backend, state } = setup();
  let ok = true;
  let calls = 0;
  state.dumpHistories = () => (calls++, ok);
  assert.equal(backend.control({ kind: "dump" }), Status.SUCCESS); // no dumpdir: nothing to do
  assert.equal(calls, 0);
  state.config.dumpDir = "/var/lib/horae";
  assert.equal(backend.control({ kind: "dump" }), Status.SUCCESS);
  ok = false;
  assert.equal(backend.control({ kind: "dump" }), Status.FAILED);
  assert.equal(calls, 2);
});

Deno.test("DaemonBackend: reload sources adds the sourcedir lines the reader returns", async () => {
  const { backend, added, sourceDir } = setup();
  const sc = parseCommandLine(["server 192.0.2.44 iburst"]).config.sources[0]!;
  sourceDir.push({ ...sc, fromSourceDir: true });
  assert.equal(backend.control({ kind: "reload_sources" }), Status.SUCCESS);
  await Promise.resolve();
  assert.deepEqual(added.map((a) => a.name), ["192.0.2.44"]);
  // the same lines again: nothing new
  assert.equal(backend.control({ kind: "reload_sources" }), Status.SUCCESS);
  await Promise.resolve();
  assert.equal(added.length, 1);
  assert.equal(backend.nSources(), 1);
});
