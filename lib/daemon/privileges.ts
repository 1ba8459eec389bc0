/**
 * Process privileges of the daemon (chronyd(8) `-u`, `-m`, `-P`, `-F`;
 * chrony.conf(5) `user`, `lock_all`, `sched_priority`).
 *
 * Order, as run by `lib/daemon/daemon.ts`:
 * 1. {@link planPrivileges} before anything is opened: which user (from
 *    /etc/passwd, parsed here so it is testable) and which capabilities to
 *    keep; {@link prepareDirectories} creates the missing directories the
 *    daemon writes to (with or without a switch; given to that user).
 * 2. After every socket is open: {@link applyProcessSettings} locks memory
 *    (`mlockall(MCL_CURRENT|MCL_FUTURE|MCL_ONFAULT)`: pages are locked as
 *    they are touched, so V8's reserved heap is not populated - about 55 MB
 *    resident instead of 670 MB), sets SCHED_FIFO (calling thread; threads
 *    it creates later inherit it), then
 *    {@link dropRoot}: supplementary groups cleared, setgid, setuid with
 *    PR_SET_KEEPCAPS, and capset to keep only CAP_SYS_TIME (plus
 *    CAP_NET_BIND_SERVICE when `acquisitionport` is privileged). `-m` first
 *    lifts RLIMIT_MEMLOCK, as the threads without capabilities still map
 *    memory.
 *
 * Without `-u`/`user` horae stays root (chronyd would switch to its
 * compiled-in `_chrony`); see docs/STATUS.md.
 *
 * @example
 * ```ts
 * import { findUser } from "./privileges.ts";
 * const nobody = findUser("nobody", "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n");
 * nobody?.uid; // 65534
 * ```
 * @module
 */
import type { Config } from "../conf/config.ts";
import type { ChronydOptions } from "../conf/cli.ts";
import type { Logger } from "./log.ts";
import { strerror } from "./files.ts";
import { isOsError } from "../io/os_error.ts";
import { CAP, MCL, SCHED } from "../../ffi/layout.ts";
import {
  capabilityBit,
  capget,
  capset,
  clearGroups,
  mlockall,
  schedSetScheduler,
  setgid,
  setKeepCaps,
  setuid,
  unlimitLockedMemory,
} from "../../ffi/libc.ts";

/** chronyd's compiled-in default user on Debian (chronyd(8) `-u`). */
export const DEFAULT_USER = "_chrony";

/** One line of passwd(5). */
export interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
  shell: string;
}

/** A failure to resolve the user or to drop privileges; `step` names what failed. */
export class PrivilegeError extends Error {
  /** `"user"`, `"setgroups"`, `"setgid"`, `"setuid"`, `"capset"`, ... */
  readonly step: string;
  constructor(step: string, message: string) {
    super(message);
    this.name = "PrivilegeError";
    this.step = step;
  }
}

/**
 * Parses passwd(5) text (`name:password:uid:gid:gecos:home:shell`). Comments,
 * blank lines, NIS compat lines (`+`/`-`) and lines whose ids are not
 * decimal numbers are skipped.
 */
export function parsePasswd(text: string): PasswdEntry[] {
  const out: PasswdEntry[] = [];
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#") || line.startsWith("+") || line.startsWith("-")) {
      continue;
    }
    const f = line.split(":");
    if (f.length < 7 || f[0] === "") continue;
    const uid = decimalId(f[2]!);
    const gid = decimalId(f[3]!);
    if (uid === null || gid === null) continue;
    out.push({ name: f[0]!, uid, gid, home: f[5]!, shell: f[6]!.replace(/\r$/, "") });
  }
  return out;
}

function decimalId(s: string): number | null {
  if (!/^[0-9]{1,10}$/.test(s)) return null;
  const n = Number(s);
  return n <= 0xffffffff ? n : null;
}

/** The first passwd(5) entry named `name` (as getpwnam(3) finds it), or null. */
export function findUser(name: string, passwdText: string): PasswdEntry | null {
  return parsePasswd(passwdText).find((e) => e.name === name) ?? null;
}

