/**
 * Struct layouts (byte offsets and sizes) and numeric constants of the Linux
 * and glibc ABI that horae's FFI uses, for x86_64 and aarch64, in one place.
 * Both are LP64 Linux targets using the generic socket/errno numbers, so the
 * tables agree; they are kept per architecture so a difference found by
 * `tests/ffi/layout_test.ts` (which compiles a C probe with gcc) has a home.
 *
 * @example
 * ```ts
 * import { L, MSGHDR, SO_TIMESTAMPING } from "./layout.ts";
 * const msg = new Uint8Array(MSGHDR.size); // struct msghdr
 * L.SOL_SOCKET; SO_TIMESTAMPING;
 * ```
 * @module
 */

/** Offsets of `struct timex` (linux/timex.h, sys/timex.h), 208 bytes. */
export const TIMEX = {
  size: 208,
  modes: 0,
  offset: 8,
  freq: 16,
  maxerror: 24,
  esterror: 32,
  status: 40,
  constant: 48,
  precision: 56,
  tolerance: 64,
  timeSec: 72,
  timeUsec: 80,
  tick: 88,
  ppsfreq: 96,
  jitter: 104,
  shift: 112,
  stabil: 120,
  jitcnt: 128,
  calcnt: 136,
  errcnt: 144,
  stbcnt: 152,
  tai: 160,
} as const;

/** `struct timespec` (time.h): tv_sec, tv_nsec as 64-bit longs. */
export const TIMESPEC = { size: 16, sec: 0, nsec: 8 } as const;

/** `struct iovec` (sys/uio.h). */
export const IOVEC = { size: 16, base: 0, len: 8 } as const;

/** `struct msghdr` (sys/socket.h). */
export const MSGHDR = {
  size: 56,
  name: 0,
  namelen: 8,
  iov: 16,
  iovlen: 24,
  control: 32,
  controllen: 40,
  flags: 48,
} as const;

/** `struct mmsghdr` (sys/socket.h): a msghdr then `msg_len` (bytes received/sent). */
export const MMSGHDR = { size: 64, hdr: 0, len: 56 } as const;

/** `struct cmsghdr` (sys/socket.h): cmsg_len is a size_t; data follows at 16. */
export const CMSGHDR = { size: 16, len: 0, level: 8, type: 12, align: 8 } as const;

/** `struct sockaddr_in` (netinet/in.h); port and address in network byte order. */
export const SOCKADDR_IN = { size: 16, family: 0, port: 2, addr: 4 } as const;

/** `struct sockaddr_in6` (netinet/in.h). */
export const SOCKADDR_IN6 = {
  size: 28,
  family: 0,
  port: 2,
  flowinfo: 4,
  addr: 8,
  scopeId: 24,
} as const;

/** `struct sockaddr_storage` size (sys/socket.h). */
export const SOCKADDR_STORAGE_SIZE = 128;

/** `struct in_pktinfo` (netinet/in.h, IP_PKTINFO cmsg). */
export const IN_PKTINFO = { size: 12, ifindex: 0, specDst: 4, addr: 8 } as const;

/** `struct in6_pktinfo` (netinet/in.h, IPV6_PKTINFO cmsg). */
export const IN6_PKTINFO = { size: 20, addr: 0, ifindex: 16 } as const;

/** `struct sock_extended_err` (linux/errqueue.h); `data` holds the OPT_ID key. */
export const SOCK_EXTENDED_ERR = {
  size: 16,
  errno: 0,
  origin: 4,
  type: 5,
  code: 6,
  info: 8,
  data: 12,
} as const;

/** `struct scm_timestamping` (linux/errqueue.h): ts[0] software, ts[2] raw hardware. */
export const SCM_TIMESTAMPING_LAYOUT = { size: 48, software: 0, hardware: 32 } as const;
/** cmsg type (SOL_SOCKET) of `struct scm_ts_pktinfo`, with SOF_TIMESTAMPING_OPT_PKTINFO. */
export const SCM_TIMESTAMPING_PKTINFO = 58;
/** `struct scm_ts_pktinfo` (linux/net_tstamp.h): the stamping interface and layer-2 length. */
export const SCM_TS_PKTINFO = { size: 16, ifIndex: 0, pktLength: 4 } as const;

