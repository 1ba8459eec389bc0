/**
 * The system call filter of chronyd(8) `-F LEVEL`: a seccomp filter written
 * by horae as a classic BPF program and installed with
 * `prctl(PR_SET_NO_NEW_PRIVS)` and
 * `seccomp(SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, prog)`.
 *
 * Levels (chronyd's meaning, with horae's choice of actions):
 * - `1`: an allow-list ({@link ALLOWED}, measured with strace over what the
 *   daemon does; `tools/seccomp_measure.ts` re-measures it). Any other call
 *   kills the process (`SECCOMP_RET_KILL_PROCESS`: the exit status says
 *   SIGSYS).
 * - `2`: a deny-list ({@link DENIED}: exec, fork, ptrace, modules, mounts,
 *   namespaces, keyrings, bpf, ...); those calls kill the process, the rest
 *   run.
 * - `-1`, `-2`: the same lists, but a call outside them is only logged by the
 *   kernel (`SECCOMP_RET_LOG`, "audit: type=1326 ... syscall=N" in the
 *   kernel log or audit log) and then runs. chronyd raises SIGSYS (`TRAP`) at
 *   negative levels, which kills a process with no SIGSYS handler just the
 *   same; Deno gives no way to handle SIGSYS synchronously, so horae logs
 *   instead, which keeps the daemon serving while a missing call is found.
 *
 * Arguments are checked where that is cheap and tight: `clone` must create a
 * thread (`CLONE_THREAD`; no new processes), `clone3` fails with ENOSYS (its
 * flags sit in memory the filter cannot read, and glibc then falls back to
 * `clone`), `socket` only for AF_UNIX, AF_INET, AF_INET6 and AF_NETLINK,
 * `socketpair` only for AF_UNIX, and
 * `prctl` only for PR_SET_NAME/PR_GET_NAME/PR_SET_VMA (thread names). A call
 * from another architecture (or the x32 ABI on x86_64) gets the default
 * action. Numbers are kept for x86_64 and aarch64 ({@link SYSCALLS}); aarch64
 * has only the `*at`/`p*` forms of old calls (`openat`, `ppoll`, ...), which
 * the lists name beside the x86_64 ones.
 *
 * With TSYNC the filter applies to every thread of the process at once (the
 * JS thread, tokio's runtime and blocking-pool threads, V8's platform
 * workers); threads created later inherit it from their creator.
 *
 * @example
 * ```ts
 * import { buildFilter } from "./seccomp.ts";
 * const prog = buildFilter(1, "x86_64"); // struct sock_filter[], 8 bytes each
 * prog.length % 8; // 0
 * ```
 * @module
 */

/** seccomp return actions (linux/seccomp.h). */
export const SECCOMP_RET = {
  KILL_PROCESS: 0x80000000,
  KILL_THREAD: 0x00000000,
  TRAP: 0x00030000,
  ERRNO: 0x00050000,
  LOG: 0x7ffc0000,
  ALLOW: 0x7fff0000,
} as const;

/** Other constants of linux/seccomp.h, linux/audit.h, linux/prctl.h and friends. */
export const SC = {
  SECCOMP_SET_MODE_FILTER: 1,
  SECCOMP_FILTER_FLAG_TSYNC: 1,
  PR_SET_NO_NEW_PRIVS: 38,
  PR_SET_NAME: 15,
  PR_GET_NAME: 16,
  PR_SET_VMA: 0x53564d41,
  AUDIT_ARCH_X86_64: 0xc000003e,
  AUDIT_ARCH_AARCH64: 0xc00000b7,
  __X32_SYSCALL_BIT: 0x40000000,
  CLONE_THREAD: 0x00010000,
  AF_UNIX: 1,
  AF_INET: 2,
  AF_INET6: 10,
  AF_NETLINK: 16,
  AF_PACKET: 17,
  ENOSYS: 38,
  PTRACE_PEEKDATA: 2,
  SOCK_DGRAM: 2,
} as const;

/** Offsets in `struct seccomp_data` (nr, arch, instruction_pointer, args[6]). */
export const SECCOMP_DATA = { nr: 0, arch: 4, args: 16 } as const;

/** Classic BPF opcodes used here (linux/filter.h, linux/bpf_common.h). */
export const BPF = {
  LD_W_ABS: 0x20,
  JMP_JA: 0x05,
  JMP_JEQ_K: 0x15,
  JMP_JGE_K: 0x35,
  JMP_JSET_K: 0x45,
  RET_K: 0x06,
} as const;