/** What the daemon does with its privileges after opening its sockets. */
export interface PrivilegePlan {
  /** The user to switch to; null: stay as we are. */
  user: PasswdEntry | null;
  /** Capability numbers kept after the switch. */
  keep: number[];
  /** `-m`/`lock_all`. */
  lockMemory: boolean;
  /** SCHED_FIFO priority; 0 = leave the scheduler alone. */
  schedPriority: number;
}

/** Reads /etc/passwd; the daemon's default `readPasswd`. */
export function readSystemPasswd(): string {
  return Deno.readTextFileSync("/etc/passwd");
}

/**
 * chronyd's "Running with root privileges" condition: the process is root and
 * the user named by `-u`/`user` is root, so no switch happens (chronyd 4.3
 * logs it, `chronyd -Q -u root` too). Without a named user horae logs its own
 * message instead (see {@link planPrivileges}).
 */
export function staysRoot(
  config: Config,
  o: ChronydOptions,
  deps: { readPasswd?: () => string; uid?: number } = {},
): boolean {
  const name = o.user ?? config.user ?? null;
  if (name === null || (deps.uid ?? Deno.uid() ?? 0) !== 0) return false;
  return safeFind(name, deps.readPasswd ?? readSystemPasswd)?.uid === 0;
}

/**
 * Decides the privilege plan. The user comes from `-u`, else `user`; none
 * given: no switch (logged, see the module doc). A named user missing from
 * passwd throws {@link PrivilegeError}. User root (uid and gid 0), or a
 * process not running as root, means no switch.
 */
export function planPrivileges(
  config: Config,
  o: ChronydOptions,
  deps: { readPasswd?: () => string; uid?: number; log?: Logger } = {},
): PrivilegePlan {
  const readPasswd = deps.readPasswd ?? readSystemPasswd;
  const uid = deps.uid ?? Deno.uid() ?? 0;
  const lockMemory = o.lockMemory || config.lockAll;
  const schedPriority = o.priority > 0 ? o.priority : config.schedPriority;
  const name = o.user ?? config.user ?? null;
  const plan: PrivilegePlan = { user: null, keep: [], lockMemory, schedPriority };
  if (name === null) {
    const exists = safeFind(DEFAULT_USER, readPasswd) !== null;
    deps.log?.info(
      `No user given (-u, user): not dropping root privileges` +
        (exists ? ` (chronyd's default ${DEFAULT_USER} exists; use -u ${DEFAULT_USER})` : ""),
    );
    return plan;
  }
  const user = safeFind(name, readPasswd);
  if (user === null) throw new PrivilegeError("user", `Could not get user/group ID of ${name}`);
  if ((user.uid === 0 && user.gid === 0) || uid !== 0) return plan;
  plan.user = user;
  plan.keep = capabilitiesToKeep(config);
  return plan;
}

function safeFind(name: string, readPasswd: () => string): PasswdEntry | null {
  try {
    return findUser(name, readPasswd());
  } catch (e) {
    if (!isOsError(e)) throw e;
    return null; // no readable /etc/passwd: an unknown user, as getpwnam() fails for chronyd
  }
}

/**
 * The capabilities kept after the switch: CAP_SYS_TIME (adjtimex and
 * clock_adjtime; kept with `-x` too), and CAP_NET_BIND_SERVICE when
 * `acquisitionport` is below 1024 (client sockets of sources added later
 * bind it).
 */
export function capabilitiesToKeep(config: Config): number[] {
  const keep: number[] = [CAP.SYS_TIME];
  const acq = config.acquisitionPort;
  if (acq !== undefined && acq > 0 && acq < 1024) keep.push(CAP.NET_BIND_SERVICE);
  return keep.sort((a, b) => a - b);
}

/** A list of capability numbers as one bit set. */
export function capabilityMask(caps: readonly number[]): bigint {
  return caps.reduce((m, c) => m | capabilityBit(c), 0n);
}

