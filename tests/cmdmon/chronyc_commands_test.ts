/**
 * chronyc's command table (lib/cmdmon/chronyc_commands.ts): every command
 * `help` names has a row and every row is in `help` (but the ones chronyc 4.3
 * does not list), each row's use (monitoring/control/client) and report
 * replies hold when it runs, and argument errors give chronyc 4.3's (4.8's for
 * its own commands) message and exit code before any request is sent.
 *
 * @example
 * ```sh
 * ./denow test -A tests/cmdmon/chronyc_commands_test.ts
 * ```
 * @module
 */
import assert from "node:assert/strict";
import { runChronyc } from "../../lib/cmdmon/chronyc.ts";
import {
  COMMANDS,
  findCommand,
  HELP_SECTIONS,
  helpText,
} from "../../lib/cmdmon/chronyc_commands.ts";
import { handleRequest } from "../../lib/cmdmon/handlers.ts";
import { decodeReply } from "../../lib/cmdmon/reports.ts";
import { JSON_REPORTS } from "../../lib/cmdmon/json.ts";
import { FakeBackend } from "./fake_backend.ts";
import { ARGUMENT_ERRORS } from "./chronyc_cases.ts";
import { fakeChronycIo } from "./fake_chronyc_io.ts";

/** Commands chronyc 4.3 knows but `help` does not list (dfreq, doffset), and 4.8's own. */
const UNLISTED = ["dfreq", "doffset", "selectopts", "offset"];

/** The command names of `help`'s lines (`exit|quit` names two). */
function helpNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith(" ")) continue; // blank, or a description's continuation
    const usage = line.slice(0, 28).trim() || line;
    if (/^[A-Z].*:$/.test(usage)) continue; // a section title
    for (const n of usage.split(/\s/)[0]!.split("|")) names.add(n);
  }
  return names;
}

Deno.test("every command help names has a table row, and every row is in help", () => {
  const inHelp = helpNames(helpText());
  for (const name of inHelp) assert.ok(findCommand(name), `help names ${name}: no row`);
  const listed = COMMANDS.filter((r) => r.help.length > 0);
  for (const row of listed) {
    for (const n of row.names) assert.ok(inHelp.has(n), `${n} has help lines but is not in help`);
  }
  const unlisted = COMMANDS.filter((r) => r.help.length === 0).flatMap((r) => r.names);
  assert.deepEqual(unlisted.sort(), [...UNLISTED].sort());
  for (const n of UNLISTED) assert.ok(!inHelp.has(n), n);
  // every help line starts with the name of the row it belongs to
  for (const row of listed) {
    for (const [usage] of row.help) {
      if (usage === "") continue;
      const first = usage.split(/\s/)[0]!.split("|");
      assert.ok(first.every((n) => row.names.includes(n)), `${usage} in the row of ${row.names}`);
    }
  }
});

Deno.test("the table: unique names, sections in help's order, JSON rows are json.ts's reports", () => {
  const all = COMMANDS.flatMap((r) => r.names);
  assert.equal(new Set(all).size, all.length);
  const order = COMMANDS.map((r) => HELP_SECTIONS.indexOf(r.section));
  assert.deepEqual(order, [...order].sort((a, b) => a - b), "rows grouped by section in order");
  const json = COMMANDS.filter((r) => r.json).map((r) => r.json);
  assert.deepEqual([...json].sort(), [...JSON_REPORTS].sort());
  for (const r of COMMANDS) if (r.json) assert.equal(r.json, r.names[0]);
  for (const r of COMMANDS) assert.ok(!r.request !== !r.run, `${r.names[0]}: request or run`);
  const lines = helpText().split("\n");
  assert.equal(lines[0], "System clock:".padEnd(28));
  assert.equal(lines.at(-2), " ".repeat(28), "help ends with a blank line");
});

/** Arguments that make each command succeed against the fake daemon (several: each used). */
const SAMPLES: Record<string, string[][]> = {
  tracking: [[]],
  makestep: [[], ["0.1", "3"]],
  maxupdateskew: [["100"]],
  waitsync: [["1"]],
  dfreq: [["0.1"]],
  doffset: [["0.1"]],
  sources: [["-v"]],
  sourcestats: [[]],
  selectdata: [[]],
  reselect: [[]],
  reselectdist: [["0.001"]],
  selectopts: [["192.0.2.1", "+prefer"]],
  offset: [["192.0.2.1", "0.01"]],
  activity: [[]],
  authdata: [[]],
  ntpdata: [[], ["192.0.2.1"]],
  add: [["server", "192.0.2.9", "iburst"]],
  delete: [["192.0.2.1"]],
  burst: [["2/4"]],
  maxdelay: [["192.0.2.1", "0.3"]],
  maxdelayratio: [["192.0.2.1", "2"]],
  maxdelaydevratio: [["192.0.2.1", "3"]],
  minpoll: [["192.0.2.1", "4"]],
  maxpoll: [["192.0.2.1", "9"]],
  minstratum: [["192.0.2.1", "3"]],
  offline: [[]],
  online: [["192.0.2.1"]],
  onoffline: [[]],
  polltarget: [["192.0.2.1", "7"]],
  refresh: [[]],
  reload: [["sources"]],
  sourcename: [["192.0.2.1"]],
  manual: [["on"], ["list"]],
  settime: [["16:30:05"]],
  accheck: [["192.0.2.1"]],
  clients: [[]],
  serverstats: [[]],
  allow: [["10.1"]],
  deny: [["all"]],
  local: [["stratum", "5"]],
  smoothtime: [["reset"]],
  smoothing: [[]],
  cmdaccheck: [["::1"]],
  cmdallow: [["127.0.0.1"]],
  cmddeny: [[]],
  rtcdata: [[]],
  trimrtc: [[]],
  writertc: [[]],
  cyclelogs: [[]],
  dump: [[]],
  rekey: [[]],
  reset: [["sources"]],
  shutdown: [[]],
  dns: [["-n"]],
  timeout: [["200"]],
  retries: [["1"]],
  keygen: [[]],
  quit: [[]],
  help: [[]],
};