/** The architectures horae's filter knows. */
export type Arch = "x86_64" | "aarch64";

/**
 * System call numbers, `[x86_64, aarch64]` (null: no such call there), from
 * the kernel headers (`sys/syscall.h` on x86_64; `asm-generic/unistd.h` with
 * arm64's `__ARCH_WANT_*` for aarch64); tests/ffi/seccomp_test.ts checks both
 * with gcc.
 */
export const SYSCALLS: Record<string, readonly [number | null, number | null]> = {
  read: [0, 63],
  write: [1, 64],
  readv: [19, 65],
  writev: [20, 66],
  pread64: [17, 67],
  pwrite64: [18, 68],
  openat: [257, 56],
  open: [2, null],
  close: [3, 57],
  fstat: [5, 80],
  newfstatat: [262, 79],
  stat: [4, null],
  lstat: [6, null],
  statx: [332, 291],
  lseek: [8, 62],
  mmap: [9, 222],
  mprotect: [10, 226],
  munmap: [11, 215],
  brk: [12, 214],
  madvise: [28, 233],
  mremap: [25, 216],
  mincore: [27, 232],
  membarrier: [324, 283],
  futex: [202, 98],
  futex_waitv: [449, 449],
  getrandom: [318, 278],
  fcntl: [72, 25],
  rt_sigprocmask: [14, 135],
  rt_sigaction: [13, 134],
  rt_sigreturn: [15, 139],
  sigaltstack: [131, 132],
  sched_yield: [24, 124],
  gettid: [186, 178],
  getpid: [39, 172],
  getppid: [110, 173],
  set_robust_list: [273, 99],
  get_robust_list: [274, 100],
  rseq: [334, 293],
  epoll_wait: [232, null],
  epoll_pwait: [281, 22],
  epoll_pwait2: [441, 441],
  epoll_ctl: [233, 21],
  epoll_create1: [291, 20],
  recvfrom: [45, 207],
  recvmsg: [47, 212],
  recvmmsg: [299, 243],
  sendto: [44, 206],
  sendmsg: [46, 211],
  sendmmsg: [307, 269],
  socket: [41, 198],
  socketpair: [53, 199],
  bind: [49, 200],
  connect: [42, 203],
  listen: [50, 201],
  accept: [43, 202],
  accept4: [288, 242],
  getsockname: [51, 204],
  getpeername: [52, 205],
  setsockopt: [54, 208],
  getsockopt: [55, 209],
  shutdown: [48, 210],
  ioctl: [16, 29],
  eventfd2: [290, 19],
  pipe2: [293, 59],
  poll: [7, null],
  ppoll: [271, 73],
  select: [23, null],
  pselect6: [270, 72],
  nanosleep: [35, 101],
  clock_nanosleep: [230, 115],
  clock_gettime: [228, 113],
  clock_getres: [229, 114],
  gettimeofday: [96, 169],
  adjtimex: [159, 171],
  clock_adjtime: [305, 266],
  clock_settime: [227, 112],
  rename: [82, null],
  renameat: [264, 38],
  renameat2: [316, 276],
  unlink: [87, null],
  unlinkat: [263, 35],
  fsync: [74, 82],
  fdatasync: [75, 83],
  ftruncate: [77, 46],
  fchmod: [91, 52],
  fchown: [93, 55],
  chmod: [90, null],
  fchmodat: [268, 53],
  chown: [92, null],
  fchownat: [260, 54],
  mkdir: [83, null],
  mkdirat: [258, 34],
  access: [21, null],
  faccessat: [269, 48],
  faccessat2: [439, 439],
  readlink: [89, null],
  readlinkat: [267, 78],
  getcwd: [79, 17],
  exit: [60, 93],
  exit_group: [231, 94],
  restart_syscall: [219, 128],
  clone: [56, 220],
  clone3: [435, 435],
  prlimit64: [302, 261],
  sched_getaffinity: [204, 123],
  sched_setaffinity: [203, 122],
  sched_getscheduler: [145, 120],
  sched_getparam: [143, 121],
  uname: [63, 160],
  sysinfo: [99, 179],
  getuid: [102, 174],
  geteuid: [107, 175],
  getgid: [104, 176],
  getegid: [108, 177],
  getresuid: [118, 148],
  getresgid: [120, 150],
  dup: [32, 23],
  dup3: [292, 24],
  dup2: [33, null],
  fadvise64: [221, 223],
  getdents64: [217, 61],
  prctl: [157, 167],
  tgkill: [234, 131],
  kill: [62, 129],
  rt_sigtimedwait: [128, 137],
  timerfd_create: [283, 85],
  timerfd_settime: [286, 86],
  memfd_create: [319, 279],
  set_tid_address: [218, 96],
  arch_prctl: [158, null],
  wait4: [61, 260],
  waitid: [247, 95],
  execve: [59, 221],
  execveat: [322, 281],
  fork: [57, null],
  vfork: [58, null],
  ptrace: [101, 117],
  process_vm_readv: [310, 270],
  process_vm_writev: [311, 271],
  kexec_load: [246, 104],
  kexec_file_load: [320, 294],
  init_module: [175, 105],
  finit_module: [313, 273],
  delete_module: [176, 106],
  reboot: [169, 142],
  mount: [165, 40],
  umount2: [166, 39],
  pivot_root: [155, 41],
  chroot: [161, 51],
  swapon: [167, 224],
  swapoff: [168, 225],
  acct: [163, 89],
  bpf: [321, 280],
  perf_event_open: [298, 241],
  userfaultfd: [323, 282],
  keyctl: [250, 219],
  add_key: [248, 217],
  request_key: [249, 218],
  setns: [308, 268],
  unshare: [272, 97],
  iopl: [172, null],
  ioperm: [173, null],
  open_by_handle_at: [304, 265],
  name_to_handle_at: [303, 264],
  quotactl: [179, 60],
  sethostname: [170, 161],
  setdomainname: [171, 162],
  syslog: [103, 116],
  uselib: [134, null],
  kcmp: [312, 272],
  fsopen: [430, 430],
  fsmount: [432, 432],
  move_mount: [429, 429],
  open_tree: [428, 428],
  fsconfig: [431, 431],
  fspick: [433, 433],
  mount_setattr: [442, 442],
  process_madvise: [440, 440],
  pidfd_getfd: [438, 438],
  pkey_alloc: [330, 289],
  pkey_mprotect: [329, 288],
  sched_setscheduler: [144, 119],
  capget: [125, 90],
  capset: [126, 91],
  setuid: [105, 146],
  setgid: [106, 144],
  setgroups: [116, 159],
  mlockall: [151, 230],
  munlockall: [152, 231],
  shmget: [29, 194],
  shmat: [30, 196],
  shmdt: [67, 197],
  shmctl: [31, 195],
  inotify_init1: [294, 26],
  inotify_add_watch: [254, 27],
  symlink: [88, null],
  symlinkat: [266, 36],
  link: [86, null],
  linkat: [265, 37],
  rmdir: [84, null],
  utimensat: [280, 88],
  flock: [73, 32],
  getpgrp: [111, null],
  seccomp: [317, 277],
};