/** `struct pollfd` (poll.h). */
export const POLLFD = { size: 8, fd: 0, events: 4, revents: 6 } as const;

/** `struct addrinfo` (netdb.h, glibc). */
export const ADDRINFO = {
  size: 48,
  flags: 0,
  family: 4,
  socktype: 8,
  protocol: 12,
  addrlen: 16,
  addr: 24,
  canonname: 32,
  next: 40,
} as const;

/** Numeric constants that could differ between architectures. */
export interface ArchConstants {
  /** bits/socket.h */ AF_UNSPEC: number;
  /** bits/socket.h */ AF_INET: number;
  /** bits/socket.h */ AF_INET6: number;
  /** bits/socket_type.h */ SOCK_STREAM: number;
  /** bits/socket_type.h */ SOCK_DGRAM: number;
  /** bits/socket_type.h (= O_NONBLOCK) */ SOCK_NONBLOCK: number;
  /** bits/socket_type.h (= O_CLOEXEC) */ SOCK_CLOEXEC: number;
  /** asm-generic/socket.h */ SOL_SOCKET: number;
  /** netinet/in.h */ SOL_IP: number;
  /** netinet/in.h */ SOL_IPV6: number;
  /** netinet/in.h */ IPPROTO_UDP: number;
  /** asm-generic/socket.h */ SO_REUSEADDR: number;
  /** asm-generic/socket.h */ SO_REUSEPORT: number;
  /** asm-generic/socket.h */ SO_SNDBUF: number;
  /** asm-generic/socket.h */ SO_RCVBUF: number;
  /** asm-generic/socket.h */ SO_BINDTODEVICE: number;
  /** asm-generic/socket.h */ SO_TIMESTAMPNS: number;
  /** asm-generic/socket.h (also SCM_TIMESTAMPING) */ SO_TIMESTAMPING: number;
  /** asm-generic/socket.h */ SO_SELECT_ERR_QUEUE: number;
  /** linux/in.h */ IP_PKTINFO: number;
  /** linux/in.h */ IP_TOS: number;
  /** linux/in6.h */ IPV6_TCLASS: number;
  /** asm-generic/socket.h */ SO_BROADCAST: number;
  /** asm-generic/socket.h */ SO_TYPE: number;
  /** asm-generic/socket.h */ SO_DOMAIN: number;
  /** asm-generic/ioctls.h (sys/ioctl.h) */ FIONBIO: number;
  /** asm-generic/ioctls.h (sys/ioctl.h) */ FIOCLEX: number;
  /** linux/in.h */ IP_RECVERR: number;
  /** linux/in6.h */ IPV6_RECVERR: number;
  /** linux/in6.h */ IPV6_V6ONLY: number;
  /** linux/in6.h */ IPV6_RECVPKTINFO: number;
  /** linux/in6.h */ IPV6_PKTINFO: number;
  /** bits/socket.h */ MSG_CTRUNC: number;
  /** bits/socket.h */ MSG_TRUNC: number;
  /** bits/socket.h */ MSG_DONTWAIT: number;
  /** bits/socket.h */ MSG_ERRQUEUE: number;
  /** bits/socket.h */ MSG_WAITFORONE: number;
  /** bits/poll.h */ POLLIN: number;
  /** bits/poll.h */ POLLPRI: number;
  /** bits/poll.h */ POLLOUT: number;
  /** bits/poll.h */ POLLERR: number;
  /** bits/poll.h */ POLLHUP: number;
  /** bits/poll.h */ POLLNVAL: number;
  /** sys/eventfd.h */ EFD_NONBLOCK: number;
  /** sys/eventfd.h */ EFD_CLOEXEC: number;
  /** linux/time.h */ CLOCK_REALTIME: number;
  /** linux/time.h */ CLOCK_MONOTONIC: number;
  /** linux/time.h */ CLOCK_MONOTONIC_RAW: number;
  /** linux/time.h */ CLOCK_BOOTTIME: number;
}

