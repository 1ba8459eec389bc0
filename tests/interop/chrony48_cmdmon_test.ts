/**
 * chrony 4.8's chronyc against horae and against chronyd 4.8 with the same
 * configuration: every report and control command chronyc 4.8 has gets the
 * same answer from both (status line and text, digits masked, same exit
 * code), with and without `-e`. Covers the request kinds added after 4.3
 * (selectopts, offset, doffset's DOFFSET2, local's LOCAL3, serverstats'
 * SERVER_STATS4, ntpdata's NTP_DATA2).
 * @module
 */
import assert from "node:assert/strict";
import {
  CHRONYC48,
  CHRONYD48,
  freePort,
  haveChrony,
  haveChrony48,
  runCommand,
  startChronyd,
  startHorae,
} from "./harness.ts";

const have48 = haveChrony48();
const have = haveChrony() && have48;

/** Values differ between the daemons and between calls: mask digits and signs. */
const mask = (s: string) =>
  s.replace(/[0-9]+/g, "9").replace(/[+-](?=9)/g, "±").replace(/fast|slow/g, "fast")
    .replace(/ +/g, " ");

async function chronyc48(socket: string, args: string[]): Promise<string> {
  const r = await runCommand(CHRONYC48, ["-n", "-h", socket, ...args], { timeoutMs: 20_000 });
  return `${r.stdout}${r.stderr}[exit ${r.code}]`;
}

/** Report commands (no state change), compared with and without -e. */
const REPORTS = [
  "tracking",
  "sources",
  "sources -v",
  "sources -a",
  "sourcestats",
  "sourcestats -v",
  "selectdata",
  "selectdata -v",
  "selectdata -a",
  "authdata",
  "authdata -v",
  "ntpdata",
  "ntpdata 127.0.0.2",
  "activity",
  "serverstats",
  "clients",
  "clients -k",
  "clients -p 1",
  "smoothing",
  "rtcdata",
  "manual list",
  "sourcename 127.0.0.2",
  "sourcename 192.0.2.1",
  "accheck 127.0.0.1",
  "cmdaccheck 127.0.0.1",
  "-c tracking",
  "-c sources",
  "-c selectdata",
  "-c serverstats",
];

/** Control commands (run once each, in this order, against both daemons). */
const CONTROLS = [
  "selectopts 127.0.0.2 +prefer +trust",
  "selectopts 127.0.0.2 -trust +require",
  "selectopts 127.0.0.2 +noselect",
  "selectopts 127.0.0.2 -noselect",
  "selectopts 192.0.2.1 +prefer",
  "selectopts PPS +prefer",
  "selectopts 127.0.0.2 +bogus",
  "selectopts",
  "selectdata",
  "offset 127.0.0.2 0.25",
  "offset 127.0.0.2 -0.001",
  "offset 192.0.2.1 1",
  "offset PPS 0.1",
  "offset 127.0.0.2",
  "offset 127.0.0.2 x",
  "dfreq x",
  "doffset x",
  "local stratum 8 orphan distance 2 activate 0.5 waitsynced 100 waitunsynced 200",
  "local stratum 9",
  "local off",
  "local stratum 20",
  "maxupdateskew 100",
  "makestep 0.1 3",
  "reselect",
  "reselectdist 0.0001",
  "minpoll 127.0.0.2 5",
  "maxpoll 127.0.0.2 9",
  "maxdelay 127.0.0.2 0.5",
  "maxdelayratio 127.0.0.2 5",
  "maxdelaydevratio 127.0.0.2 5",
  "minstratum 127.0.0.2 3",
  "polltarget 127.0.0.2 10",
  "minpoll 192.0.2.1 5",
  "burst 2/4 127.0.0.2",
  "offline 127.0.0.2",
  "online 127.0.0.2",
  "onoffline",
  "refresh",
  "reload sources",
  "reset sources",
  "allow 10.0.0.0/8",
  "deny all 10.1",
  "cmdallow 127.0.0.1",
  "cmddeny 10.9.9.9",
  "deny 1.2.3.4/33",
  "accheck 10.1.2.3",
  "smoothtime reset",
  "smoothtime activate",
  "rtcdata",
  "trimrtc",
  "writertc",
  "cyclelogs",
  "dump",
  "rekey",
  "delete 192.0.2.77",
  "delete 127.0.0.3",
  "sources",
  "foo",
];

