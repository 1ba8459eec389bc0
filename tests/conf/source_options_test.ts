import assert from "node:assert/strict";
import { parseConfig } from "../../lib/conf/parse.ts";

function one(line: string) {
  const s = parseConfig(line).config.sources[0];
  assert.ok(s);
  return s;
}

Deno.test("every server option is parsed into its field", () => {
  const s = one(
    "server ntp.example.net iburst burst minpoll 4 maxpoll 8 prefer noselect trust require " +
      "key 10 maxdelay 0.3 maxdelayratio 2 maxdelaydevratio 5 maxdelayquant 0.2 mindelay 0.001 " +
      "asymmetry 0.25 offset -0.00005 minsamples 4 maxsamples 32 maxunreach 10 filter 3 " +
      "polltarget 16 presend 9 port 11123 version 3 offline auto_offline minstratum 3 xleave " +
      "nts ntsport 4461 certset 2 copy extfield F323 ipv4",
  );
  assert.deepEqual(
    [s.iburst, s.burst, s.prefer, s.noselect, s.trust, s.require, s.offline, s.autoOffline],
    [true, true, true, true, true, true, true, true],
  );
  assert.deepEqual([s.xleave, s.nts, s.copy, s.ipv4, s.ipv6], [true, true, true, true, false]);
  assert.deepEqual([s.minpoll, s.maxpoll, s.key], [4, 8, 10]);
  assert.deepEqual(
    [s.maxdelay, s.maxdelayratio, s.maxdelaydevratio, s.maxdelayquant, s.mindelay],
    [0.3, 2, 5, 0.2, 0.001],
  );
  assert.deepEqual([s.asymmetry, s.offset], [0.25, -0.00005]);
  assert.deepEqual([s.minsamples, s.maxsamples, s.maxunreach, s.filter], [4, 32, 10, 3]);
  assert.deepEqual([s.polltarget, s.presend, s.port, s.version], [16, 9, 11123, 3]);
  assert.deepEqual([s.minstratum, s.ntsport, s.certset], [3, 4461, 2]);
  assert.deepEqual(s.extfields, [0xf323]);
});

Deno.test("pool accepts maxsources; peer accepts the server options", () => {
  assert.equal(one("pool pool.ntp.org iburst maxsources 3").maxsources, 3);
  const p = one("peer 10.0.0.2 key 5 xleave");
  assert.equal(p.kind, "peer");
  assert.equal(p.key, 5);
});

Deno.test("extfield F324 is type 0xF324; 10A is rejected as chronyd 4.8 does", () => {
  assert.deepEqual(one("server a extfield F324 extfield f324").extfields, [0xf324]);
  assert.throws(() => one("server a extfield 10A"), /unsupported extfield/);
});

Deno.test("the key ID must be 1..2^32-1", () => {
  assert.equal(one("server a key 4294967295").key, 4294967295);
  assert.throws(() => one("server a key 4294967296"), /invalid key/);
  assert.throws(() => one("server a key -1"), /invalid key/);
});

Deno.test("a server needs a name", () => {
  assert.throws(() => parseConfig("server", { file: "f" }), /f:1: missing host name for server/);
});

Deno.test("asymmetry is clamped to -0.5..0.5", () => {
  assert.equal(one("server a asymmetry 0.9").asymmetry, 0.5);
});

Deno.test("refclock parameter options after ':' are split into name=value pairs", () => {
  const c = parseConfig(
    "refclock PHC /dev/ptp2:extpps:pin=1 width 0.2 poll 2\nrefclock pps /dev/pps1:clear refid GPS2 lock NMEA",
  ).config;
  const [phc, pps] = c.refclocks;
  assert.equal(phc?.driver, "PHC");
  assert.equal(phc?.parameter, "/dev/ptp2");
  assert.deepEqual(phc?.driverOptions, { extpps: "", pin: "1" });
  assert.equal(phc?.width, 0.2);
  assert.equal(pps?.driver, "PPS");
  assert.deepEqual(pps?.driverOptions, { clear: "" });
  assert.equal(pps?.refid, "GPS2");
  assert.equal(pps?.lock, "NMEA");
});