const GENERIC_LINUX: ArchConstants = {
  AF_UNSPEC: 0,
  AF_INET: 2,
  AF_INET6: 10,
  SOCK_STREAM: 1,
  SOCK_DGRAM: 2,
  SOCK_NONBLOCK: 0o4000,
  SOCK_CLOEXEC: 0o2000000,
  SOL_SOCKET: 1,
  SOL_IP: 0,
  SOL_IPV6: 41,
  IPPROTO_UDP: 17,
  SO_REUSEADDR: 2,
  SO_REUSEPORT: 15,
  SO_SNDBUF: 7,
  SO_RCVBUF: 8,
  SO_BINDTODEVICE: 25,
  SO_TIMESTAMPNS: 35,
  SO_TIMESTAMPING: 37,
  SO_SELECT_ERR_QUEUE: 45,
  IP_PKTINFO: 8,
  IP_TOS: 1,
  IPV6_TCLASS: 67,
  SO_BROADCAST: 6,
  SO_TYPE: 3,
  SO_DOMAIN: 39,
  FIONBIO: 0x5421,
  FIOCLEX: 0x5451,
  IP_RECVERR: 11,
  IPV6_RECVERR: 25,
  IPV6_V6ONLY: 26,
  IPV6_RECVPKTINFO: 49,
  IPV6_PKTINFO: 50,
  MSG_CTRUNC: 0x8,
  MSG_TRUNC: 0x20,
  MSG_DONTWAIT: 0x40,
  MSG_ERRQUEUE: 0x2000,
  MSG_WAITFORONE: 0x10000,
  POLLIN: 0x1,
  POLLPRI: 0x2,
  POLLOUT: 0x4,
  POLLERR: 0x8,
  POLLHUP: 0x10,
  POLLNVAL: 0x20,
  EFD_NONBLOCK: 0o4000,
  EFD_CLOEXEC: 0o2000000,
  CLOCK_REALTIME: 0,
  CLOCK_MONOTONIC: 1,
  CLOCK_MONOTONIC_RAW: 4,
  CLOCK_BOOTTIME: 7,
};

/** Constants per supported architecture (`Deno.build.arch`). */
export const ARCH_CONSTANTS: Readonly<Record<"x86_64" | "aarch64", ArchConstants>> = {
  x86_64: GENERIC_LINUX,
  aarch64: { ...GENERIC_LINUX },
};

function pickArch(): ArchConstants {
  const arch = typeof Deno === "undefined" ? "x86_64" : Deno.build.arch;
  const c = (ARCH_CONSTANTS as Record<string, ArchConstants | undefined>)[arch];
  if (c === undefined) throw new Error(`ffi/layout: unsupported architecture ${arch}`);
  return c;
}

/** The constants of the running architecture. */
export const L: Readonly<ArchConstants> = pickArch();

// linux/net_tstamp.h: SOF_TIMESTAMPING_* flags (same on every architecture)
/** Request TX hardware timestamps. */
export const SOF_TIMESTAMPING_TX_HARDWARE = 1 << 0;
/** Request TX software timestamps. */
export const SOF_TIMESTAMPING_TX_SOFTWARE = 1 << 1;
/** Request RX hardware timestamps. */
export const SOF_TIMESTAMPING_RX_HARDWARE = 1 << 2;
/** Request RX software timestamps. */
export const SOF_TIMESTAMPING_RX_SOFTWARE = 1 << 3;
/** Report software timestamps. */
export const SOF_TIMESTAMPING_SOFTWARE = 1 << 4;
/** Report raw hardware timestamps. */
export const SOF_TIMESTAMPING_RAW_HARDWARE = 1 << 6;
/** Tag each sent packet with a counter key (reported in `sock_extended_err.ee_data`). */
export const SOF_TIMESTAMPING_OPT_ID = 1 << 7;
/** Also deliver IP_PKTINFO-like cmsgs with TX timestamps. */
export const SOF_TIMESTAMPING_OPT_CMSG = 1 << 10;
/** Deliver TX timestamps without the packet payload. */
export const SOF_TIMESTAMPING_OPT_TSONLY = 1 << 11;
/** With RX hardware stamps: the interface and layer-2 length (SCM_TIMESTAMPING_PKTINFO, 4.13+). */
export const SOF_TIMESTAMPING_OPT_PKTINFO = 1 << 13;

