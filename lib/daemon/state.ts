/**
 * What the running daemon holds, as the cmdmon backend and the HTTP observer
 * read it. Its own module so that daemon.ts (which builds it) and
 * cmdmon_backend.ts (which reads it) do not import each other.
 *
 * @example
 * ```ts
 * import type { DaemonState } from "./state.ts";
 * function sourceCount(state: DaemonState): number {
 *   return state.engine.sourceCount();
 * }
 * ```
 * @module
 */
import type { Config, SourceConfig } from "../conf/config.ts";
import type { ChronydOptions } from "../conf/cli.ts";
import type { Engine } from "../engine/engine.ts";
import type { ReferenceDiscipline } from "../engine/discipline.ts";
import type { ManualInput } from "../clock/manual.ts";
import type { Reference } from "../clock/reference.ts";
import type { Smoothing } from "../clock/smoothing.ts";
import type { RunningRtc } from "./rtc.ts";
import type { AddressFilter } from "../ntp/addrfilt.ts";
import type { ClientLog } from "../ntp/clientlog.ts";
import type { NtpServer, ServerReference } from "../ntp/server.ts";
import type { ClientIo, TickingClock } from "./client_io.ts";
import type { KeyStore } from "./keys.ts";
import type { Logger } from "./log.ts";
import type { SourceManager } from "./source_manager.ts";

/** Everything the daemon runs; the cmdmon backend reads it. */
export interface DaemonState {
  config: Config;
  options: ChronydOptions;
  log: Logger;
  clock: TickingClock;
  engine: Engine;
  reference: Reference;
  /** The discipline over `reference` (manual corrections are logged through it). */
  discipline: ReferenceDiscipline;
  /** Manual time input (`manual`, chronyc `settime`). */
  manual: ManualInput;
  io: ClientIo;
  clientLog: ClientLog;
  ntpAccess: AddressFilter;
  cmdAccess: AddressFilter;
  server: NtpServer | null;
  /** NIC stamps the NTP server used (`serverstats` HW counters). */
  serverHwStamps?(): { rx: number; tx: number };
  serverReference: ServerReference;
  /** `smoothtime`: the server time smoothing, null without the directive. */
  smoothing: Smoothing | null;
  /** `rtcfile`: RTC tracking, null without the directive or a device. */
  rtc?: RunningRtc | null;
  startTime: bigint;
  /** `smoothtime activate` (and the automatic start): logs "Time smoothing activated". */
  activateSmoothing(): void;
  /** Ask the daemon to stop (chronyc shutdown, signals, -t). */
  shutdown(): void;
  /** Reopen the log files (chronyc cyclelogs). */
  cycleLogs(): void;
  /** Write the driftfile now. */
  saveDrift(): void;
  /** `dumpdir`: write each source's measurement history now; false if a file failed. */
  dumpHistories?(): boolean;
  /** `ntsdumpdir`: write the NTS client cookies and server keys now (chronyc dump). */
  dumpNts?(): void;
  /** Recompute what the NTP server serves (after a manual correction). */
  refreshServerReference?(): void;
  /** The source lines and their NTS state. */
  sources: SourceManager;
  /** The key file's keys (`keyfile`; `chronyc rekey` reloads). */
  keys: KeyStore;
  /** `chronyc rekey`: re-reads ntskeys when `ntsrotate` is 0. */
  reloadNtsKeys?(): void;
  /** Add a source from a `server`/`pool`/`peer` line (chronyc add). */
  addSource(sc: SourceConfig): Promise<number>;
}