/** The file operations {@link prepareDirectories} needs (fakes in tests). */
export interface DirectoryOps {
  /** stat (following symlinks): null when the path does not exist. */
  stat(path: string): { isDirectory: boolean; uid: number; gid: number; mode: number } | null;
  /** mkdir(2): `mode` is subject to the umask, as in chronyd. */
  mkdir(path: string, mode: number): void;
  chown(path: string, uid: number, gid: number): void;
}

const systemDirectoryOps: DirectoryOps = {
  stat(path) {
    try {
      const s = Deno.statSync(path);
      return { isDirectory: s.isDirectory, uid: s.uid ?? 0, gid: s.gid ?? 0, mode: s.mode ?? 0 };
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return null;
      throw e;
    }
  },
  mkdir: (path, mode) => Deno.mkdirSync(path, { mode }),
  chown: (path, uid, gid) => Deno.chownSync(path, uid, gid),
};

function dirname(path: string): string {
  const i = path.lastIndexOf("/");
  return i <= 0 ? (path.startsWith("/") ? "/" : ".") : path.slice(0, i);
}

/** Mode of a created `logdir`, `dumpdir` or `ntsdumpdir` (chronyd 4.3; umask applies). */
export const DATA_DIR_MODE = 0o750;
/** Mode of created parent directories (chronyd 4.3; umask applies). */
export const PARENT_DIR_MODE = 0o755;

/**
 * At start-up, with or without a switch of user: creates the missing
 * directories the daemon writes to, with their missing parents, as chronyd
 * does: the command socket's directory (mode 0770) and `logdir`, `dumpdir`
 * and `ntsdumpdir` (0750); parents 0755; modes subject to the umask. With a
 * `user` to switch to, the directory itself (not its parents) is given to
 * it. Existing directories are never changed (packaging owns them); with a
 * `user`, those and the directories of the driftfile and the pidfile get a
 * warning when it cannot write there. A failure is not fatal (chronyd goes
 * on too): it is returned as a message ("Could not create directory D :
 * reason", "D is not directory").
 */
export function prepareDirectories(
  config: Config,
  user: PasswdEntry | null,
  ops: DirectoryOps = systemDirectoryOps,
): string[] {
  const warnings: string[] = [];
  const owned: [string, number][] = [];
  const unix = config.bindCmdAddress.unixPath;
  if (unix) owned.push([dirname(unix), 0o770]);
  for (const d of [config.logDir, config.dumpDir, config.ntsDumpDir]) {
    if (d) owned.push([d, DATA_DIR_MODE]);
  }
  const checked = new Set<string>();
  for (const [dir, mode] of owned) {
    const problem = createWithParents(dir, mode, user, ops);
    if (problem !== null) warnings.push(problem);
    checked.add(dir);
  }
  if (user === null) return warnings;
  if (config.driftFile?.path) checked.add(dirname(config.driftFile.path));
  if (config.pidFile) checked.add(dirname(config.pidFile));
  for (const dir of checked) {
    const s = ops.stat(dir);
    if (s !== null && s.isDirectory && !writableBy(s, user)) {
      warnings.push(`Directory ${dir} is not writable by user ${user.name}`);
    }
  }
  return warnings;
}

/** Creates `dir` and its missing parents; null when done, else the problem. */
function createWithParents(
  dir: string,
  mode: number,
  user: PasswdEntry | null,
  ops: DirectoryOps,
): string | null {
  const missing: string[] = [];
  let d = dir.length > 1 ? dir.replace(/\/+$/, "") : dir;
  const target = d;
  for (; d !== "/" && d !== "." && d !== ""; d = dirname(d)) {
    let s;
    try {
      s = ops.stat(d);
    } catch (e) {
      return `Could not access ${d} : ${strerror(e)}`;
    }
    if (s === null) {
      missing.push(d);
      continue;
    }
    if (!s.isDirectory) return `${d} is not directory`;
    break;
  }
  for (const m of missing.reverse()) {
    try {
      ops.mkdir(m, m === target ? mode : PARENT_DIR_MODE);
      if (m === target && user !== null) ops.chown(m, user.uid, user.gid);
    } catch (e) {
      return `Could not create directory ${m} : ${strerror(e)}`;
    }
  }
  return null;
}

