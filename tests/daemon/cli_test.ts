import { deepStrictEqual as assertEquals } from "node:assert/strict";
import assert from "node:assert/strict";
import { parseChronydArgs, UsageError } from "../../lib/conf/cli.ts";
import { personality } from "../../lib/daemon/personality.ts";

Deno.test("-Q with -t and a config line selects offset-only mode in the foreground", () => {
  const o = parseChronydArgs(["-Q", "-t", "5", "server 127.0.0.1 port 11123 iburst"]);
  assertEquals(o.mode, "offset-only");
  assertEquals(o.timeout, 5);
  assertEquals(o.foreground, true);
  assertEquals(o.configLines, ["server 127.0.0.1 port 11123 iburst"]);
});

Deno.test("grouped flags and attached values are read like getopt", () => {
  const o = parseChronydArgs(["-dd", "-xf/tmp/c.conf", "-L", "1", "-4"]);
  assertEquals(o.debugLevel, 2);
  assertEquals(o.noClockControl, true);
  assertEquals(o.configFile, "/tmp/c.conf");
  assertEquals(o.configFileGiven, true);
  assertEquals(o.logLevel, 1);
  assertEquals(o.family, "ipv4");
  assertEquals(o.mode, "daemon");
});

Deno.test("every chronyd(8) flag is accepted", () => {
  const o = parseChronydArgs([
    "-4",
    "-6",
    "-d",
    "-n",
    "-f",
    "f",
    "-l",
    "l",
    "-L",
    "0",
    "-r",
    "-R",
    "-s",
    "-t",
    "1.5",
    "-u",
    "u",
    "-U",
    "-F",
    "1",
    "-P",
    "2",
    "-m",
    "-x",
    "-q",
  ]);
  assertEquals(o.mode, "set-once");
  assertEquals(o.timeout, 1.5);
  assertEquals(o.user, "u");
  assertEquals(o.filterLevel, 1);
  assertEquals(o.priority, 2);
  assertEquals(o.lockMemory && o.reloadDumps && o.restart && o.setFromRtc && o.noRootCheck, true);
});

Deno.test("unknown flags and missing values are usage errors", () => {
  assert.throws(() => parseChronydArgs(["-z"]), UsageError);
  assert.throws(() => parseChronydArgs(["-f"]), UsageError);
  assert.throws(() => parseChronydArgs(["-t", "soon"]), UsageError);
  assert.throws(() => parseChronydArgs(["--frobnicate"]), UsageError);
});

Deno.test("-v, --version, -p and -h select their modes", () => {
  assertEquals(parseChronydArgs(["-v"]).mode, "version");
  assertEquals(parseChronydArgs(["--version"]).mode, "version");
  assertEquals(parseChronydArgs(["-p", "-f", "x"]).mode, "print-config");
  assertEquals(parseChronydArgs(["--help"]).mode, "help");
});

Deno.test("personality comes from the link name, else from the first argument", () => {
  assertEquals(personality(["-Q"], "/usr/local/bin/chronyd"), { name: "chronyd", args: ["-Q"] });
  assertEquals(personality(["chronyc", "tracking"], "/x/deno"), {
    name: "chronyc",
    args: ["tracking"],
  });
  assertEquals(personality(["tracking"], "/x/deno").name, "horae");
  // The launchers set argv[0] (exec -a) and also pass the name first.
  assertEquals(personality(["chronyd", "-d"], "chronyd"), { name: "chronyd", args: ["-d"] });
  assertEquals(personality(["chronyc", "-n"], "chronyc"), { name: "chronyc", args: ["-n"] });
});
