/**
 * horae's chronyc against an in-memory daemon (handleRequest + FakeBackend):
 * the request each command sends, its messages and exit codes.
 *
 * @example
 * ```sh
 * ./denow test -A tests/cmdmon/chronyc_test.ts
 * ```
 * @module
 */
import assert from "node:assert/strict";
import { helpText, keygen, parseDate, parseSubnet, runChronyc } from "../../lib/cmdmon/chronyc.ts";
import { AddSrcFlag } from "../../lib/cmdmon/request.ts";
import { FakeBackend } from "./fake_backend.ts";
import { fakeChronycIo } from "./fake_chronyc_io.ts";

async function run(
  args: string[],
  lines?: string[],
  overUdp = false,
  be: FakeBackend = new FakeBackend(),
) {
  const { io, captured } = fakeChronycIo({ backend: be, overUdp, ...(lines ? { lines } : {}) });
  const code = await runChronyc(["-h", "/x", ...args], io);
  return { code, out: captured.out, err: captured.err, controls: be.controls };
}

Deno.test("add server sends the options as ADD_SOURCE fields", async () => {
  const r = await run(["add", "server", "192.0.2.9", "iburst", "minpoll", "3", "key", "7"]);
  assert.equal(r.code, 0);
  assert.equal(r.out, "200 OK\n");
  const c = r.controls[0];
  assert.ok(c && c.kind === "add_source");
  assert.equal(c.name, "192.0.2.9");
  assert.equal(c.minpoll, 3);
  assert.equal(c.authkey, 7);
  assert.equal(c.flags & AddSrcFlag.IBURST, AddSrcFlag.IBURST);
  assert.equal(c.flags & AddSrcFlag.ONLINE, AddSrcFlag.ONLINE);
  const bad = await run(["add", "server", "x", "badopt"]);
  assert.deepEqual([bad.code, bad.err, bad.controls.length], [
    1,
    "Invalid syntax for add command\n",
    0,
  ]);
});

Deno.test("authdata/ntpdata over UDP print what came before the 501, as chronyc", async () => {
  const auth = await run(["authdata"], undefined, true);
  assert.equal(auth.code, 1);
  const lines = auth.out.split("\n");
  assert.match(lines[0] ?? "", /^Name\/IP address\s+Mode KeyID Type KLen/);
  assert.match(lines[1] ?? "", /^=+$/);
  assert.equal(lines[2], "501 Not authorised");
  const ntp = await run(["ntpdata"], undefined, true);
  assert.deepEqual([ntp.code, ntp.out], [1, "501 Not authorised\n"]);
  const src = await run(["sources"], undefined, true);
  assert.equal(src.code, 0);
});

Deno.test("allow/deny subnets, local, manual, smoothtime, makestep requests", async () => {
  const cases: [string[], string][] = [
    [["allow", "all", "10.1"], "allowall"],
    [["cmddeny", "2001:db8::/32"], "cmddeny"],
    [["local", "stratum", "5", "orphan"], "local3"], // chronyc 4.8's form; LOCAL2 after a 502
    [["local", "stratum", "5", "activate", "0.5"], "local3"],
    [["manual", "reset"], "manual"],
    [["smoothtime", "activate"], "smoothtime"],
    [["makestep", "0.1", "3"], "modify_makestep"],
    [["reselectdist", "0.001"], "reselectdistance"],
    [["selectopts", "192.0.2.1", "+prefer", "-noselect"], "modify_selectopts"],
    [["offset", "192.0.2.1", "0.01"], "modify_offset"],
    [["reset", "sources"], "reset_sources"],
  ];
  for (const [args, kind] of cases) {
    const r = await run(args);
    assert.equal(r.controls[0]?.kind, kind, args.join(" "));
  }
  assert.deepEqual(parseSubnet("10.1"), {
    ip: { family: "inet4", address: "10.1.0.0" },
    subnetBits: 16,
  });
  assert.equal(parseSubnet("300.1"), null);
});

Deno.test("parse errors go to stderr with exit code 1; -m stops at the first failure", async () => {
  for (
    const [args, msg] of [
      [["local", "stratum", "0"], "Invalid syntax for local command"],
      [["manual", "delete"], "Bad syntax for manual delete command"],
      [["makestep", "1"], "Bad syntax for makestep command"],
      [["dfreq", "x"], "Invalid value"],
      [["timeout", "50"], "Timeout 50 is too short"],
      [["foo"], "Unrecognized command"],
      [["keygen", "1", "FOO"], "Unknown hash function or cipher FOO"],
    ] as [string[], string][]
  ) {
    const r = await run(args);
    assert.deepEqual([r.code, r.err], [1, msg + "\n"], args.join(" "));
  }
  const m = await run(["-m", "dump", "foo", "dump"]);
  assert.deepEqual([m.code, m.out, m.controls.length], [1, "200 OK\n", 1]);
});

Deno.test("interactive: the last command's result is the exit code; quit ends", async () => {
  assert.equal((await run([], ["foo", "dump"])).code, 0);
  assert.equal((await run([], ["dump", "foo"])).code, 1);
  const q = await run([], ["quit", "dump"]);
  assert.equal(q.controls.length, 0);
});

