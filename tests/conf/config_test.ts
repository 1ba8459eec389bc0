import assert from "node:assert/strict";
import { defaultConfig } from "../../lib/conf/config.ts";
import { parseConfig } from "../../lib/conf/parse.ts";

Deno.test("an empty file gives chrony's documented defaults", () => {
  const c = parseConfig("").config;
  assert.deepEqual(c, defaultConfig());
  assert.equal(c.makestep, undefined, "no makestep: the clock is never stepped");
  assert.equal(c.maxSlewRate, 83333.333);
  assert.equal(c.port, 123);
  assert.equal(c.cmdPort, 323);
  assert.equal(c.ntsPort, 4460);
  assert.equal(c.clientLogLimit, 524288);
  assert.equal(c.maxDistance, 3);
  assert.equal(c.maxJitter, 1);
  assert.equal(c.minSources, 1);
  assert.equal(c.reselectDist, 1e-4);
  assert.equal(c.stratumWeight, 1e-3);
  assert.equal(c.combineLimit, 3);
  assert.equal(c.corrTimeRatio, 3);
  assert.equal(c.maxUpdateSkew, 1000);
  assert.equal(c.maxDrift, 500000);
  assert.equal(c.maxClockError, 1);
  assert.equal(c.minSamples, 6);
  assert.equal(c.maxSamples, 0);
  assert.equal(c.logBanner, 32);
  assert.equal(c.logChange, 1);
  assert.equal(c.ntsRotate, 604800);
  assert.equal(c.ntsRefresh, 2419200);
  assert.equal(c.ntsProcesses, 1);
  assert.equal(c.maxNtsConnections, 100);
  assert.equal(c.leapSecMode, "system");
  assert.equal(c.authSelectMode, "mix");
  assert.equal(c.rateLimit, undefined, "no rate limiting unless configured");
  assert.equal(c.local, undefined);
  assert.deepEqual(c.bindCmdAddress, {
    ipv4: "127.0.0.1",
    ipv6: "::1",
    unixPath: "/run/chrony/chronyd.sock",
  });
});

Deno.test("a server without options has the defaults of chrony.conf(5)", () => {
  const [s] = parseConfig("server ntp.example.net").config.sources;
  assert.ok(s);
  assert.equal(s.minpoll, 6);
  assert.equal(s.maxpoll, 10);
  assert.equal(s.polltarget, 8);
  assert.equal(s.maxdelay, 3);
  assert.equal(s.maxdelaydevratio, 10);
  assert.equal(s.maxdelayratio, undefined);
  assert.equal(s.filter, undefined);
  assert.equal(s.minsamples, undefined);
  assert.equal(s.maxsamples, undefined);
  assert.equal(s.presend, undefined);
  assert.equal(s.version, undefined, "version is chosen automatically (4 unless a long-hash key)");
  assert.equal(s.port, 123);
  assert.equal(s.ntsport, 4460);
  assert.equal(s.certset, 0);
  assert.equal(s.offset, 0);
  assert.equal(s.key, undefined);
  assert.equal(s.iburst, false);
  assert.equal(s.nts, false);
});

Deno.test("a pool defaults to 4 sources", () => {
  const [p] = parseConfig("pool pool.ntp.org iburst").config.sources;
  assert.equal(p?.kind, "pool");
  assert.equal(p?.maxsources, 4);
});

Deno.test("local alone means stratum 10, distance 1, no orphan", () => {
  assert.deepEqual(parseConfig("local").config.local, {
    stratum: 10,
    distance: 1,
    activate: 0,
    orphan: false,
    waitSynced: 0,
    waitUnsynced: 0,
  });
});

Deno.test("local orphan waits 300 s unsynchronised by default only with 4.5+ options", () => {
  // chronyd 4.3 activates `local stratum 10 orphan` at once (4.8 after 300 s): 4.3's lines keep it
  const l = parseConfig("local stratum 10 orphan distance 0.1").config.local;
  assert.equal(l?.waitUnsynced, 0);
  assert.equal(l?.distance, 0.1);
  assert.equal(parseConfig("local orphan waitsynced 10").config.local?.waitUnsynced, 300);
  assert.equal(parseConfig("local orphan activate 0.5").config.local?.waitUnsynced, 300);
  assert.equal(parseConfig("local waitsynced 10").config.local?.waitUnsynced, 0);
  assert.equal(parseConfig("local orphan waitunsynced 60").config.local?.waitUnsynced, 60);
});

Deno.test("ratelimit alone means interval 3, burst 8, leak 2; ntsratelimit interval 6; cmdratelimit -4", () => {
  const c = parseConfig("ratelimit\nntsratelimit\ncmdratelimit").config;
  assert.deepEqual(c.rateLimit, { interval: 3, burst: 8, leak: 2, kod: 0 });
  assert.equal(c.ntsRateLimit?.interval, 6);
  assert.equal(c.cmdRateLimit?.interval, -4);
  assert.deepEqual(parseConfig("ratelimit interval 1 burst 16").config.rateLimit, {
    interval: 1,
    burst: 16,
    leak: 2,
    kod: 0,
  });
});

Deno.test("refclock options default as chrony.conf(5) says", () => {
  const [rc] = parseConfig("refclock SHM 0").config.refclocks;
  assert.equal(rc?.poll, 4);
  assert.equal(rc?.dpoll, 0);
  assert.equal(rc?.delay, 1e-9);
  assert.equal(rc?.filter, 64);
  assert.equal(rc?.rate, 1);
  assert.equal(rc?.maxlockage, 2);
  assert.equal(rc?.refid, undefined);
});

Deno.test("hwtimestamp maxpoll defaults to minpoll + 1", () => {
  const c = parseConfig("hwtimestamp eth0\nhwtimestamp eth1 minpoll -3 txcomp 300e-9").config;
  assert.equal(c.hwTimestamps[0]?.minpoll, 0);
  assert.equal(c.hwTimestamps[0]?.maxpoll, 1);
  assert.equal(c.hwTimestamps[1]?.maxpoll, -2);
  assert.equal(c.hwTimestamps[1]?.txcomp, 300e-9);
  assert.equal(c.hwTimestamps[0]?.precision, 100e-9);
});

Deno.test("the last of a repeated single-value directive wins", () => {
  const c = parseConfig("makestep 1 3\nmakestep 0.1 -1\nport 1123\nport 11123").config;
  assert.deepEqual(c.makestep, { threshold: 0.1, limit: -1 });
  assert.equal(c.port, 11123);
});