// linux/errqueue.h
/** `ee_origin` of a timestamp on the error queue. */
export const SO_EE_ORIGIN_TIMESTAMPING = 4;
/** `ee_info` for a timestamp taken when the packet left the stack. */
export const SCM_TSTAMP_SND = 0;

// Binding addresses that are not (yet) on an interface (linux/in.h, linux/in6.h)
/** IP_FREEBIND: bind an IPv4 address not configured on any interface. */
export const IP_FREEBIND = 15;
/** IPV6_FREEBIND: bind an IPv6 address not configured on any interface (Linux 4.15+). */
export const IPV6_FREEBIND = 78;
/** bits/socket.h: no SIGPIPE when the peer of a stream socket is gone. */
export const MSG_NOSIGNAL = 0x4000;

// Interface capabilities (net/if.h, linux/sockios.h, linux/ethtool.h)
/** ioctl asking an interface's ethtool driver (`struct ifreq` with ifr_data). */
export const SIOCETHTOOL = 0x8946;
/** ethtool command: time stamping and PHC capabilities. */
export const ETHTOOL_GET_TS_INFO = 0x41;
/** `struct ifreq` (net/if.h): name (IFNAMSIZ bytes) then a union holding `ifr_data`. */
export const IFREQ = { size: 40, name: 0, data: 16, namesize: 16 } as const;
/** `struct ethtool_ts_info` (linux/ethtool.h), 44 bytes. */
export const ETHTOOL_TS_INFO = {
  size: 44,
  cmd: 0,
  soTimestamping: 4,
  phcIndex: 8,
  txTypes: 12,
  rxFilters: 28,
} as const;
/** ethtool commands: link settings (Linux 4.9+) and the older settings (GSET). */
export const ETHTOOL_GLINKSETTINGS = 0x4c;
export const ETHTOOL_GSET = 0x1;
/** `struct ethtool_link_settings` (linux/ethtool.h): fixed part; u32 link mode masks follow. */
export const ETHTOOL_LINK_SETTINGS = { size: 48, cmd: 0, speed: 4, nwords: 15 } as const;
/** `struct ethtool_cmd` (linux/ethtool.h): speed = speed_hi << 16 | speed. */
export const ETHTOOL_CMD = { size: 44, cmd: 0, speed: 12, speedHi: 28 } as const;
/** linux/ethtool.h SPEED_UNKNOWN, as the u32 speed fields carry it. */
export const ETHTOOL_SPEED_UNKNOWN = 0xffffffff;

// glibc netdb.h
/** getaddrinfo flag: the node is a numeric address only. */
export const AI_NUMERICHOST = 0x0004;
/** getaddrinfo flag: only families configured on this host. */
export const AI_ADDRCONFIG = 0x0020;
/** getaddrinfo return codes (glibc netdb.h). */
export const EAI = {
  EAI_BADFLAGS: -1,
  EAI_NONAME: -2,
  EAI_AGAIN: -3,
  EAI_FAIL: -4,
  EAI_NODATA: -5,
  EAI_FAMILY: -6,
  EAI_SOCKTYPE: -7,
  EAI_SERVICE: -8,
  EAI_ADDRFAMILY: -9,
  EAI_MEMORY: -10,
  EAI_SYSTEM: -11,
  EAI_OVERFLOW: -12,
} as const;

/** errno numbers (asm-generic/errno-base.h, asm-generic/errno.h). */
export const ERRNO = {
  EPERM: 1,
  ENOENT: 2,
  EINTR: 4,
  EIO: 5,
  EBADF: 9,
  EAGAIN: 11,
  ENOMEM: 12,
  EACCES: 13,
  EFAULT: 14,
  EBUSY: 16,
  EEXIST: 17,
  ENODEV: 19,
  EINVAL: 22,
  ENFILE: 23,
  EMFILE: 24,
  ENOSPC: 28,
  EPIPE: 32,
  ERANGE: 34,
  ENOSYS: 38,
  ENOPROTOOPT: 92,
  ENOTSOCK: 88,
  EDESTADDRREQ: 89,
  EMSGSIZE: 90,
  EPROTONOSUPPORT: 93,
  EOPNOTSUPP: 95,
  EAFNOSUPPORT: 97,
  EADDRINUSE: 98,
  EADDRNOTAVAIL: 99,
  ENETDOWN: 100,
  ENETUNREACH: 101,
  ECONNRESET: 104,
  ENOBUFS: 105,
  ENOTCONN: 107,
  ETIMEDOUT: 110,
  ECONNREFUSED: 111,
  EHOSTUNREACH: 113,
  EALREADY: 114,
  EINPROGRESS: 115,
} as const;