Deno.test({
  name: "chronyc 4.8 gets the same answers from horae as from chronyd 4.8",
  ignore: !have,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const port = freePort();
    const lines = [
      `server 127.0.0.2 port ${port}`,
      `server 127.0.0.3 port ${port} minpoll 4`,
      "local stratum 10",
    ];
    const ref = await startChronyd({ binary: CHRONYD48, lines });
    const horae = await startHorae(lines);
    const differ: string[] = [];
    let refLog = "", horaeLog = "";
    try {
      const compare = async (args: string[]) => {
        let mine = "", theirs = "";
        // a value may cross a width boundary between the calls: retry a few times
        for (let attempt = 0; attempt < 3; attempt++) {
          theirs = mask(await chronyc48(ref.socket, args));
          mine = mask(await chronyc48(horae.socket, args));
          if (mine === theirs) return;
        }
        differ.push(`## ${args.join(" ")}\n-- chronyd 4.8:\n${theirs}\n-- horae:\n${mine}`);
      };
      for (const r of REPORTS) {
        await compare(r.split(" "));
        await compare(["-e", ...r.split(" ")]);
      }
      for (const c of CONTROLS) await compare(c.split(" "));
      await compare(["-e", "-m", "tracking", "reselect", "sources"]);
      refLog = await Deno.readTextFile(`${ref.dir}/log`);
      // the last one: both stop
      await compare(["shutdown"]);
    } finally {
      horaeLog = await horae.stop();
      await ref.stop();
    }
    // chronyd 4.4+ logs what selectopts and offset changed
    const changes = (log: string) =>
      log.split("\n").map((l) => l.replace(/^\S+Z /, "")).filter((l) =>
        /^Source \S+ (selection options modified|new offset)/.test(l)
      );
    assert.ok(changes(refLog).length >= 6, refLog);
    assert.deepEqual(changes(horaeLog), changes(refLog));
    assert.deepEqual(differ, []);
  },
});

/**
 * dfreq and doffset (DFREQ and chronyc 4.8's DOFFSET2) reach the daemon's
 * frequency and offset corrections (lib/clock/reference.ts, h10's manual
 * time input branch): the same answers as chronyd 4.8.
 */
Deno.test({
  name: "chronyc 4.8 dfreq and doffset get the same answers from horae as from chronyd 4.8",
  ignore: !have,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const lines = ["local stratum 10"];
    const ref = await startChronyd({ binary: CHRONYD48, lines });
    const horae = await startHorae(lines);
    const out: [string, string, string][] = [];
    try {
      for (const c of ["dfreq 0.5", "dfreq -0.5", "doffset 0.001", "doffset -0.001"]) {
        const args = c.split(" ");
        out.push([
          c,
          mask(await chronyc48(ref.socket, args)),
          mask(await chronyc48(horae.socket, args)),
        ]);
      }
    } finally {
      await ref.stop();
      await horae.stop();
    }
    for (const [c, theirs, mine] of out) assert.equal(mine, theirs, c);
  },
});

Deno.test({
  name:
    "opencommands (chronyd 4.7+): over UDP chronyc 4.8 gets the same answers as from chronyd 4.8",
  ignore: !have,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const cmds = [
      "tracking",
      "sources",
      "sourcestats",
      "selectdata",
      "serverstats",
      "ntpdata 127.0.0.2",
      "authdata",
      "activity",
      "sourcename 127.0.0.2",
      "clients",
      "manual list",
      "smoothing",
      "rtcdata",
    ];
    for (const open of [null, "serverstats ntpdata selectdata", ""]) {
      const refPort = freePort(), horaePort = freePort();
      const lines = (port: number) => [
        `server 127.0.0.2 port ${freePort()}`,
        `cmdport ${port}`,
        "bindcmdaddress 127.0.0.1",
        ...(open === null ? [] : [`opencommands ${open}`]),
      ];
      const ref = await startChronyd({ binary: CHRONYD48, lines: lines(refPort) });
      const horae = await startHorae(lines(horaePort));
      try {
        for (const c of cmds) {
          const udp = (port: number) =>
            runCommand(CHRONYC48, ["-n", "-h", "127.0.0.1", "-p", String(port), ...c.split(" ")]);
          const [theirs, mine] = [await udp(refPort), await udp(horaePort)];
          assert.equal(
            mask(mine.stdout + mine.stderr),
            mask(theirs.stdout + theirs.stderr),
            `opencommands ${open}: ${c}`,
          );
        }
      } finally {
        await ref.stop();
        await horae.stop();
      }
    }
  },
});