/**
 * What `deno run -A tools/seccomp_measure.ts` saw the daemon call after the
 * filter was loaded (x86_64, Linux 6.18, glibc 2.36, Deno 2; the 45 s
 * scenario, four `chronyd -Q` one-shots and the 15 interop tests that start
 * the daemon: 40 traces, 2026-12-04), most frequent first. `socketpair` was
 * first found in the kernel log of a `-F 1 -Q` run it killed (a tokio
 * runtime's signal driver makes an AF_UNIX pair when it starts). `clone3` was seen too: it gets ENOSYS and
 * glibc retries with `clone`.
 */
export const MEASURED: readonly string[] = [
  "futex",
  "write",
  "epoll_wait",
  "recvfrom",
  "recvmsg",
  "recvmmsg",
  "poll",
  "sendto",
  "sendmmsg",
  "read",
  "mmap",
  "mprotect",
  "close",
  "madvise",
  "munmap",
  "openat",
  "newfstatat",
  "brk",
  "getpid",
  "statx",
  "lseek",
  "fsync",
  "rename",
  "socket",
  "epoll_ctl",
  "fcntl",
  "getdents64",
  "setsockopt",
  "unlink",
  "bind",
  "sigaltstack",
  "rt_sigaction",
  "rt_sigreturn",
  "exit_group",
  "gettid",
  "getrandom",
  "getsockname",
  "eventfd2",
  "connect",
  "sched_yield",
  "pread64",
  "clock_adjtime",
  "getpeername",
  "shutdown",
  "uname",
  "getsockopt",
  "rt_sigprocmask",
  "accept4",
  "sched_getaffinity",
  "sysinfo",
  "listen",
  "ioctl",
  "clone",
  "rseq",
  "set_robust_list",
  "epoll_create1",
  "shmdt",
  "fstat",
  "sched_getparam",
  "sched_getscheduler",
  "socketpair",
];