/** A named errno (`"EAGAIN"`, ...). */
export type ErrnoCode = keyof typeof ERRNO;

const ERRNO_NAMES = new Map<number, ErrnoCode>(
  (Object.entries(ERRNO) as [ErrnoCode, number][]).map(([k, v]) => [v, k]),
);

/** The name of errno `n`, or `"E<n>"` when it has none in `ERRNO`. */
export function errnoName(n: number): ErrnoCode | `E${number}` {
  return ERRNO_NAMES.get(n) ?? `E${n}`;
}

// Re-exports of the most used constants under their C names.
/** asm-generic/socket.h */
export const SO_TIMESTAMPING = L.SO_TIMESTAMPING;
/** asm-generic/socket.h */
export const SOL_SOCKET = L.SOL_SOCKET;

// --- reference clocks (lib/refclock, lib/io/refclock_*.ts)

/**
 * gpsd's / ntpd's `struct shmTime` (the NTP shared-memory refclock
 * segment, documented in gpsd's ntpshm pages), LP64: `time_t` fields are
 * 8 bytes, the rest `int`/`unsigned`, then `int dummy[8]`; 96 bytes.
 */
export const SHM_TIME = {
  size: 96,
  mode: 0,
  count: 4,
  clockTimeStampSec: 8,
  clockTimeStampUSec: 16,
  receiveTimeStampSec: 24,
  receiveTimeStampUSec: 32,
  leap: 36,
  precision: 40,
  nsamples: 44,
  valid: 48,
  clockTimeStampNSec: 52,
  receiveTimeStampNSec: 56,
  dummy: 60,
} as const;

/**
 * The SOCK refclock's datagram (chrony's refclock_sock protocol, spoken by
 * gpsd): `struct timeval tv; double offset; int pulse; int leap; int _pad;
 * int magic;`, LP64, 40 bytes.
 */
export const SOCK_SAMPLE = {
  size: 40,
  tvSec: 0,
  tvUsec: 8,
  offset: 16,
  pulse: 24,
  leap: 28,
  pad: 32,
  magic: 36,
} as const;

/** `magic` of a SOCK sample: "SOCK" in ASCII. */
export const SOCK_MAGIC = 0x534f434b;

/** sys/ipc.h and sys/shm.h numbers (generic Linux, both architectures). */
export const IPC = {
  IPC_PRIVATE: 0,
  IPC_CREAT: 0o1000,
  IPC_EXCL: 0o2000,
  IPC_RMID: 0,
} as const;

/** `struct __user_cap_header_struct` (linux/capability.h), 8 bytes: version, pid (0 = this thread). */
export const CAP_HEADER = { size: 8, version: 0, pid: 4 } as const;

/**
 * `struct __user_cap_data_struct` (linux/capability.h), 12 bytes. With
 * `_LINUX_CAPABILITY_VERSION_3` capget/capset take two of them: capabilities
 * 0-31, then 32-63.
 */
export const CAP_DATA = { size: 12, effective: 0, permitted: 4, inheritable: 8, count: 2 } as const;

/** linux/capability.h numbers (generic Linux, both architectures). */
export const CAP = {
  LINUX_CAPABILITY_VERSION_3: 0x20080522,
  NET_BIND_SERVICE: 10,
  IPC_LOCK: 14,
  SYS_NICE: 23,
  SYS_TIME: 25,
} as const;

/** linux/prctl.h: keep the permitted capabilities across setuid from root. */
export const PR_SET_KEEPCAPS = 8;

