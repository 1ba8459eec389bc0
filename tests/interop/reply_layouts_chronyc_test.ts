/**
 * The reply layout tables read by chrony's own chronyc: a cmdmon server whose
 * backend fills every field of every report with a different value answers
 * the real chronyc 4.3 (SERVER_STATS3, NTP_DATA) and 4.8 (SERVER_STATS4,
 * NTP_DATA2), and horae's chronyc; with and without `-c` (no masking) both
 * print the same thing (legends of `-v` are our own words: not compared). A field at the wrong offset, of the wrong width or
 * sign in a table moves a value into another column of chrony's output.
 * @module
 */
import assert from "node:assert/strict";
import { runChronyc } from "../../lib/cmdmon/chronyc.ts";
import type { CmdmonBackend, Maybe } from "../../lib/cmdmon/handlers.ts";
import type {
  ActivityReport,
  AuthDataReport,
  ClientAccessesPage,
  ManualSample,
  NtpDataReport,
  RtcReport,
  SelectDataReport,
  ServerStatsReport,
  SmoothingReport,
  SourceReport,
  SourceStatsReport,
  TrackingReport,
} from "../../lib/cmdmon/reports.ts";
import { type CmdAddress, Status } from "../../lib/cmdmon/wire.ts";
import { chronycProcessIo } from "../../lib/daemon/chronyc_main.ts";
import { startCmdmonServer } from "../../lib/io/cmdmon_server.ts";
import { CHRONYC48, haveChrony, haveChrony48, runCommand } from "./harness.ts";

const have = haveChrony();
const have48 = haveChrony48();

const A: CmdAddress = { family: "inet4", address: "192.0.2.11" };
const B: CmdAddress = { family: "inet6", address: "2001:db8::22" };
const T = 1_795_431_457_123_456_789n;

/** Every field a different value (signs and widths exercised where the type allows). */
class DistinctBackend implements CmdmonBackend {
  #addrs = [A, B];
  #at(a: CmdAddress): number {
    return this.#addrs.findIndex((x) => JSON.stringify(x) === JSON.stringify(a));
  }
  nSources(): number {
    return 2;
  }
  sourceData(i: number): Maybe<SourceReport> {
    const address = this.#addrs[i];
    if (!address) return { status: Status.NOSUCHSOURCE };
    return {
      address,
      poll: i === 0 ? -3 : 10,
      stratum: 3 + i,
      state: i === 0 ? 0 : 2,
      mode: i,
      flags: i === 0 ? 0 : 3,
      reachability: i === 0 ? 0o377 : 0o5,
      sinceSample: 1234 + i,
      origLatestMeas: -0.0001234567,
      latestMeas: 0.0002345678,
      latestMeasErr: 0.0345678,
    };
  }
  tracking(): TrackingReport {
    return {
      refId: 0xc000020b,
      address: A,
      stratum: 4,
      leapStatus: 1,
      refTime: T,
      currentCorrection: -0.000012345,
      lastOffset: 0.000023456,
      rmsOffset: 0.000034567,
      freqPpm: -12.345,
      residFreqPpm: 0.0456,
      skewPpm: 0.567,
      rootDelay: 0.0123456,
      rootDispersion: 0.00234567,
      lastUpdateInterval: 129.5,
    };
  }
  sourceStats(i: number): Maybe<SourceStatsReport> {
    const address = this.#addrs[i];
    if (!address) return { status: Status.NOSUCHSOURCE };
    return {
      refId: 0xc000020b + i,
      address,
      nSamples: 11 + i,
      nRuns: 5 + i,
      spanSeconds: 777 + i,
      sd: 0.0000456,
      residFreqPpm: -0.789,
      skewPpm: 1.234,
      estOffset: -0.0000345,
      estOffsetErr: 0.0000567,
    };
  }
  selectData(i: number): Maybe<SelectDataReport> {
    const address = this.#addrs[i];
    if (!address) return { status: Status.NOSUCHSOURCE };
    return {
      refId: 0xc000020b + i,
      address,
      stateChar: i === 0 ? "*" : "x",
      authentication: i,
      leap: 2,
      confOptions: i === 0 ? 0x5 : 0xa,
      effOptions: i === 0 ? 0x3 : 0xc,
      lastSampleAgo: 4321 + i,
      score: 1.5,
      loLimit: -0.00123,
      hiLimit: 0.00456,
    };
  }
  activity(): ActivityReport {
    return { online: 7, offline: 3, burstOnline: 2, burstOffline: 1, unresolved: 5 };
  }
  serverStats(): ServerStatsReport {
    return {
      version: 4,
      ntpHits: 101,
      nkeHits: 102,
      cmdHits: 103,
      ntpDrops: 104,
      nkeDrops: 105,
      cmdDrops: 106,
      logDrops: 107,
      ntpAuthHits: 108,
      ntpInterleavedHits: 109,
      ntpTimestamps: 110,
      ntpSpanSeconds: 111,
      ntpDaemonRxTimestamps: 112,
      ntpDaemonTxTimestamps: 113,
      ntpKernelRxTimestamps: 114,
      ntpKernelTxTimestamps: 115,
      ntpHwRxTimestamps: 116,
      ntpHwTxTimestamps: 117,
    };
  }
  clientAccesses(first: number): Maybe<ClientAccessesPage> {
    const clients = first > 0 ? [] : [A, B].map((address, i) => ({
      address,
      ntpHits: 201 + i,
      nkeHits: 203 + i,
      cmdHits: 205 + i,
      ntpDrops: 207 + i,
      nkeDrops: 209 + i,
      cmdDrops: 211 + i,
      ntpInterval: 3 + i,
      nkeInterval: -2 - i,
      cmdInterval: 6 + i,
      ntpTimeoutInterval: 8 + i,
      lastNtpHitAgo: 301 + i,
      lastNkeHitAgo: 303 + i,
      lastCmdHitAgo: 305 + i,
    }));
    return { nIndices: 2, nextIndex: 2, clients };
  }
  ntpData(a: CmdAddress): Maybe<NtpDataReport> {
    if (this.#at(a) < 0) return { status: Status.NOSUCHSOURCE };
    return {
      remoteAddress: a,
      localAddress: { family: "inet4", address: "192.0.2.100" },
      remotePort: 12345,
      leap: 1,
      version: 3,
      mode: 4,
      stratum: 5,
      poll: -2,
      precision: -23,
      rootDelay: 0.00345,
      rootDispersion: 0.00456,
      refId: 0x7f7f0101,
      refTime: T,
      offset: -0.000006789,
      peerDelay: 0.0000234,
      peerDispersion: 0.000000345,
      responseTime: 0.0000456,
      jitterAsymmetry: -0.25,
      flags: 0x2d5 | 0x4000,
      txTssChar: 0x48,
      rxTssChar: 0x4b,
      totalTxCount: 401,
      totalRxCount: 402,
      totalValidCount: 403,
      totalGoodCount: 404,
      totalKernelTxTs: 405,
      totalKernelRxTs: 406,
      totalHwTxTs: 407,
      totalHwRxTs: 408,
    };
  }
  authData(a: CmdAddress): Maybe<AuthDataReport> {
    const i = this.#at(a);
    if (i < 0) return { status: Status.NOSUCHSOURCE };
    return {
      mode: 2 - i,
      keyType: 13 + i,
      keyId: 17 + i,
      keyLength: 256 - i,
      keAttempts: 3 + i,
      lastKeAgo: 501 + i,
      cookies: 7 - i,
      cookieLength: 100 + i,
      nak: i,
    };
  }
  sourceName(a: CmdAddress): Maybe<string> {
    const i = this.#at(a);
    return i < 0 ? { status: Status.NOSUCHSOURCE } : ["one.example.net", "two.example.net"][i]!;
  }
  manualList(): Maybe<ManualSample[]> {
    return [1, 2].map((k) => ({
      when: T + BigInt(k) * 60_000_000_000n,
      slewedOffset: 0.0123 * k,
      origOffset: -0.0234 * k,
      residual: 0.00345 * k,
    }));
  }
  rtcReport(): Maybe<RtcReport> {
    return {
      refTime: T,
      nSamples: 9,
      nRuns: 4,
      spanSeconds: 3456,
      rtcSecondsFast: -1.2345,
      rtcGainRatePpm: 2.3456,
    };
  }
  smoothing(): Maybe<SmoothingReport> {
    return {
      active: true,
      leapOnly: false,
      offset: -0.000123,
      freqPpm: 0.0456,
      wanderPpm: 0.00789,
      lastUpdateAgo: 12.5,
      remainingTime: 345.375,
    };
  }
}