/**
 * Calls allowed beyond the measurement, each group for a reason a run on
 * this machine does not show.
 */
export const ADDED: Readonly<Record<string, readonly string[]>> = {
  /** Threads: exiting, interrupted sleeps, naming (prctl is argument-checked). */
  threads: ["exit", "restart_syscall", "prctl"],
  /** The clock: vDSO calls fall back to the kernel on some clock sources, and without -x the discipline adjusts it. */
  clock: [
    "clock_gettime",
    "clock_getres",
    "gettimeofday",
    "clock_nanosleep",
    "nanosleep",
    "adjtimex",
  ],
  /** horae's own ffi on rarer paths: sendmsg, the SHM refclock attaching again, accept. */
  ffi: ["sendmsg", "shmget", "shmat", "shmctl", "accept"],
  /** Files written at run time: dump directory, atomic writes, short writes. */
  files: [
    "mkdir",
    "ftruncate",
    "fdatasync",
    "pwrite64",
    "readv",
    "writev",
    "mremap",
  ],
  /** aarch64's forms of measured x86_64 calls (no poll, epoll_wait, rename, unlink, mkdir there). */
  aarch64: [
    "ppoll",
    "epoll_pwait",
    "renameat",
    "renameat2",
    "unlinkat",
    "mkdirat",
  ],
};

/**
 * Level 1's allow-list: {@link MEASURED} and {@link ADDED}. Re-measure with
 * `deno run -A tools/seccomp_measure.ts` (strace -f over the daemon from the
 * moment the filter is loaded, through the interop tests and a scenario with
 * NTP and NTS sources, an NTP + NTS-KE server, refclocks, log files, the
 * driftfile, dumps, source reloads, cmdmon and signals); it prints the calls
 * missing here. `clone`, `socket`, `socketpair` and `prctl` are allowed only with the
 * arguments described above; `clone3` answers ENOSYS.
 */
export const ALLOWED: readonly string[] = [
  ...new Set([...MEASURED, ...Object.values(ADDED).flat()]),
];

/** Calls allowed at level 1 only with the arguments checked in {@link buildFilter}. */
export const SPECIAL: readonly string[] = ["clone", "clone3", "socket", "socketpair", "prctl"];

/** Level 2's deny-list: calls a time daemon never needs and an intruder would. */
export const DENIED: readonly string[] = [
  "execve",
  "execveat",
  "fork",
  "vfork",
  "ptrace",
  "process_vm_readv",
  "process_vm_writev",
  "kexec_load",
  "kexec_file_load",
  "init_module",
  "finit_module",
  "delete_module",
  "reboot",
  "mount",
  "umount2",
  "pivot_root",
  "chroot",
  "swapon",
  "swapoff",
  "acct",
  "bpf",
  "perf_event_open",
  "userfaultfd",
  "keyctl",
  "add_key",
  "request_key",
  "setns",
  "unshare",
  "iopl",
  "ioperm",
  "open_by_handle_at",
  "name_to_handle_at",
  "quotactl",
  "sethostname",
  "setdomainname",
  "syslog",
  "uselib",
  "kcmp",
  "fsopen",
  "fsmount",
  "move_mount",
  "open_tree",
  "fsconfig",
  "fspick",
  "mount_setattr",
  "process_madvise",
  "pidfd_getfd",
];

/** The call numbers of `names` on `arch` (names missing there are skipped). */
export function numbersOf(names: readonly string[], arch: Arch): number[] {
  const i = arch === "x86_64" ? 0 : 1;
  const out = new Set<number>();
  for (const n of names) {
    const row = SYSCALLS[n];
    if (!row) throw new Error(`seccomp: unknown system call ${n}`);
    const nr = row[i];
    if (nr !== null && nr !== undefined) out.add(nr);
  }
  return [...out];
}

/** Is `level` one chronyd accepts for `-F` (0, ±1, ±2)? */
export function validLevel(level: number): boolean {
  return Number.isInteger(level) && Math.abs(level) <= 2;
}

type Target = number | string;
interface Insn {
  code: number;
  jt: Target;
  jf: Target;
  k: number;
  label?: string;
}