Deno.test("every refclock option is parsed", () => {
  const [rc] = parseConfig(
    "refclock SHM 0 poll 3 dpoll -2 refid GPS lock PPS rate 5 maxlockage 4 width 0.1 pps " +
      "offset 0.5 delay 0.2 stratum 1 precision 1e-6 maxdispersion 0.01 filter 16 prefer " +
      "noselect trust require tai local minsamples 4 maxsamples 8 maxunreach 50",
  ).config.refclocks;
  assert.ok(rc);
  assert.deepEqual(
    [rc.poll, rc.dpoll, rc.refid, rc.lock, rc.rate, rc.maxlockage, rc.width],
    [3, -2, "GPS", "PPS", 5, 4, 0.1],
  );
  assert.deepEqual(
    [rc.offset, rc.delay, rc.stratum, rc.precision, rc.maxdispersion, rc.filter],
    [0.5, 0.2, 1, 1e-6, 0.01, 16],
  );
  assert.deepEqual(
    [rc.pps, rc.prefer, rc.noselect, rc.trust, rc.require, rc.tai, rc.local],
    [true, true, true, true, true, true, true],
  );
  assert.deepEqual([rc.minsamples, rc.maxsamples, rc.maxunreach], [4, 8, 50]);
});

Deno.test("miscellaneous directives land in their fields", () => {
  const c = parseConfig(
    [
      "driftfile /var/lib/chrony/drift interval 600",
      "maxchange 1000 1 2",
      "initstepslew 30 a.example b.example",
      "ntstrustedcerts /etc/a.crt",
      "ntstrustedcerts 1 /etc/b.crt",
      "ntsserverkey /k1",
      "ntsservercert /c1",
      "ntsserverkey /k2",
      "ntsservercert /c2",
      "bindcmdaddress /var/run/chrony/chronyd.sock",
      "bindcmdaddress 0.0.0.0",
      "bindaddress ::1",
      "broadcast 64 192.168.2.255 12123",
      "broadcast 32 192.168.1.255",
      "smoothtime 400 0.001024 leaponly",
      "tempcomp /sys/temp 30 26000 0.0 0.000183 0.0",
      "mailonchange root@localhost 0.5",
      "log measurements statistics tracking measurements",
      "opencommands sources tracking",
      "leapsecmode slew",
      "authselectmode require",
      "fallbackdrift 16 19",
    ].join("\n"),
  ).config;
  assert.deepEqual(c.driftFile, { path: "/var/lib/chrony/drift", interval: 600 });
  assert.deepEqual(c.maxChange, { offset: 1000, start: 1, ignore: 2 });
  assert.deepEqual(c.initstepslew, { threshold: 30, hosts: ["a.example", "b.example"] });
  assert.deepEqual(c.ntsTrustedCerts, [{ setId: 0, path: "/etc/a.crt" }, {
    setId: 1,
    path: "/etc/b.crt",
  }]);
  assert.deepEqual(c.ntsServerKeys, ["/k1", "/k2"]);
  assert.deepEqual(c.ntsServerCerts, ["/c1", "/c2"]);
  assert.deepEqual(c.bindCmdAddress, {
    ipv4: "0.0.0.0",
    ipv6: "::1",
    unixPath: "/var/run/chrony/chronyd.sock",
  });
  assert.equal(c.bindAddress.ipv6, "::1");
  assert.deepEqual(c.broadcasts.map((b) => [b.interval, b.address, b.port]), [
    [64, "192.168.2.255", 12123],
    [32, "192.168.1.255", 123],
  ]);
  assert.deepEqual(c.smoothTime, { maxFreq: 400, maxWander: 0.001024, leapOnly: true });
  assert.deepEqual(c.tempComp, {
    file: "/sys/temp",
    interval: 30,
    t0: 26000,
    k0: 0,
    k1: 0.000183,
    k2: 0,
  });
  assert.deepEqual(c.mailOnChange, { email: "root@localhost", threshold: 0.5 });
  assert.deepEqual(c.log, ["measurements", "statistics", "tracking"]);
  assert.deepEqual(c.openCommands, ["sources", "tracking"]);
  assert.equal(c.leapSecMode, "slew");
  assert.equal(c.authSelectMode, "require");
  assert.deepEqual(c.fallbackDrift, { min: 16, max: 19 });
});

Deno.test("options that do nothing in a peer directive are accepted with a warning", () => {
  const r = parseConfig("peer 10.0.0.2 iburst presend 9", { file: "f" });
  assert.equal(r.config.sources[0]?.iburst, true);
  assert.deepEqual(r.warnings.map((w) => w.message), [
    "iburst option has no effect in a peer directive",
    "presend option has no effect in a peer directive",
  ]);
});