/** A fake daemon with every report (manual list, RTC, smoothing, settime too). */
function fullBackend(): FakeBackend {
  return Object.assign(new FakeBackend(), {
    manualList: () => [{ when: 1n << 62n, slewedOffset: 0.1, origOffset: 0.1, residual: 0 }],
    rtcReport: () => ({
      refTime: 1n << 62n,
      nSamples: 3,
      nRuns: 1,
      spanSeconds: 60,
      rtcSecondsFast: 0.5,
      rtcGainRatePpm: 1,
    }),
    smoothing: () => ({
      active: true,
      leapOnly: false,
      offset: 0,
      freqPpm: 0,
      wanderPpm: 0,
      lastUpdateAgo: 1,
      remainingTime: 0,
    }),
    settime(this: FakeBackend) {
      // settime has its own backend method; it changes the daemon like a control request
      this.controls.push({ kind: "null" } as never);
      return { offset: 0.5, dfreqPpm: 0, newAfreqPpm: 0 };
    },
  });
}

/** Runs one command line; what it printed, the exchanges, replies read and control requests. */
async function runLine(words: string[], be = fullBackend()) {
  const replies = new Set<string>();
  const { io, captured } = fakeChronycIo({
    answer: (request) => {
      const reply = handleRequest(request, { fromUnixSocket: true }, be);
      if (reply) replies.add(decodeReply(reply).reply.kind);
      return reply;
    },
    lookup: () => Promise.resolve(null),
  });
  const code = await runChronyc(["-h", "/x", "-n", ...words], io);
  const { out, err, exchanges } = captured;
  return { code, out, err, exchanges, replies, controls: be.controls.map((c) => c.kind) };
}

Deno.test("each row's use and replies hold when it runs", async () => {
  assert.deepEqual(Object.keys(SAMPLES).sort(), COMMANDS.map((r) => r.names[0]).sort());
  for (const row of COMMANDS) {
    const name = row.names[0];
    const read = new Set<string>();
    let controls = 0;
    for (const args of SAMPLES[name]!) {
      const r = await runLine([name, ...args]);
      const what = [name, ...args].join(" ");
      assert.equal(r.err, "", what);
      assert.equal(r.code, 0, what);
      for (const k of r.replies) if (k !== "null") read.add(k);
      if (row.use === "client") assert.equal(r.exchanges, 0, `${what}: a client command`);
      if (row.use === "monitoring") {
        // accheck and cmdaccheck only ask; the fake daemon answers them through control()
        const changes = r.controls.filter((k) => k !== "accheck" && k !== "cmdaccheck");
        assert.deepEqual(changes, [], `${what}: a monitoring command`);
      }
      controls += r.controls.length;
    }
    if (row.use === "control") assert.ok(controls > 0, `${name}: a control command`);
    assert.deepEqual([...read].sort(), [...(row.replies ?? [])].sort(), `${name}: replies`);
  }
});

Deno.test("argument errors: chronyc's message on stderr, exit code 1, nothing sent", async () => {
  for (const [line, message] of ARGUMENT_ERRORS) {
    const r = await runLine(line.split(" "));
    assert.deepEqual(
      [r.code, r.out, r.err, r.exchanges],
      [1, "", message === "" ? "" : message + "\n", 0],
      line,
    );
  }
});

Deno.test("words chronyc ignores after a command's own are ignored here too", async () => {
  const cases: [string, string][] = [
    ["makestep 1 2 3", "modify_makestep"],
    ["manual delete 1 2", "manual_delete"],
    ["manual delete 1x", "manual_delete"],
    ["minpoll 192.0.2.1 3 4", "modify_minpoll"],
    ["offline 255.0.0.0/192.0.2.0", "offline"],
  ];
  for (const [line, kind] of cases) {
    const r = await runLine(line.split(" "));
    assert.deepEqual([r.code, r.err, r.controls], [0, "", [kind]], line);
  }
  const list = await runLine(["manual", "list", "x"]);
  assert.deepEqual([list.code, [...list.replies]], [0, ["manual_list"]]);
});

Deno.test("keygen clamps a hash key to 80..4096 bits, as chronyc 4.3 and 4.8", async () => {
  for (const [bits, hexDigits] of [["20000", 1024], ["81", 22], ["-5", 20]] as const) {
    const r = await runLine(["keygen", "1", "SHA1", bits]);
    assert.equal(r.out.trim().split(" ")[2]!.length - "HEX:".length, hexDigits, bits);
  }
});

Deno.test("waitsync goes on trying after a failed request, printing its status", async () => {
  const { io, captured } = fakeChronycIo({ answer: () => null, mergeErr: true, nowMs: 0 });

  const code = await runChronyc(["-h", "/x", "-n", "waitsync", "3", "0", "0", "0.1"], io);
  assert.deepEqual([code, captured.out], [1, "506 Cannot talk to daemon\n".repeat(3)]);
});

Deno.test("a reply whose body cannot be read is 'Invalid reply from daemon'", async () => {
  const { io, captured } = fakeChronycIo({
    answer: (request) =>
      // the header and a little of the body
      handleRequest(request, { fromUnixSocket: true }, new FakeBackend())!.subarray(0, 40),
    mergeErr: true,
    nowMs: 0,
  });

  const code = await runChronyc(["-h", "/x", "-n", "tracking"], io);
  assert.deepEqual([code, captured.out], [1, "Invalid reply from daemon\n"]);
});