/** A tiny assembler: jumps name labels, resolved to forward offsets (< 256). */
class Asm {
  readonly insns: Insn[] = [];
  private pendingLabel: string | undefined;
  label(name: string): void {
    this.pendingLabel = name;
  }
  private push(i: Insn): void {
    if (this.pendingLabel !== undefined) i.label = this.pendingLabel;
    this.pendingLabel = undefined;
    this.insns.push(i);
  }
  ld(offset: number): void {
    this.push({ code: BPF.LD_W_ABS, jt: 0, jf: 0, k: offset });
  }
  jeq(k: number, jt: Target, jf: Target = 0): void {
    this.push({ code: BPF.JMP_JEQ_K, jt, jf, k });
  }
  jge(k: number, jt: Target, jf: Target = 0): void {
    this.push({ code: BPF.JMP_JGE_K, jt, jf, k });
  }
  jset(k: number, jt: Target, jf: Target = 0): void {
    this.push({ code: BPF.JMP_JSET_K, jt, jf, k });
  }
  ret(k: number): void {
    this.push({ code: BPF.RET_K, jt: 0, jf: 0, k });
  }
  bytes(): Uint8Array {
    const at = new Map<string, number>();
    this.insns.forEach((i, n) => i.label !== undefined && at.set(i.label, n));
    const out = new Uint8Array(this.insns.length * 8);
    const v = new DataView(out.buffer);
    this.insns.forEach((i, n) => {
      const off = (t: Target) => {
        if (typeof t === "number") return t;
        const to = at.get(t);
        if (to === undefined) throw new Error(`seccomp: no label ${t}`);
        const d = to - n - 1;
        if (d < 0 || d > 255) throw new Error(`seccomp: jump to ${t} out of range (${d})`);
        return d;
      };
      v.setUint16(n * 8, i.code, true);
      v.setUint8(n * 8 + 2, off(i.jt));
      v.setUint8(n * 8 + 3, off(i.jf));
      v.setUint32(n * 8 + 4, i.k, true);
    });
    return out;
  }
}

/**
 * The filter program for `level` (±1, ±2) on `arch`: `struct sock_filter`
 * entries (u16 code, u8 jt, u8 jf, u32 k; little-endian), ready for
 * `struct sock_fprog`.
 */
export function buildFilter(level: number, arch: Arch): Uint8Array {
  if (!validLevel(level) || level === 0) throw new Error("Unsupported filter level");
  const fail = level < 0 ? SECCOMP_RET.LOG : SECCOMP_RET.KILL_PROCESS;
  const a = new Asm();
  const nr = (name: string) => numbersOf([name], arch)[0]!;
  a.ld(SECCOMP_DATA.arch);
  a.jeq(arch === "x86_64" ? SC.AUDIT_ARCH_X86_64 : SC.AUDIT_ARCH_AARCH64, 1, 0);
  a.ret(fail);
  a.ld(SECCOMP_DATA.nr);
  if (arch === "x86_64") {
    a.jge(SC.__X32_SYSCALL_BIT, 0, 1);
    a.ret(fail);
  }
  const allowList = Math.abs(level) === 1;
  if (allowList) {
    const special = new Set(numbersOf(SPECIAL, arch));
    const list = numbersOf(ALLOWED, arch).filter((n) => !special.has(n));
    // A jump reaches at most 255 ahead: a "ret ALLOW" closes every 200 comparisons.
    for (let i = 0; i < list.length; i += 200) {
      list.slice(i, i + 200).forEach((n) => a.jeq(n, `ok${i}`));
      a.jeq(0xffffffff, 0, 1); // never a call number: always skips the ret
      a.label(`ok${i}`);
      a.ret(SECCOMP_RET.ALLOW);
    }
  } else {
    for (const n of numbersOf(DENIED, arch)) a.jeq(n, "fail");
  }
  // clone3: ENOSYS, so glibc falls back to clone, whose flags the filter reads.
  a.jeq(nr("clone3"), 0, 1);
  a.ret(SECCOMP_RET.ERRNO | SC.ENOSYS);
  // clone: threads only.
  a.jeq(nr("clone"), 0, 2);
  a.ld(SECCOMP_DATA.args);
  a.jset(SC.CLONE_THREAD, "allow", "fail");
  if (allowList) {
    a.jeq(nr("socket"), 0, 5);
    a.ld(SECCOMP_DATA.args);
    for (const af of [SC.AF_UNIX, SC.AF_INET, SC.AF_INET6]) a.jeq(af, "allow");
    a.jeq(SC.AF_NETLINK, "allow", "fail");
    a.jeq(nr("socketpair"), 0, 2);
    a.ld(SECCOMP_DATA.args);
    a.jeq(SC.AF_UNIX, "allow", "fail");
    a.jeq(nr("prctl"), 0, 4);
    a.ld(SECCOMP_DATA.args);
    for (const op of [SC.PR_SET_NAME, SC.PR_GET_NAME]) a.jeq(op, "allow");
    a.jeq(SC.PR_SET_VMA, "allow", "fail");
    a.label("fail");
    a.ret(fail);
    a.label("allow");
    a.ret(SECCOMP_RET.ALLOW);
  } else {
    a.label("allow");
    a.ret(SECCOMP_RET.ALLOW);
    a.label("fail");
    a.ret(fail);
  }
  return a.bytes();
}

