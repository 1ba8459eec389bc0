/**
 * `hwtimestamp` at start-up, until hardware timestamping is implemented: what
 * chronyd 4.3 does for interfaces without it is done (a named interface
 * without hardware timestamping, or missing, is fatal: "Could not enable HW
 * timestamping on NAME"; `hwtimestamp *` passes over such interfaces
 * silently), and an interface that has it gets `"hwtimestamp" is not
 * supported yet`. An interface has it when its driver reports raw hardware
 * time stamps (ethtool's ETHTOOL_GET_TS_INFO).
 *
 * @example
 * ```ts
 * import { checkHwTimestamping } from "./hwtimestamp.ts";
 * const r = checkHwTimestamping([{ name: "hwtimestamp", args: ["*"], file: "c.conf", line: 1 }]);
 * r.fatal; // null: no interface without it is named
 * ```
 * @module
 */

import { interfaceTimestamping } from "../../ffi/libc.ts";
import {
  SOF_TIMESTAMPING_RAW_HARDWARE,
  SOF_TIMESTAMPING_RX_HARDWARE,
  SOF_TIMESTAMPING_TX_HARDWARE,
} from "../../ffi/layout.ts";
import type { UnsupportedUse } from "../conf/support.ts";

/** The parts of a parsed directive this check reads. */
export interface HwDirective {
  name: string;
  args: readonly string[];
  file: string;
  line: number;
}

/** Outcome: a fatal message (chronyd's wording), and uses to report as not supported yet. */
export interface HwTimestampCheck {
  fatal: string | null;
  unsupported: UnsupportedUse[];
}

/** Whether interface `name` has hardware time stamping; false when it is missing. */
export function hasHardwareTimestamping(name: string): boolean {
  try {
    const caps = interfaceTimestamping(name).soTimestamping;
    return (caps & SOF_TIMESTAMPING_RAW_HARDWARE) !== 0 &&
      (caps & (SOF_TIMESTAMPING_RX_HARDWARE | SOF_TIMESTAMPING_TX_HARDWARE)) !== 0;
  } catch {
    return false;
  }
}

/** Every network interface of this host (/sys/class/net), sorted. */
export function interfaceNames(): string[] {
  try {
    return [...Deno.readDirSync("/sys/class/net")].map((e) => e.name).sort();
  } catch {
    return [];
  }
}

/** Checks the `hwtimestamp` directives; see the module documentation. */
export function checkHwTimestamping(
  directives: readonly HwDirective[],
  has: (name: string) => boolean = hasHardwareTimestamping,
  interfaces: () => string[] = interfaceNames,
): HwTimestampCheck {
  const unsupported: UnsupportedUse[] = [];
  for (const d of directives) {
    if (d.name !== "hwtimestamp") continue;
    const iface = d.args[0] ?? "";
    const use = { file: d.file, line: d.line, what: "hwtimestamp" };
    if (iface === "*") {
      if (interfaces().some(has)) unsupported.push(use);
    } else if (has(iface)) {
      unsupported.push(use);
    } else {
      return { fatal: `Could not enable HW timestamping on ${iface}`, unsupported };
    }
  }
  return { fatal: null, unsupported };
}
