/**
 * Wiring of the HTTP endpoint into the running daemon (`httpport` > 0):
 * what lib/http/observe.ts reads, taken from the daemon's state.
 *
 * @module
 */

import type { Config } from "../conf/config.ts";
import type { DaemonState } from "./state.ts";
import { DaemonBackend } from "./cmdmon_backend.ts";
import { systemBackendServices } from "./backend_services.ts";
import type { ReferenceDiscipline } from "../engine/discipline.ts";
import { AddressFilter } from "../ntp/addrfilt.ts";
import { realNow } from "../io/realtime.ts";
import { VERSION } from "../version.ts";
import { type Observer, startObserver } from "../http/observe.ts";

/** 127.0.0.1 and ::1 are always allowed, as for cmdallow. */
function isLocalhost(a: string): boolean {
  return a === "127.0.0.1" || a === "::1";
}

/** Starts the endpoint when `httpport` is set; null otherwise. */
export function startDaemonObserver(
  state: DaemonState,
  discipline: ReferenceDiscipline,
  ntsKe: () => { served: number; dropped: number; failed: number } | null,
  accessRules: (rules: Config["httpAccess"]) => Parameters<typeof AddressFilter.fromRules>[0],
  family: "any" | "ipv4" | "ipv6",
): Observer | null {
  const c = state.config;
  if (c.httpPort === 0) return null;
  const filter = AddressFilter.fromRules(accessRules(c.httpAccess));
  return startObserver({
    backend: new DaemonBackend(state, systemBackendServices(state.clock)),
    reason: (i) => state.engine.sourceSnapshot(i)?.status?.reason,
    clockCounters: () => ({
      updates: state.reference.updates,
      steps: discipline.steps,
      ignored: discipline.ignored,
    }),
    clientLog: state.clientLog,
    ntsKe,
    ntsCertFiles: c.ntsServerCerts,
    allowed: (a) => isLocalhost(a) || filter.isAllowed(a),
    addresses: [c.bindHttpAddress.ipv4 ?? "127.0.0.1", c.bindHttpAddress.ipv6 ?? "::1"].filter(
      (a) => family === "any" || (family === "ipv4") === !a.includes(":"),
    ),
    port: c.httpPort,
    now: () => Number(realNow()) / 1e9,
    version: VERSION,
    log: (m) => state.log.warn(m),
  });
}
