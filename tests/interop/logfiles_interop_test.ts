/**
 * `log measurements statistics tracking selection` beside the real chronyd 4.3 (and 4.8): the
 * daemons (`-x`) are clients of the same test server on loopback (polling
 * every 0.5 s, `logbanner 10`), whose clock jumps 5 ms ahead part way so
 * that the regressions drop old samples. Values differ between the daemons,
 * so the files are compared by their banners (text and cadence), each line's
 * layout (one pattern per file that chronyd's lines must match too), column
 * counts and the invariants chrony.conf(5) and chronyd's files show: in
 * statistics.log the first entry is of 3 samples, Bs (the new starting
 * index) is > 0 once samples were dropped and the next entry's Ns is then
 * Ns - Bs + 1, at least minsamples (6) are kept, Nr <= Ns - Bs; in
 * tracking.log the first synchronised entry's Max. error is the
 * unsynchronised start's 1.5 s and the skew is never 0 while synchronised;
 * in selection.log the selected source's Score is 1.00.
 *
 * (`log refclocks` and `log tempcomp` have their own side-by-side tests:
 * refclocks_log_test.ts, tempcomp_test.ts.)
 *
 * Safety: -x (the clock is never changed), loopback, ports above 10000,
 * private chmod-700 directories; each daemon is stopped by its own PID.
 */
import assert from "node:assert/strict";
import {
  CHRONYD48,
  fakeServer,
  freePort,
  haveChrony,
  haveChrony48,
  startChronyd,
  startHorae,
} from "./harness.ts";

const enabled = haveChrony();
/** The reference daemons: chronyd 4.3 and, when it is there, 4.8. */
const REFS = ["chronyd", ...(enabled && haveChrony48() ? ["chronyd-4.8"] : [])];
const WHO = [...REFS, "horae"];

const LOG_BANNER = 10;
const KINDS = ["measurements", "statistics", "tracking", "selection"] as const;
type Kind = typeof KINDS[number];

const TIME = String.raw`\d{4}-\d\d-\d\d \d\d:\d\d:\d\d`;
/** `%10.3e` */
const E10 = String.raw`[ -]\d\.\d{3}e[-+]\d\d`;
/** The address column: 127.0.0.1 left-aligned in 15 characters. */
const ADDR = String.raw`127\.0\.0\.1      `;
/** A line of each file as chronyd 4.3 writes it for the source 127.0.0.1. */
const LINE: Record<Kind, RegExp> = {
  measurements: new RegExp(
    String.raw`^${TIME} ${ADDR} [N+\-?] [ \d]\d [01]{3} [01]{3} [01]{4} [ \d-]{2}\d [ \d-]\d` +
      String.raw` -?\d\.\d\d(?: ${E10}){5} [0-9A-F]{8} [124][BI] [DKH] [DKH]$`,
  ),
  statistics: new RegExp(
    String.raw`^${TIME} ${ADDR}(?: ${E10}){5} \d\.\de[-+]\d\d(?: [ \d]{2}\d){3} [ -]\d\.\d\d$`,
  ),
  selection: new RegExp(
    String.raw`^${TIME} ${ADDR} \S -[-N][-P][-T][-R] [ 0-7]{3}[0-7] [ \d]\d\.\d\d(?: ${E10}){3}$`,
  ),
  tracking: new RegExp(
    String
      .raw`^${TIME} (?:${ADDR}|0\.0\.0\.0        ) [ \d]\d [ \d-]{5,}\d\.\d{3} [ \d]{5,}\d\.\d{3}` +
      String.raw` ${E10} [N+\-?] [ \d]\d(?: ${E10}){5}$`,
  ),
};

interface LogFile {
  banner: string[];
  /** Entry indexes (0-based) that a banner precedes. */
  bannerAt: number[];
  entries: string[];
}

function parse(text: string): LogFile {
  const lines = text.split("\n").filter((l) => l !== "");
  const out: LogFile = { banner: [], bannerAt: [], entries: [] };
  for (let i = 0; i < lines.length; i++) {
    if (/^=+$/.test(lines[i]!)) {
      const banner = lines.slice(i, i + 3);
      if (out.banner.length === 0) out.banner = banner;
      else assert.deepEqual(banner, out.banner, "banners differ within a file");
      out.bannerAt.push(out.entries.length);
      i += 2;
    } else out.entries.push(lines[i]!);
  }
  return out;
}

async function read(path: string): Promise<LogFile> {
  return parse(await Deno.readTextFile(path).catch(() => ""));
}

/** statistics.log columns after the address: Ns, Bs, Nr (from the end) and Asym. */
function statColumns(line: string): { ns: number; bs: number; nr: number; asym: number } {
  const f = line.trim().split(/\s+/);
  return {
    ns: Number(f.at(-4)),
    bs: Number(f.at(-3)),
    nr: Number(f.at(-2)),
    asym: Number(f.at(-1)),
  };
}