/** The running architecture, if the filter knows it. */
export function currentArch(): Arch | null {
  return Deno.build.arch === "x86_64" || Deno.build.arch === "aarch64" ? Deno.build.arch : null;
}

let libc: {
  symbols: {
    prctl: (op: number, a: bigint, b: bigint, c: bigint, d: bigint) => number;
    syscall: (nr: bigint, a: bigint, b: bigint, c: bigint, d: bigint) => bigint;
    __errno_location: () => Deno.PointerValue;
  };
} | null = null;

function lib() {
  libc ??= Deno.dlopen(
    "libc.so.6",
    {
      prctl: { parameters: ["i32", "u64", "u64", "u64", "u64"], result: "i32" },
      syscall: { parameters: ["i64", "i64", "i64", "i64", "i64"], result: "i64" },
      __errno_location: { parameters: [], result: "pointer" },
    } as const,
  );
  return libc.symbols;
}

function errno(): number {
  return new Deno.UnsafePointerView(lib().__errno_location()!).getInt32();
}

/**
 * Installs the filter of `level` on every thread of the process (TSYNC).
 * Throws an Error naming the failing step; returns the program's length.
 */
export function installFilter(level: number): number {
  const arch = currentArch();
  if (arch === null) throw new Error(`no system call table for ${Deno.build.arch}`);
  const prog = buildFilter(level, arch);
  const l = lib();
  if (l.prctl(SC.PR_SET_NO_NEW_PRIVS, 1n, 0n, 0n, 0n) !== 0) {
    throw new Error(`prctl(PR_SET_NO_NEW_PRIVS): errno ${errno()}`);
  }
  // struct sock_fprog { unsigned short len; struct sock_filter *filter; }
  const fprog = new Uint8Array(16);
  const v = new DataView(fprog.buffer);
  v.setUint16(0, prog.length / 8, true);
  v.setBigUint64(8, BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(prog))), true);
  const rc = l.syscall(
    BigInt(numbersOf(["seccomp"], arch)[0]!),
    BigInt(SC.SECCOMP_SET_MODE_FILTER),
    BigInt(SC.SECCOMP_FILTER_FLAG_TSYNC),
    BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(fprog))),
    0n,
  );
  if (rc < 0n) throw new Error(`seccomp(SECCOMP_SET_MODE_FILTER): errno ${errno()}`);
  // With TSYNC a positive result is the id of a thread that could not be synchronised.
  if (rc > 0n) throw new Error(`seccomp: thread ${rc} could not be synchronised`);
  return prog.length / 8;
}

/**
 * Makes a system call that no level allows, for tests: `"ptrace"` calls
 * `ptrace(PTRACE_PEEKDATA, -1, 0, 0)` (fails with ESRCH when it runs),
 * `"packet"` opens and closes an AF_PACKET socket (refused by level 1's
 * socket check). Returns the call's result and errno.
 */
export function forbiddenCall(kind: "ptrace" | "packet"): { result: bigint; errno: number } {
  const arch = currentArch();
  if (arch === null) throw new Error(`no system call table for ${Deno.build.arch}`);
  const l = lib();
  if (kind === "ptrace") {
    const r = l.syscall(
      BigInt(numbersOf(["ptrace"], arch)[0]!),
      BigInt(SC.PTRACE_PEEKDATA),
      -1n,
      0n,
      0n,
    );
    return { result: r, errno: r < 0n ? errno() : 0 };
  }
  const r = l.syscall(
    BigInt(numbersOf(["socket"], arch)[0]!),
    BigInt(SC.AF_PACKET),
    BigInt(SC.SOCK_DGRAM),
    0n,
    0n,
  );
  const e = r < 0n ? errno() : 0;
  if (r >= 0n) l.syscall(BigInt(numbersOf(["close"], arch)[0]!), r, 0n, 0n, 0n);
  return { result: r, errno: e };
}
