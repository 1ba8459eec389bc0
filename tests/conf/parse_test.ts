import assert from "node:assert/strict";
import { ConfigError } from "../../lib/conf/config_error.ts";
import { parseCommandLine, parseConfig, parseSourceFile } from "../../lib/conf/parse.ts";
import { memFs } from "./mem_fs.ts";

function errorOf(text: string, file = "/etc/chrony.conf"): ConfigError {
  try {
    parseConfig(text, { file });
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  assert.fail(`no error for ${JSON.stringify(text)}`);
}

Deno.test("comments start with ! ; # or % after optional blanks; blank lines are skipped", () => {
  const r = parseConfig("# a\n  ; b\n\t! c\n% d\n\n   \nrtcsync\n");
  assert.deepEqual(r.directives.map((d) => [d.name, d.line]), [["rtcsync", 7]]);
  assert.equal(r.config.rtcSync, true);
});

Deno.test("directive names and option names are case-insensitive", () => {
  const r = parseConfig("SERVER ntp.example.net IBURST MinPoll 4\nRtcSync");
  assert.equal(r.config.sources[0]?.iburst, true);
  assert.equal(r.config.sources[0]?.minpoll, 4);
  assert.equal(r.config.rtcSync, true);
  assert.equal(r.directives[0]?.name, "server");
});

Deno.test("CRLF line ends and tabs are white space", () => {
  const r = parseConfig("server\ta.example\tiburst\r\nmakestep 1 3\r\n");
  assert.equal(r.config.sources[0]?.name, "a.example");
  assert.deepEqual(r.config.makestep, { threshold: 1, limit: 3 });
});

Deno.test("a misspelt directive is an error naming file and line", () => {
  const e = errorOf("server a\n\nservr b\n");
  assert.equal(e.file, "/etc/chrony.conf");
  assert.equal(e.line, 3);
  assert.equal(e.message, '/etc/chrony.conf:3: unknown directive "servr"');
});

Deno.test("bad values are errors with file:line and the value", () => {
  assert.equal(errorOf("server a minpoll x").message, '/etc/chrony.conf:1: invalid minpoll "x"');
  assert.equal(errorOf("server a minpoll").line, 1);
  assert.match(errorOf("server a foo").message, /:1: invalid server option "foo"/);
  assert.match(errorOf("server a key 0").message, /invalid key "0"/);
  assert.match(errorOf("makestep 1").message, /missing limit for makestep/);
  assert.match(errorOf("makestep x 3").message, /invalid threshold "x"/);
  assert.match(errorOf("makestep 1 3 4").message, /too many arguments for makestep/);
  assert.match(errorOf("driftfile").message, /missing file for driftfile/);
  assert.match(errorOf("rtcsync yes").message, /too many arguments for rtcsync/);
  assert.match(errorOf("log foo").message, /invalid log parameter "foo"/);
  assert.match(errorOf("log Measurements").message, /invalid log parameter/);
  assert.match(errorOf("leapsecmode smear").message, /invalid leapsecmode "smear"/);
  assert.match(errorOf("local stratum 16").message, /invalid stratum "16"/);
  assert.match(errorOf("local stratum 0").message, /invalid stratum/);
  assert.match(errorOf("allow 1.2.3.256").message, /invalid subnet "1.2.3.256"/);
  assert.match(errorOf("allow all all").message, /invalid subnet "all"|too many/);
  assert.match(errorOf("refclock SHM").message, /missing driver parameter/);
  assert.match(errorOf("refclock SHM 0 refid TOOLONG").message, /invalid refid "TOOLONG"/);
  assert.match(errorOf("refclock GPS 0").message, /unknown refclock driver "GPS"/);
  assert.match(errorOf("hwtimestamp eth0 rxfilter foo").message, /invalid rxfilter "foo"/);
  assert.match(errorOf("ratelimit foo 1").message, /invalid ratelimit option "foo"/);
  assert.match(errorOf("cmdratelimit kod 1").message, /invalid cmdratelimit option "kod"/);
  assert.match(errorOf("smoothtime 1").message, /missing max-wander/);
  assert.match(errorOf("bindaddress foo").message, /invalid address "foo"/);
  assert.match(errorOf("broadcast 64 1.2.3.255 123 4").message, /too many arguments/);
  assert.match(errorOf("server a extfield zz").message, /unsupported extfield "zz"/);
  assert.match(errorOf("port x").message, /invalid port "x"/);
  assert.match(errorOf("server a port 1x").message, /invalid port "1x"/);
  assert.match(errorOf("initstepslew x").message, /invalid step threshold "x"/);
});

Deno.test("the first bad line stops the parse", () => {
  const e = errorOf("servr a\nmakestep x 3\n");
  assert.equal(e.line, 1);
});

Deno.test("collectErrors reports every bad line and keeps the good ones", () => {
  const r = parseConfig("servr a\nserver b\nmakestep x 3\nrtcsync\n", {
    file: "f.conf",
    collectErrors: true,
  });
  assert.deepEqual(r.errors.map((e) => e.line), [1, 3]);
  assert.equal(r.config.sources.length, 1);
  assert.equal(r.config.rtcSync, true);
});

Deno.test("values out of a documented range are clamped with a warning, as chronyd accepts them", () => {
  const r = parseConfig("server a minpoll 30 maxpoll -9\npool p maxsources 20", { file: "f" });
  assert.equal(r.config.sources[0]?.minpoll, 24);
  assert.equal(r.config.sources[0]?.maxpoll, -7);
  assert.equal(r.config.sources[1]?.maxsources, 16);
  assert.deepEqual(r.warnings.map((w) => w.line), [1, 1, 2]);
  assert.match(r.warnings[0]?.message ?? "", /minpoll 30 out of range -7..24/);
});

Deno.test("obsolete directives are accepted with a warning", () => {
  const r = parseConfig("commandkey 1\ngeneratecommandkey\ndumponexit\n", { file: "f" });
  assert.equal(r.directives.length, 3);
  assert.match(r.warnings[0]?.message ?? "", /commandkey directive is no longer supported/);
  // chronyd logs these without file and line (with -p too)
  assert.equal(r.warnings[0]?.bare, true);
});

Deno.test("ntscachedir is the older name of ntsdumpdir", () => {
  assert.equal(parseConfig("ntscachedir /var/lib/chrony").config.ntsDumpDir, "/var/lib/chrony");
});

Deno.test("include reads every file matching the pattern, sorted, inline", () => {
  const fs = memFs({
    "/etc/chrony.d/b.conf": "makestep 2 3\n",
    "/etc/chrony.d/a.conf": "server a.example\n",
    "/etc/chrony.d/c.txt": "servr bad\n",
  });
  const r = parseConfig("pool p\ninclude /etc/chrony.d/*.conf\nrtcsync\n", { file: "/c", ...fs });
  assert.deepEqual(
    r.directives.map((d) => `${d.file}:${d.line} ${d.name}`),
    [
      "/c:1 pool",
      "/etc/chrony.d/a.conf:1 server",
      "/etc/chrony.d/b.conf:1 makestep",
      "/c:3 rtcsync",
    ],
  );
});

Deno.test("include of a missing file is an error at the include line; an empty match is nothing (chronyd 4.3)", () => {
  const fs = memFs({ "/etc/x/a.conf": "rtcsync\n" });
  assert.throws(
    () => parseConfig("\ninclude /etc/nope.conf", { file: "/c", ...fs }),
    (e) =>
      e instanceof ConfigError && e.line === 2 &&
      /could not open "\/etc\/nope.conf"/.test(e.message),
  );
  assert.deepEqual(parseConfig("include /etc/x/*.sources", { file: "/c", ...fs }).directives, []);
});

Deno.test("an error inside an included file names that file and its line", () => {
  const fs = memFs({ "/etc/inc.conf": "rtcsync\nmaxslewrate fast\n" });
  assert.throws(
    () => parseConfig("include /etc/inc.conf", { file: "/c", ...fs }),
    (e) => e instanceof ConfigError && e.message === '/etc/inc.conf:2: invalid maxslewrate "fast"',
  );
});

Deno.test("an include loop stops with an error instead of recursing forever", () => {
  const fs = memFs({ "/etc/loop.conf": "include /etc/loop.conf\n" });
  assert.throws(
    () => parseConfig("include /etc/loop.conf", { file: "/c", ...fs }),
    (e) => e instanceof ConfigError && /nested too deeply/.test(e.message),
  );
});

Deno.test("confdir includes *.conf of all its directories by name; an earlier directory wins", () => {
  const fs = memFs({
    "/etc/chrony.d/10-a.conf": "makestep 1 3\n",
    "/etc/chrony.d/20-b.conf": "maxdistance 5\n",
    "/run/chrony.d/20-b.conf": "maxdistance 9\n",
    "/run/chrony.d/05-c.conf": "rtcsync\n",
    "/run/chrony.d/notes.txt": "not config\n",
  });
  const r = parseConfig("confdir /etc/chrony.d /run/chrony.d /missing", { file: "/c", ...fs });
  assert.deepEqual(r.directives.map((d) => d.file), [
    "/run/chrony.d/05-c.conf",
    "/etc/chrony.d/10-a.conf",
    "/etc/chrony.d/20-b.conf",
  ]);
  assert.equal(r.config.maxDistance, 5);
  assert.match(
    (() => {
      try {
        parseConfig("confdir " + Array.from({ length: 11 }, (_, i) => `/d${i}`).join(" "));
      } catch (e) {
        return String(e);
      }
      return "";
    })(),
    /too many directories/,
  );
});

Deno.test("sourcedir loads server, pool and peer lines of *.sources files", () => {
  const fs = memFs({
    "/run/chrony-dhcp/eth0.sources": "server 192.0.2.1 iburst\npool p.example\n",
    "/run/chrony-dhcp/eth1.sources": "peer 192.0.2.9\n",
  });
  const r = parseConfig("server a\nsourcedir /run/chrony-dhcp\n", { file: "/c", ...fs });
  assert.deepEqual(r.config.sources.map((s) => [s.name, s.fromSourceDir]), [
    ["a", false],
    ["192.0.2.1", true],
    ["p.example", true],
    ["192.0.2.9", true],
  ]);
  assert.deepEqual(r.config.sourceDirs, ["/run/chrony-dhcp"]);
});

Deno.test("a bad line of a sources file is skipped with a warning, not fatal", () => {
  const fs = memFs({ "/s/a.sources": "server 192.0.2.1\nrtcsync\nserver 192.0.2.3\n" });
  const r = parseConfig("sourcedir /s", { file: "/c", ...fs });
  assert.deepEqual(r.config.sources.map((s) => s.name), ["192.0.2.1", "192.0.2.3"]);
  assert.match(r.warnings[0]?.message ?? "", /"rtcsync" is not allowed in a sources file/);
});

Deno.test("parseSourceFile ignores an unterminated last line (file still being written)", () => {
  const r = parseSourceFile("server a\nserver b", "/s/x.sources");
  assert.deepEqual(r.sources.map((s) => s.name), ["a"]);
  assert.equal(r.warnings[0]?.line, 2);
  // chronyd 4.3: a NUL or an over-long line ends the file there.
  const nul = parseSourceFile("server a\nserver b\0\nserver c\n", "/s/x.sources");
  assert.deepEqual(nul.sources.map((s) => s.name), ["a"]);
  const long = parseSourceFile(`server a\nserver b${" iburst".repeat(400)}\nserver c\n`, "/s/x");
  assert.deepEqual(long.sources.map((s) => s.name), ["a"]);
  assert.equal(long.warnings[0]?.line, 2);
  const bad = parseSourceFile("server a minpoll x\nmakestep 1 3\n", "/s/y.sources");
  assert.deepEqual(bad.errors.map((e) => e.message), [
    '/s/y.sources:1: invalid minpoll "x"',
    '/s/y.sources:2: "makestep" is not allowed in a sources file',
  ]);
});

Deno.test("command-line configuration parses each argument as one line of 'command line'", () => {
  const r = parseCommandLine(["server x iburst", "makestep 1 3"]);
  assert.equal(r.config.sources[0]?.iburst, true);
  assert.deepEqual(r.directives.map((d) => `${d.file}:${d.line}`), [
    "command line:1",
    "command line:2",
  ]);
  assert.throws(
    () => parseCommandLine(["rtcsync", "servr x"]),
    (e) => e instanceof ConfigError && e.message === 'command line:2: unknown directive "servr"',
  );
});
