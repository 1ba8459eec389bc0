import assert from "node:assert/strict";
import { ConfigError } from "../../lib/conf/config_error.ts";
import { loadConfigFile } from "../../lib/conf/load.ts";
import { parseCommandLine } from "../../lib/conf/parse.ts";
import { haveChrony } from "../interop/harness.ts";

const CHRONYD = "/usr/sbin/chronyd";

const available = haveChrony;

// Lines where horae must agree with chronyd 4.3 on accept/reject. Deliberate
// differences are left out and listed in docs/ARCHITECTURE.md: horae rejects
// malformed floats like "1e" and unknown refclock drivers at parse time, and
// keeps allow host names for resolution later.
const ACCEPTED = [
  // Ports are C ints cut to 16 bits (port 70000 is 4464); the directives
  // read only a leading number.
  "port 70000",
  "port -1",
  "port 99999999999999999999",
  "port 1x",
  "port 0x10",
  "cmdport 1e3",
  "ntsport 70000",
  "acquisitionport 70000",
  "ptpport 70000",
  "broadcast 64 1.2.3.255 70000",
  // The other one-integer directives read a leading number too.
  "dscp 1x",
  "maxsamples 0x10",
  "logbanner 4294967297",
  "sched_priority 1.5",
  "ntsrotate 1e3",
  "server x port 70000",
  "server x port -5",
  "server x ntsport 70000",
  // Parsed; chronyd refuses it at start-up ("Bad subnet"), see tests/interop/files_interop_test.ts.
  "allow 10.0.0.0/99",
  "cmdallow 10.0.0.0/99",
  "allow 10/99",
  // C white space: CR, VT and FF separate words.
  "makestep 1\r3",
  "makestep\v1\f3\r",
  "x".repeat(0) + "server " + "a".repeat(2040), // 2047 bytes: the longest argument

  "pool x maxsources 20",
  "server x maxsources 2",
  "peer x iburst",
  "dscp 70",
  "ratelimit burst 300",
  "ratelimit interval 20",
  "server x version 5",
  "server x asymmetry 0.9",
  "server x filter 0",
  "ntsprocesses 2000",
  "clientloglimit -1",
  "hwtimestamp eth0 minpoll -10",
  "log",
  "allow 1.2.3.4/33",
  "allow 10/8",
  "allow ::/129",
  "allow",
  "allow all",
  "maxsamples -1",
  "initstepslew 10",
  "commandkey 1",
  "dumponexit",
  "ntscachedir /x",
  "server x extfield F323",
  "server x offset 1e-3",
  "server x maxdelay 2000",
  "cmdallow all",
  "sched_priority 200",
  "local stratum 10 orphan distance 0.1",
  "refclock PHC /dev/ptp0 poll 0 dpoll -2 offset -37 tai",
  "SERVER x IBURST",
];

const REJECTED = [
  "server " + "a".repeat(2041), // 2048 bytes: String too long
  "makestep\u00a01 3", // a no-break space is not C white space
  "\ufeffserver x", // nor is a byte-order mark
  "server x port 1x",
  "server x port 0x10",
  "dscp x1",
  "maxsamples",
  "allow 10.0.0.0/-1",
  "allow 10.0.0.0/x",
  "servr x",
  "ratelimit foo 1",
  "server x key 0",
  "server x key abc",
  "hwtimestamp eth0 rxfilter foo",
  "refclock SHM 0 refid TOOLONG",
  "refclock SHM",
  "local stratum 0",
  "local stratum 20",
  "local distance x",
  "local foo",
  "makestep 1",
  "makestep 1 3 4",
  "makestep x 3",
  "driftfile",
  "driftfile a b",
  "rtcsync x",
  "log foo",
  "leapsecmode foo",
  "allow 1.2.3.256",
  "allow all all",
  "smoothtime 1",
  "broadcast 64 1.2.3.255 123 4",
  "initstepslew x",
  "mailonchange root",
  "tempcomp a 1 2 3",
  "ntstrustedcerts 1 a b",
  "ntstrustedcerts",
  "bindaddress foo",
  "bindcmdaddress foo",
  "ntsccachedir /x",
  "minstratum 3", // a source option only
  "server",
  "server x minpoll",
  "server x minpoll q",
  "server x foo",
  "server x extfield zz",
  "keyfile",
  "maxchange 1 2",
];

function chronydAccepts(line: string): boolean {
  const out = new Deno.Command(CHRONYD, { args: ["-p", line], stdout: "null", stderr: "null" })
    .outputSync();
  return out.code === 0;
}

function horaeAccepts(line: string): boolean {
  try {
    parseCommandLine([line]);
    return true;
  } catch (e) {
    if (e instanceof ConfigError) return false;
    throw e;
  }
}

Deno.test({
  name: "horae accepts and rejects the same lines as the real chronyd 4.3",
  ignore: !available(),
  fn() {
    for (const line of ACCEPTED) {
      assert.equal(chronydAccepts(line), true, `chronyd should accept: ${line}`);
      assert.equal(horaeAccepts(line), true, `horae should accept: ${line}`);
    }
    for (const line of REJECTED) {
      assert.equal(chronydAccepts(line), false, `chronyd should reject: ${line}`);
      assert.equal(horaeAccepts(line), false, `horae should reject: ${line}`);
    }
  },
});

Deno.test("the same lines are accepted and rejected without chronyd installed", () => {
  for (const line of ACCEPTED) assert.equal(horaeAccepts(line), true, line);
  for (const line of REJECTED) assert.equal(horaeAccepts(line), false, line);
});