Deno.test({
  name:
    "log files: measurements, statistics, tracking and selection.log laid out and meant as chronyd 4.3's",
  ignore: !enabled,
  async fn() {
    const port = freePort();
    const t0 = performance.now();
    // 5 ms ahead, then 10 ms after 8 s: old samples no longer fit and are dropped.
    const server = fakeServer(port, () => (performance.now() - t0 < 8000 ? 0.005 : 0.010));
    const logs = await Deno.makeTempDir({ prefix: "horae-logs-" });
    await Deno.chmod(logs, 0o700);
    const lines = (who: string) => [
      `server 127.0.0.1 port ${port} iburst minpoll -1 maxpoll -1`,
      `logdir ${logs}/${who}`,
      `logbanner ${LOG_BANNER}`,
      "log measurements statistics tracking selection",
    ];
    const refs = await Promise.all(
      REFS.map((who) =>
        startChronyd({ lines: lines(who), ...(who === "chronyd-4.8" ? { binary: CHRONYD48 } : {}) })
      ),
    );
    const horae = await startHorae(lines("horae"));
    const files: Record<string, Record<Kind, LogFile>> = {};
    try {
      // Until both have dropped samples after the jump and written a few entries more.
      const end = performance.now() + 45_000;
      while (performance.now() < end) {
        let ready = true;
        for (const who of WHO) {
          const stats = (await read(`${logs}/${who}/statistics.log`)).entries;
          const dropped = stats.findLastIndex((l) => statColumns(l).bs > 0);
          if (performance.now() - t0 < 12_000 || dropped < 0 || stats.length < dropped + 3) {
            ready = false;
          }
        }
        if (ready) break;
        await new Promise((r) => setTimeout(r, 500));
      }
    } finally {
      await horae.stop();
      for (const r of refs) await r.stop();
      await server.stop();
      for (const who of WHO) {
        files[who] = {} as Record<Kind, LogFile>;
        for (const kind of KINDS) files[who]![kind] = await read(`${logs}/${who}/${kind}.log`);
      }
      await Deno.remove(logs, { recursive: true });
    }

    for (const [kind, ref] of KINDS.flatMap((k) => REFS.map((r) => [k, r] as const))) {
      const theirs = files[ref]![kind], ours = files.horae![kind];
      assert.ok(theirs.entries.length >= 10, `${ref} wrote ${theirs.entries.length} ${kind}`);
      assert.ok(ours.entries.length >= 10, `horae wrote ${ours.entries.length} ${kind}`);
      assert.deepEqual(ours.banner, theirs.banner, `${kind}.log banner, horae and ${ref}`);
      for (const f of [theirs, ours]) {
        const every = Array.from(
          { length: Math.ceil(f.entries.length / LOG_BANNER) },
          (_, i) => i * LOG_BANNER,
        );
        assert.deepEqual(f.bannerAt, every, `${kind}.log banner every ${LOG_BANNER} entries`);
      }
      const columns = new Set(theirs.entries.map((l) => l.trim().split(/\s+/).length));
      assert.equal(columns.size, 1, `${ref}'s ${kind}.log: ${[...columns]} columns`);
      for (const [who, f] of [[ref, theirs], ["horae", ours]] as const) {
        for (const line of f.entries) {
          assert.match(line, LINE[kind], `${who}'s ${kind}.log`);
          assert.equal(line.trim().split(/\s+/).length, [...columns][0], `${who}: ${line}`);
        }
      }
    }

    for (const who of WHO) {
      // statistics.log: chrony.conf(5) and what chronyd 4.3 writes
      const stats = files[who]!.statistics.entries;
      const rows = stats.map(statColumns);
      assert.equal(rows[0]!.ns, 3, `${who}: first regression of 3 samples: ${stats[0]}`);
      assert.ok(rows.some((r) => r.bs > 0), `${who}: no samples ever dropped (Bs)`);
      for (let i = 0; i < rows.length; i++) {
        const r = rows[i]!;
        const at = `${who}: ${stats[i]}`;
        assert.ok(r.bs >= 0 && r.ns - r.bs >= Math.min(r.ns, 6), at);
        assert.ok(r.nr >= 1 && r.nr <= r.ns - r.bs, at);
        assert.ok(Math.abs(r.asym) <= 0.5, at);
        // Std dev'n, Offset sd, Est skew and Stress are not negative
        const f = stats[i]!.trim().split(/\s+/);
        for (const c of [3, 5, 7, 8]) assert.ok(Number(f[c]) >= 0, at);
        if (i + 1 < rows.length) {
          assert.equal(rows[i + 1]!.ns, r.ns - r.bs + 1, `${at}\nthen ${stats[i + 1]}`);
        }
      }
      // tracking.log: the start entry, then the first synchronised one after it
      const tracking = files[who]!.tracking.entries.map((l) => l.trim().split(/\s+/));
      assert.deepEqual(tracking[0]!.slice(2), [
        "0.0.0.0",
        "0",
        "0.000",
        "1000000.000",
        "0.000e+00",
        "?",
        "0",
        "0.000e+00",
        "-0.000e+00",
        "1.000e+00",
        "1.000e+00",
        "1.500e+00",
      ], who);
      const synced = tracking.slice(1);
      assert.ok(synced.length > 0, who);
      assert.equal(synced[0]![13], "1.500e+00", `${who}: ${synced[0]!.join(" ")}`);
      for (const f of synced) {
        assert.deepEqual([f[2], f[3], f[7], f[8]], ["127.0.0.1", "2", "N", "1"], f.join(" "));
        assert.ok(Number(f[5]) > 0, `${who}: skew 0 while synchronised: ${f.join(" ")}`);
      }
      // selection.log: the Score of the selected source is 1.00 (relative to itself)
      for (const line of files[who]!.selection.entries) {
        const f = line.trim().split(/\s+/);
        if (f[3] === "*") assert.equal(f[6], "1.00", `${who}: ${line}`);
      }
      // measurements.log (not raw): only responses that passed tests 1-7 (A-D may fail), at 2^-1 s
      for (const line of files[who]!.measurements.entries.slice(1)) {
        const f = line.trim().split(/\s+/);
        assert.deepEqual(
          [...f.slice(4, 7), ...f.slice(8, 10)],
          ["1", "111", "111", "-1", "-1"],
          line,
        );
        assert.equal(f[17], "4B", `${who}: ${line}`);
      }
    }
  },
});