Deno.test("waitsync prints each try and succeeds once a reference is known", async () => {
  const r = await run(["waitsync", "3", "0", "0", "0.1"]);
  assert.equal(r.code, 0);
  assert.match(r.out, /^try: 1, refid: [0-9A-F]{8}, correction: \d+\.\d{9}, skew: \d+\.\d{3}\n$/);
});

Deno.test("keygen: id, type, bits clamped to 80, fixed AES lengths", () => {
  const io = { randomBytes: (n: number) => new Uint8Array(n).fill(0xab) };
  assert.equal(keygen([], io), `1 SHA1 HEX:${"AB".repeat(20)}\n`);
  assert.equal(keygen(["-1", "SHA256", "10"], io), `4294967295 SHA256 HEX:${"AB".repeat(10)}\n`);
  assert.equal(keygen(["5", "AES128", "1"], io), `5 AES128 HEX:${"AB".repeat(16)}\n`);
});

Deno.test("settime dates", () => {
  const now = Date.UTC(2024, 0, 2, 3, 4, 5);
  assert.equal(parseDate("16:30:05", now), Date.UTC(2024, 0, 2, 16, 30, 5));
  assert.equal(parseDate("Sep 25, 2015 16:30:05", now), Date.UTC(2015, 8, 25, 16, 30, 5));
  assert.equal(parseDate("2015-09-25 16:30", now), Date.UTC(2015, 8, 25, 16, 30, 0));
  assert.equal(parseDate("garbage", now), null);
});

Deno.test("local: LOCAL3 first; a daemon without it (502, chronyd 4.3) gets LOCAL2", async () => {
  const be = new FakeBackend();
  be.control = (req) => {
    be.controls.push(req);
    return req.kind === "local3" ? 3 /* INVALID */ : 0;
  };
  const { io, captured } = fakeChronycIo({ backend: be, mergeErr: true, nowMs: 0 });
  assert.equal(await runChronyc(["-h", "/x", "local", "stratum", "5", "orphan"], io), 0);
  assert.deepEqual(be.controls.map((c) => c.kind), ["local3", "local2"]);
  assert.equal(captured.out, "200 OK\n");
  // with an option of 4.5+ there is no older form to fall back to
  be.controls.length = 0;
  captured.out = "";
  assert.equal(await runChronyc(["-h", "/x", "local", "activate", "0.5"], io), 1);
  assert.deepEqual(be.controls.map((c) => c.kind), ["local3"]);
  assert.equal(captured.out, "502 Invalid command\n");
});

Deno.test("-e ends each response with a dot line; -u root stays, an unknown user fails", async () => {
  let r = await run(["-e", "-m", "tracking", "foo", "activity"]);
  assert.equal(r.code, 1);
  assert.match(r.out, /Leap status {5}: .*\n\.\n\.\n$/);
  assert.equal(r.err, "Unrecognized command\n");
  r = await run(["-e", "dfreq", "0.1"]);
  assert.equal(r.out, "200 OK\n.\n");
  r = await run(["-u", "root", "activity"]);
  assert.equal(r.code, 0);
  r = await run(["-u", "nobodyx", "activity"]);
  assert.deepEqual([r.code, r.out, r.controls.length], [1, "", 0]);
});

Deno.test("help keeps chronyc's layout: 28-column commands, lines within 78 columns", () => {
  const lines = helpText().split("\n");
  for (const l of lines) assert.ok(l.length <= 78, `too wide: ${l}`);
  const i = lines.findIndex((l) => l.startsWith("onoffline"));
  // chronyc 4.3 and 4.8 wrap this description onto a second line
  assert.match(lines[i + 1] ?? "", /^ {28}\S/);
});

Deno.test("settime prints 200 OK before the report, as chronyc 4.3", async () => {
  const be = Object.assign(new FakeBackend(), {
    settime: () => ({ offset: 0.47, dfreqPpm: 0, newAfreqPpm: 0 }),
  });
  const r = await run(["settime", "12:00:00"], undefined, false, be);
  assert.equal(r.code, 0);
  assert.equal(
    r.out,
    "200 OK\nClock was 0.47 seconds fast.  Frequency change = 0.00ppm, new frequency = 0.00ppm\n",
  );
});

/** Source 0 is a reference clock "GPS": no address (unspec), refid 0x47505300. */
class RefclockBackend extends FakeBackend {
  override sourceStats(i: number) {
    const r = super.sourceStats(i);
    if (i !== 0 || "status" in r) return r;
    return { ...r, address: { family: "unspec" } as const, refId: 0x47505300 };
  }
  override selectData(i: number) {
    const r = super.selectData(i);
    if (i !== 0 || "status" in r) return r;
    return { ...r, address: { family: "unspec" } as const, refId: 0x47505300 };
  }
}

Deno.test("sourcestats and selectdata name a reference clock by its refid, as chronyc", async () => {
  for (const cmd of ["sourcestats", "selectdata"]) {
    const r = await run(["-n", cmd], undefined, false, new RefclockBackend());
    assert.equal(r.code, 0, r.err);
    assert.doesNotMatch(r.out, /UNSPEC/, r.out);
    assert.match(r.out, cmd === "sourcestats" ? /^GPS {24}31 /m : /^\* GPS {23}N /m, r.out);
    assert.match(r.out, /2001:db8::1/, r.out);
  }
  const csv = await run(["-c", "sourcestats"], undefined, false, new RefclockBackend());
  assert.match(csv.out, /^GPS,31,/m, csv.out);
});