const REPORTS = [
  "tracking",
  "sources",
  "sourcestats",
  "selectdata",
  "authdata",
  "ntpdata",
  "serverstats",
  "clients",
  "clients -k",
  "activity",
  "smoothing",
  "rtcdata",
  "manual list",
  "sourcename 192.0.2.11",
];

/** Columns the newer layouts add to `-c` output (NTP_DATA2's and SERVER_STATS4's counters). */
const NEWER_COLUMNS: Record<string, number> = { ntpdata: 4, serverstats: 6 };

/** Drops the last `n` comma-separated columns of each CSV line. */
function dropColumns(text: string, n: number): string {
  if (n === 0) return text;
  return text.split("\n").map((l) => l.includes(",") ? l.split(",").slice(0, -n).join(",") : l)
    .join("\n");
}

async function horae(args: string[]): Promise<string> {
  let text = "";
  const io = {
    ...chronycProcessIo(),
    stdout: (t: string) => (text += t),
    stderr: (t: string) => (text += t),
  };
  const code = await runChronyc(args, io);
  return `${text}[exit ${code}]`;
}

async function real(binary: string, args: string[]): Promise<string> {
  const r = await runCommand(binary, args, { timeoutMs: 20_000 });
  return `${r.stdout}${r.stderr}[exit ${r.code}]`;
}

Deno.test({
  name: "chronyc 4.3 and 4.8 read every field of horae's replies where horae's chronyc does",
  ignore: !have,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "horae-layouts-" });
    await Deno.chmod(dir, 0o700);
    const server = await startCmdmonServer(new DistinctBackend(), {
      socketPath: `${dir}/chronyd.sock`,
      port: 0,
    });
    try {
      const clients = [["/usr/bin/chronyc", "4.3"], ...(have48 ? [[CHRONYC48, "4.8"]] : [])];
      for (const [binary, version] of clients) {
        for (const csv of [true, false]) {
          for (const r of REPORTS) {
            // horae's chronyc pads for the newest layouts (NTP_DATA2, SERVER_STATS4);
            // chronyc 4.3's shorter requests get NTP_DATA and SERVER_STATS3, which
            // lack the last 4 and 6 values (columns with -c, lines without)
            const extra = version === "4.3" ? NEWER_COLUMNS[r] ?? 0 : 0;
            if (extra > 0 && !csv) continue;
            const args = [
              "-n",
              ...(csv ? ["-c"] : []),
              "-h",
              `${dir}/chronyd.sock`,
              ...r.split(" "),
            ];
            const want = await real(binary!, args);
            assert.match(want, /\[exit 0\]$/, `chronyc ${version} ${r}: ${want}`);
            const got = dropColumns(await horae(args), extra);
            assert.equal(got, want, `chronyc ${version} ${args.join(" ")}`);
          }
        }
      }
    } finally {
      await server.close();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});