/** Whole files (bytes) where horae and chronyd 4.3 must agree, with the line of a rejection. */
function fileCases(dir: string): [string, Uint8Array | string][] {
  const bytes = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));
  const long = (n: number) => "server " + "a".repeat(n - 7);
  return [
    ["2046 bytes and a newline", long(2046) + "\n"],
    ["2047 bytes and a newline", long(2047) + "\n"],
    ["2047 bytes at the end of the file", long(2047)],
    ["2048 bytes at the end of the file", long(2048)],
    ["a long comment", "# " + "a".repeat(2045) + "\n"],
    ["a long line after a good one", "makestep 1 3\n" + long(3000) + "\nrtcsync\n"],
    ["NUL ends a line", bytes("server a\0b iburst\nmakestep 1 3\n")],
    ["NUL at the start of a line", bytes("\0server x\nmakestep 1 3\n")],
    ["NUL in a directive name", bytes("makestep\0 1 3\n")],
    // The bytes after a NUL in a line longer than the buffer come back as a line.
    ["NUL before 2048 bytes", bytes("server aaa\0" + "b".repeat(2036) + "\nmakestep 1 3\nfoo\n")],
    ["NUL before 2049 bytes", bytes("server aaa\0" + "b".repeat(2037) + "\nmakestep 1 3\nfoo\n")],
    ["NUL before 2050 bytes", bytes("server aaa\0" + "b".repeat(2038) + "\nmakestep 1 3\nfoo\n")],
    ["UTF-8 BOM before a directive", bytes("\xef\xbb\xbfserver x\n")],
    ["UTF-8 BOM before a comment", bytes("\xef\xbb\xbf# comment\nserver x\n")],
    ["UTF-8 BOM alone", bytes("\xef\xbb\xbf\nserver x\n")],
    ["no-break space", bytes("makestep\xc2\xa01 3\n")],
    ["CRLF lines", "makestep 1 3\r\nrtcsync\r\n"],
    ["include of a directory", `include ${dir}/inc\nmakestep 1 3\n`],
    ["include of a directory with a slash", `include ${dir}/inc/\n`],
    ["include of a pattern matching nothing", `include ${dir}/nothing*\n`],
    ["include of a missing file", `rtcsync\ninclude ${dir}/nothing\n`],
    ["include of a pattern with a name after the wildcard", `include ${dir}/*/x.conf\n`],
    ["confdir of a file", `confdir ${dir}/inc/x.conf\n`],
    ["port 70000", "port 70000\n"],
    ["allow /99", "allow 10.0.0.0/99\n"],
  ];
}

function chronydFile(path: string): { ok: boolean; line: number | null; out: string } {
  const o = new Deno.Command(CHRONYD, { args: ["-p", "-f", path], stdout: "null", stderr: "piped" })
    .outputSync();
  const out = new TextDecoder().decode(o.stderr);
  const m = out.match(/at line (\d+)/);
  return { ok: o.code === 0, line: m ? Number(m[1]) : null, out };
}

function horaeFile(path: string): { ok: boolean; line: number | null; out: string } {
  try {
    loadConfigFile(path);
    return { ok: true, line: null, out: "" };
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    return { ok: false, line: e.line, out: e.message };
  }
}

Deno.test({
  name:
    "whole files (long lines, NUL, BOM, white space, include) are read as the real chronyd 4.3 reads them",
  ignore: !available(),
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "horae-conf-" });
    try {
      await Deno.mkdir(`${dir}/inc`);
      await Deno.mkdir(`${dir}/empty`);
      await Deno.writeTextFile(`${dir}/inc/x.conf`, "makestep 1 3\n");
      for (const [name, content] of fileCases(dir)) {
        const path = `${dir}/test.conf`;
        if (typeof content === "string") await Deno.writeTextFile(path, content);
        else await Deno.writeFile(path, content);
        const c = chronydFile(path);
        const h = horaeFile(path);
        assert.equal(
          h.ok,
          c.ok,
          `${name}: chronyd ${c.ok ? "accepts" : "rejects"} (${c.out.trim()}), horae ${h.out}`,
        );
        if (!c.ok && c.line !== null) {
          // The missing include names the include's line in horae; chronyd names the file alone.
          if (!/Could not open/.test(c.out)) assert.equal(h.line, c.line, `${name}: line`);
        }
        if (/String too long/.test(c.out)) assert.match(h.out, /String too long/, name);
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("a file's long, NUL and BOM lines are refused or cut without chronyd installed", async () => {
  const dir = await Deno.makeTempDir({ prefix: "horae-conf-" });
  try {
    await Deno.mkdir(`${dir}/inc`);
    await Deno.mkdir(`${dir}/empty`);
    await Deno.writeTextFile(`${dir}/inc/x.conf`, "makestep 1 3\n");
    const expected: Record<string, number | null> = {
      "2046 bytes and a newline": null,
      "2047 bytes and a newline": 1,
      "2047 bytes at the end of the file": null,
      "2048 bytes at the end of the file": 1,
      "a long line after a good one": 2,
      "NUL ends a line": null,
      "NUL in a directive name": 1,
      "NUL before 2049 bytes": 4,
      "NUL before 2050 bytes": 2,
      "UTF-8 BOM before a comment": 1,
      "include of a directory": null,
      "include of a pattern matching nothing": null,
      "include of a pattern with a name after the wildcard": null,
      "port 70000": null,
    };
    for (const [name, content] of fileCases(dir)) {
      if (!(name in expected)) continue;
      const path = `${dir}/test.conf`;
      if (typeof content === "string") await Deno.writeTextFile(path, content);
      else await Deno.writeFile(path, content);
      const h = horaeFile(path);
      assert.equal(h.line, expected[name], `${name}: ${h.out}`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