/** linux/prctl.h: set the calling thread's name (`/proc/PID/comm` for the main thread). */
export const PR_SET_NAME = 15;

/** sys/mman.h mlockall(2) flags. */
export const MCL = { CURRENT: 1, FUTURE: 2, ONFAULT: 4 } as const;

/** sched.h: the SCHED_FIFO policy and `struct sched_param` (one int). */
export const SCHED = { OTHER: 0, FIFO: 1, PARAM_SIZE: 4 } as const;

/** sys/resource.h: `struct rlimit` (cur, max as u64), RLIMIT_MEMLOCK, RLIM_INFINITY. */
export const RLIMIT = {
  size: 16,
  cur: 0,
  max: 8,
  MEMLOCK: 8,
  INFINITY: 0xffffffffffffffffn,
} as const;

// --- hardware clocks: PTP (linux/ptp_clock.h), PPS (linux/pps.h), RTC (linux/rtc.h)

/** asm-generic/ioctl.h `_IOC(dir, type, nr, size)`: dir 0 none, 1 write, 2 read, 3 both. */
export function ioc(dir: 0 | 1 | 2 | 3, type: string, nr: number, size: number): number {
  return ((dir << 30) | (size << 16) | (type.charCodeAt(0) << 8) | nr) >>> 0;
}

/** `struct ptp_clock_time`: s64 sec, u32 nsec, u32 reserved. */
export const PTP_CLOCK_TIME = { size: 16, sec: 0, nsec: 8 } as const;
/** PTP_MAX_SAMPLES: most readings one PTP_SYS_OFFSET(_EXTENDED) call takes. */
export const PTP_MAX_SAMPLES = 25;
/** `struct ptp_sys_offset`: n_samples, rsv[3], ts[2 * PTP_MAX_SAMPLES + 1] (sys, phc, ..., sys). */
export const PTP_SYS_OFFSET_LAYOUT = {
  size: 16 + (2 * PTP_MAX_SAMPLES + 1) * 16,
  nSamples: 0,
  ts: 16,
} as const;
/** `struct ptp_sys_offset_extended`: n_samples, rsv[3], ts[PTP_MAX_SAMPLES][3] (sys, phc, sys). */
export const PTP_SYS_OFFSET_EXTENDED_LAYOUT = {
  size: 16 + PTP_MAX_SAMPLES * 3 * 16,
  nSamples: 0,
  ts: 16,
} as const;
/** `struct ptp_sys_offset_precise`: device, sys_realtime, sys_monoraw, rsv[4]. */
export const PTP_SYS_OFFSET_PRECISE_LAYOUT = {
  size: 64,
  device: 0,
  sysRealtime: 16,
  sysMonoraw: 32,
} as const;
/** `struct ptp_extts_request`: index (channel), flags, rsv[2]. */
export const PTP_EXTTS_REQUEST_LAYOUT = { size: 16, index: 0, flags: 4 } as const;
/** `struct ptp_extts_event` (what read(2) of a PHC returns): t, index, flags, rsv[2]. */
export const PTP_EXTTS_EVENT = { size: 32, t: 0, index: 16, flags: 20 } as const;
/** `struct ptp_pin_desc`: name[64], index, func, chan, rsv[5]. */
export const PTP_PIN_DESC = { size: 96, name: 0, index: 64, func: 68, chan: 72 } as const;
/** `struct ptp_clock_caps` size (PTP_CLOCK_GETCAPS), 80 bytes. */
export const PTP_CLOCK_CAPS = { size: 80, nExtTs: 8, nPins: 20 } as const;
/** PTP flags and pin functions (linux/ptp_clock.h). */
export const PTP = {
  ENABLE_FEATURE: 1 << 0,
  RISING_EDGE: 1 << 1,
  FALLING_EDGE: 1 << 2,
  PF_EXTTS: 1,
  CLOCK_GETCAPS: ioc(2, "=", 1, PTP_CLOCK_CAPS.size),
  EXTTS_REQUEST: ioc(1, "=", 2, PTP_EXTTS_REQUEST_LAYOUT.size),
  SYS_OFFSET: ioc(1, "=", 5, PTP_SYS_OFFSET_LAYOUT.size),
  PIN_SETFUNC: ioc(1, "=", 7, PTP_PIN_DESC.size),
  SYS_OFFSET_PRECISE: ioc(3, "=", 8, PTP_SYS_OFFSET_PRECISE_LAYOUT.size),
  SYS_OFFSET_EXTENDED: ioc(3, "=", 9, PTP_SYS_OFFSET_EXTENDED_LAYOUT.size),
} as const;

