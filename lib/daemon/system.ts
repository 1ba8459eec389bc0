/**
 * The real system behind the daemon's interfaces: the system clock (Linux
 * adjtimex through ffi, wrapped read-only for `-x` and `-Q`) and name
 * resolution (getaddrinfo, which honours /etc/hosts as chronyd does).
 *
 * @example
 * ```ts
 * import { openSystemClock } from "./system.ts";
 * const clock = openSystemClock({ readOnly: true });
 * clock.now();
 * ```
 * @module
 */
import { adjtimex, capabilityBit, capget, getaddrinfo } from "../../ffi/libc.ts";
import { CAP } from "../../ffi/layout.ts";
import { SystemClock } from "../clock/system_clock.ts";
import { ReadOnlyClock } from "../clock/readonly_clock.ts";
import { realNow } from "../io/realtime.ts";
import type { TickingClock } from "./client_io.ts";
import type { Resolver } from "../engine/source_spec.ts";
import type { Logger } from "./log.ts";
import type { Timestamp } from "../time/timestamp.ts";

/** Options of {@link openSystemClock}. */
export interface SystemClockChoice {
  /** Never change the system clock (`-x`, `-Q`): compute on a virtual copy. */
  readOnly: boolean;
  /** maxslewrate, ppm. */
  maxSlewRate?: number;
  /** Another process changed the clock's frequency (chrony 4.7's interference detection). */
  onInterference?: () => void;
}

/** CLOCK_REALTIME as the system clocks read it, unless {@link cookedAt} pins it. */
let pinnedReal: Timestamp | null = null;
const systemNow = (): Timestamp => pinnedReal ?? realNow();

/**
 * The cooked time `clock` (opened by {@link openSystemClock}) shows when
 * CLOCK_REALTIME reads `real`, computed without reading the real clock (its
 * slew and frequency as they stand now): the server workers' model of the
 * cooked-minus-real offset (lib/daemon/server_workers.ts) is sampled with it.
 */
export function cookedAt(clock: TickingClock, real: Timestamp): Timestamp {
  pinnedReal = real;
  try {
    return clock.now();
  } finally {
    pinnedReal = null;
  }
}

/** The system clock, or a read-only view of it that still computes everything. */
export function openSystemClock(choice: SystemClockChoice): TickingClock {
  const options = choice.maxSlewRate !== undefined ? { maxSlewRate: choice.maxSlewRate } : {};
  if (choice.readOnly) {
    // Reads only: the wrapped clock is asked for raw time and the kernel frequency.
    const inner = new SystemClock({
      adjtimex: (tx) => adjtimex({ ...tx, modes: 0 }),
      now: systemNow,
    });
    return new ReadOnlyClock(inner, options);
  }
  return new SystemClock({
    adjtimex,
    now: systemNow,
    ...options,
    ...(choice.onInterference ? { onInterference: choice.onInterference } : {}),
  });
}

/**
 * Whether this process may adjust the clock: CAP_SYS_TIME in its effective
 * set (read with capget, nothing is changed). False in a container started
 * without it (Docker and podman drop it by default).
 */
export function mayAdjustClock(): boolean {
  return (capget().effective & capabilityBit(CAP.SYS_TIME)) !== 0n;
}

/** The fatal message when the clock cannot be adjusted: what CAP_SYS_TIME and -x each do. */
export const NO_CLOCK_CONTROL_MESSAGE = "Cannot adjust the system clock: " +
  "CAP_SYS_TIME lets chronyd slew and step the clock (run it as root, or give it the " +
  "capability, e.g. --cap-add SYS_TIME for a container); -x runs it without adjusting the " +
  "clock, still measuring sources and serving time";

/** Name resolution through getaddrinfo; failures are logged as chronyd does. */
export function systemResolver(log: Logger): Resolver {
  return async (name, family) => {
    try {
      return (await getaddrinfo(name, family)).map((a) => a.address);
    } catch (e) {
      log.warn(`Could not resolve address of ${name} : ${(e as Error).message}`);
      return [];
    }
  };
}

/**
 * The `initstepslew` servers' addresses (the first of each name, once),
 * resolved as chronyd does when it reads the configuration (also with -p);
 * a name that does not resolve is logged and dropped.
 */
export async function resolveInitStepSlew(
  hosts: readonly string[],
  family: "ipv4" | "ipv6" | undefined,
  log: Logger,
): Promise<string[]> {
  const addresses: string[] = [];
  for (const host of hosts) {
    const found = await getaddrinfo(host, family).then((a) => a.map((x) => x.address), () => []);
    if (found.length === 0) log.warn(`Could not resolve address of initstepslew server ${host}`);
    else if (!addresses.includes(found[0]!)) addresses.push(found[0]!);
  }
  return addresses;
}
