/**
 * tools/seccomp_measure.ts `analyse()`: counts only what follows each trace's
 * seccomp() call (start-up is not counted), across threads, resumed calls
 * once, with socket domains, prctl operations and clone flags; a trace
 * without a seccomp() call is reported, not counted.
 */
import assert from "node:assert/strict";
import { analyse, seccompRecords } from "../../tools/seccomp_measure.ts";

Deno.test("seccomp_measure: analyse() counts the calls after the filter was loaded", async () => {
  const dir = await Deno.makeTempDir({ prefix: "horae-scmeasure-test-" });
  try {
    await Deno.writeTextFile(
      `${dir}/a.strace`,
      [
        '100 execve("/bin/deno", ["deno"], 0x7ffc /* 3 vars */) = 0',
        "100 socket(AF_INET, SOCK_DGRAM|SOCK_CLOEXEC, IPPROTO_IP) = 3",
        "100 seccomp(SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, {len=120, filter=0x1}) = 0",
        "101 futex(0x7f00, FUTEX_WAIT_PRIVATE, 0, NULL <unfinished ...>",
        "100 socket(AF_NETLINK, SOCK_RAW|SOCK_CLOEXEC, NETLINK_ROUTE) = 4",
        "101 <... futex resumed>)                = 0",
        '102 prctl(PR_SET_NAME, "tokio-runtime-w") = 0',
        "100 clone3({flags=CLONE_VM|CLONE_THREAD, exit_signal=0}, 88) = -1 ENOSYS (Function not implemented)",
        "100 clone(child_stack=0x7f, flags=CLONE_VM|CLONE_THREAD|CLONE_SETTLS) = 103",
        "--- SIGUSR2 {si_signo=SIGUSR2, si_code=SI_USER, si_pid=1} ---",
        "101 futex(0x7f00, FUTEX_WAKE_PRIVATE, 1) = 0",
        "",
      ].join("\n"),
    );
    await Deno.writeTextFile(`${dir}/b.strace`, '200 read(3, "", 1) = 0\n');
    const s = analyse(dir);
    assert.equal(s.files, 2);
    assert.equal(s.unmarked, 1);
    assert.deepEqual(Object.fromEntries(s.calls), {
      futex: 2,
      socket: 1,
      prctl: 1,
      clone3: 1,
      clone: 1,
    });
    assert.deepEqual(Object.fromEntries(s.domains), { AF_NETLINK: 1 });
    assert.deepEqual(Object.fromEntries(s.prctl), { PR_SET_NAME: 1 });
    assert.deepEqual(Object.fromEntries(s.clone), {
      "clone3 CLONE_VM|CLONE_THREAD": 1,
      "clone CLONE_VM|CLONE_THREAD|CLONE_SETTLS": 1,
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("seccomp_measure: seccompRecords() names the kernel's records from Deno processes", () => {
  const x86 = Deno.build.arch === "x86_64";
  const rec = (exe: string, nr: number, code: string) =>
    `[ 1.0] audit: type=1326 audit(1.0:1): auid=4294967295 uid=0 gid=0 pid=7 comm="chronyd" ` +
    `exe="${exe}" sig=0 arch=c000003e syscall=${nr} compat=0 ip=0x7f code=${code}`;
  const lines = [
    rec("/opt/x/deno", x86 ? 53 : 199, "0x7ffc0000"),
    rec("/opt/x/deno", x86 ? 53 : 199, "0x80000000"),
    rec("/opt/x/deno", x86 ? 63 : 160, "0x7ffc0000"),
    rec("/usr/sbin/chronyd", 1, "0x80000000"),
    "[ 2.0] unrelated line",
  ];
  assert.deepEqual(Object.fromEntries(seccompRecords(lines)), {
    "socketpair logged": 1,
    "socketpair killed": 1,
    "uname logged": 1,
  });
});