/** `struct pps_ktime`: s64 sec, s32 nsec, u32 flags. */
export const PPS_KTIME = { size: 16, sec: 0, nsec: 8, flags: 12 } as const;
/** `struct pps_kinfo`: sequences, assert and clear times, current mode; 48 bytes. */
export const PPS_KINFO = {
  size: 48,
  assertSequence: 0,
  clearSequence: 4,
  assertTu: 8,
  clearTu: 24,
  currentMode: 40,
} as const;
/** `struct pps_kparams`: api_version, mode, assert_off_tu, clear_off_tu; 40 bytes. */
export const PPS_KPARAMS = {
  size: 40,
  apiVersion: 0,
  mode: 4,
  assertOffTu: 8,
  clearOffTu: 24,
} as const;
/** `struct pps_fdata` (PPS_FETCH): info then the timeout. */
export const PPS_FDATA = { size: 64, info: 0, timeout: 48 } as const;
/** PPS mode bits and ioctls (linux/pps.h; the ioctls are declared with pointer sizes). */
export const PPS = {
  API_VERS_1: 1,
  CAPTUREASSERT: 0x01,
  CAPTURECLEAR: 0x02,
  TSFMT_TSPEC: 0x1000,
  TIME_INVALID: 1 << 0,
  GETPARAMS: ioc(2, "p", 0xa1, 8),
  SETPARAMS: ioc(1, "p", 0xa2, 8),
  GETCAP: ioc(2, "p", 0xa3, 8),
  FETCH: ioc(3, "p", 0xa4, 8),
} as const;

/** `struct rtc_time` (linux/rtc.h): nine ints like `struct tm`. */
export const RTC_TIME = {
  size: 36,
  sec: 0,
  min: 4,
  hour: 8,
  mday: 12,
  mon: 16,
  year: 20,
  wday: 24,
  yday: 28,
  isdst: 32,
} as const;
/** RTC ioctls and the update-interrupt flag read(2) reports (linux/rtc.h). */
export const RTC = {
  UIE_ON: ioc(0, "p", 0x03, 0),
  UIE_OFF: ioc(0, "p", 0x04, 0),
  RD_TIME: ioc(2, "p", 0x09, RTC_TIME.size),
  /** Only ever issued on an injected device in tests (`trimrtc`, lib/daemon/rtc.ts). */
  SET_TIME: ioc(1, "p", 0x0a, RTC_TIME.size),
  UF: 0x10,
  IRQF: 0x80,
} as const;

/** fcntl.h open(2) flags used on devices. */
export const O_FLAGS = { RDONLY: 0, RDWR: 2, NONBLOCK: 0o4000, CLOEXEC: 0o2000000 } as const;

// --- NIC hardware time stamping (linux/net_tstamp.h, linux/sockios.h)

/** `struct hwtstamp_config` (SIOCSHWTSTAMP / SIOCGHWTSTAMP through `ifr_data`). */
export const HWTSTAMP_CONFIG = { size: 12, flags: 0, txType: 4, rxFilter: 8 } as const;
/** Interface ioctls: set and get the hardware time stamping configuration. */
export const SIOCSHWTSTAMP = 0x89b0;
/** See {@link SIOCSHWTSTAMP}. */
export const SIOCGHWTSTAMP = 0x89b1;
/** `tx_type` values and `rx_filter` values (bit numbers of ethtool's tx_types / rx_filters). */
export const HWTSTAMP = {
  TX_OFF: 0,
  TX_ON: 1,
  FILTER_NONE: 0,
  FILTER_ALL: 1,
  FILTER_PTP_V2_L4_EVENT: 6,
  FILTER_PTP_V2_EVENT: 12,
  FILTER_NTP_ALL: 15,
} as const;