/** Whether `user` (no supplementary groups) may create files in a directory with this stat. */
export function writableBy(
  s: { uid: number; gid: number; mode: number },
  user: PasswdEntry,
): boolean {
  if (s.uid === user.uid) return (s.mode & 0o300) === 0o300;
  if (s.gid === user.gid) return (s.mode & 0o030) === 0o030;
  return (s.mode & 0o003) === 0o003;
}

/**
 * Switches the process to `user`, keeping only the capabilities `keep`
 * (numbers). glibc's setgroups/setgid/setuid change every thread; the
 * capabilities are kept by the calling (JS) thread, which makes the
 * adjtimex/clock_adjtime calls; Deno's other threads end with none.
 * Throws {@link PrivilegeError}.
 */
export function dropRoot(user: PasswdEntry, keep: readonly number[]): void {
  const step = (name: string, f: () => void) => {
    try {
      f();
    } catch (e) {
      throw new PrivilegeError(name, `Could not ${name} : ${(e as Error).message}`);
    }
  };
  const mask = capabilityMask(keep);
  step("prctl", () => setKeepCaps(true));
  step("setgroups", () => clearGroups());
  step("setgid", () => setgid(user.gid));
  step("setuid", () => setuid(user.uid));
  step("prctl", () => setKeepCaps(false));
  step("capset", () => capset({ effective: mask, permitted: mask, inheritable: 0n }));
  const now = capget();
  if (now.effective !== mask || now.permitted !== mask) {
    throw new PrivilegeError("capset", "Capabilities not as requested after capset");
  }
}

/**
 * Carries out a plan after the sockets are open: memory lock, SCHED_FIFO
 * (failures logged, not fatal, as chronyd), then the switch of user
 * (failure throws {@link PrivilegeError}: the daemon must not run with more
 * privileges than asked for).
 */
export function applyProcessSettings(plan: PrivilegePlan, log: Logger): void {
  if (plan.lockMemory) {
    // Capabilities are per thread: after the switch Deno's other threads
    // (V8's GC, the blocking pool) have no CAP_IPC_LOCK, so with MCL_FUTURE
    // their new mappings must fit RLIMIT_MEMLOCK. Unlimited, or only the
    // current memory is locked (V8 aborts when a mapping fails).
    let flags = MCL.CURRENT | MCL.FUTURE | MCL.ONFAULT;
    try {
      unlimitLockedMemory();
    } catch (e) {
      if (plan.user !== null) {
        flags = MCL.CURRENT | MCL.ONFAULT;
        log.warn(
          `Could not raise RLIMIT_MEMLOCK : ${(e as Error).message}; locking only current memory`,
        );
      }
    }
    try {
      mlockall(flags);
    } catch (e) {
      log.error(`Could not lock memory : ${(e as Error).message}`);
    }
  }
  if (plan.schedPriority > 0) {
    try {
      schedSetScheduler(SCHED.FIFO, plan.schedPriority);
    } catch (e) {
      log.error(
        `Could not set SCHED_FIFO priority ${plan.schedPriority} : ${(e as Error).message}`,
      );
    }
  }
  if (plan.user !== null) {
    // A container (or a unit's CapabilityBoundingSet) may not grant CAP_SYS_TIME:
    // keep what we hold (with -x nothing needs it), never fail on what we lack.
    const held = capget().permitted;
    const keep = plan.keep.filter((c) => (held & capabilityBit(c)) !== 0n);
    const lacking = plan.keep.filter((c) => !keep.includes(c));
    if (lacking.length > 0) {
      const names = lacking.map((c) => Object.entries(CAP).find(([, n]) => n === c)?.[0] ?? c);
      log.warn(`Capabilities not held, not kept: ${names.map((n) => `CAP_${n}`).join(" ")}`);
    }
    dropRoot(plan.user, keep);
    log.info(`Dropped root privileges (user ${plan.user.name}, uid ${plan.user.uid})`);
  }
}
