/**
 * ffi/seccomp.ts: the system call numbers and constants against the kernel
 * headers (gcc: `sys/syscall.h` for x86_64, `asm-generic/unistd.h` with
 * arm64's `__ARCH_WANT_*` for aarch64), the BPF program run through a small
 * classic-BPF interpreter for every call of both tables, and the filter
 * installed in a child Deno process (a forbidden call kills it with SIGSYS at
 * level 2, runs and is only logged at level -1).
 */
import assert from "node:assert/strict";
import {
  ADDED,
  ALLOWED,
  type Arch,
  BPF,
  buildFilter,
  DENIED,
  MEASURED,
  SC,
  SECCOMP_DATA,
  SECCOMP_RET,
  SPECIAL,
  SYSCALLS,
} from "../../ffi/seccomp.ts";

const inCi = !!Deno.env.get("CI");

async function haveGcc(): Promise<boolean> {
  try {
    const r = await new Deno.Command("gcc", { args: ["--version"], stdout: "null", stderr: "null" })
      .output();
    return r.success;
  } catch {
    return false;
  }
}
const gccPresent = await haveGcc();
if (!gccPresent && !inCi) console.warn("seccomp_test: gcc not found; skipping the header probe");

const ARM64_WANTS = [
  "__ARCH_WANT_RENAMEAT",
  "__ARCH_WANT_NEW_STAT",
  "__ARCH_WANT_SET_GET_RLIMIT",
  "__ARCH_WANT_TIME32_SYSCALLS",
  "__ARCH_WANT_SYS_CLONE3",
  "__ARCH_WANT_MEMFD_SECRET",
];

/** Compiles and runs a probe printing `name value` (or `name -` when undefined). */
async function probe(
  header: string,
  defines: string[],
  names: string[],
): Promise<Map<string, string>> {
  const dir = await Deno.makeTempDir({ prefix: "horae-scprobe-" });
  try {
    const body = names.map((n) =>
      `#ifdef __NR_${n}\nprintf("${n} %ld\\n", (long)__NR_${n});\n#else\nprintf("${n} -\\n");\n#endif`
    ).join("\n");
    await Deno.writeTextFile(
      `${dir}/p.c`,
      `#include <stdio.h>\n#include <${header}>\nint main(void) {\n${body}\nreturn 0;\n}\n`,
    );
    const cc = await new Deno.Command("gcc", {
      args: [...defines.map((d) => `-D${d}`), "-o", `${dir}/p`, `${dir}/p.c`],
      stderr: "piped",
    }).output();
    assert.ok(cc.success, new TextDecoder().decode(cc.stderr));
    const out = new TextDecoder().decode((await new Deno.Command(`${dir}/p`).output()).stdout);
    return new Map(out.trim().split("\n").map((l) => l.split(" ") as [string, string]));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test({
  name: "seccomp: x86_64 and aarch64 call numbers match the kernel headers",
  ignore: !gccPresent && !inCi,
  async fn() {
    assert.ok(gccPresent, "gcc is required in CI to check ffi/seccomp.ts");
    const names = Object.keys(SYSCALLS);
    const x86 = await probe("sys/syscall.h", [], names);
    const arm = await probe("asm-generic/unistd.h", [...ARM64_WANTS, "__BITS_PER_LONG=64"], names);
    for (const n of names) {
      const [x, a] = SYSCALLS[n]!;
      if (Deno.build.arch === "x86_64") assert.equal(x86.get(n), x === null ? "-" : String(x), n);
      assert.equal(arm.get(n), a === null ? "-" : String(a), `${n} (aarch64)`);
    }
  },
});

Deno.test({
  name: "seccomp: constants match linux/seccomp.h, linux/audit.h, linux/filter.h, linux/prctl.h",
  ignore: !gccPresent && !inCi,
  async fn() {
    assert.ok(gccPresent, "gcc is required in CI to check ffi/seccomp.ts");
    const rows: [string, number][] = [
      ["SECCOMP_RET_KILL_PROCESS", SECCOMP_RET.KILL_PROCESS],
      ["SECCOMP_RET_KILL_THREAD", SECCOMP_RET.KILL_THREAD],
      ["SECCOMP_RET_TRAP", SECCOMP_RET.TRAP],
      ["SECCOMP_RET_ERRNO", SECCOMP_RET.ERRNO],
      ["SECCOMP_RET_LOG", SECCOMP_RET.LOG],
      ["SECCOMP_RET_ALLOW", SECCOMP_RET.ALLOW],
      ["SECCOMP_SET_MODE_FILTER", SC.SECCOMP_SET_MODE_FILTER],
      ["SECCOMP_FILTER_FLAG_TSYNC", SC.SECCOMP_FILTER_FLAG_TSYNC],
      ["PR_SET_NO_NEW_PRIVS", SC.PR_SET_NO_NEW_PRIVS],
      ["PR_SET_NAME", SC.PR_SET_NAME],
      ["PR_GET_NAME", SC.PR_GET_NAME],
      ["PR_SET_VMA", SC.PR_SET_VMA],
      ["AUDIT_ARCH_X86_64", SC.AUDIT_ARCH_X86_64],
      ["AUDIT_ARCH_AARCH64", SC.AUDIT_ARCH_AARCH64],
      ["__X32_SYSCALL_BIT", SC.__X32_SYSCALL_BIT],
      ["CLONE_THREAD", SC.CLONE_THREAD],
      ["AF_UNIX", SC.AF_UNIX],
      ["AF_INET", SC.AF_INET],
      ["AF_INET6", SC.AF_INET6],
      ["AF_NETLINK", SC.AF_NETLINK],
      ["AF_PACKET", SC.AF_PACKET],
      ["ENOSYS", SC.ENOSYS],
      ["PTRACE_PEEKDATA", SC.PTRACE_PEEKDATA],
      ["SOCK_DGRAM", SC.SOCK_DGRAM],
      ["offsetof(struct seccomp_data, nr)", SECCOMP_DATA.nr],
      ["offsetof(struct seccomp_data, arch)", SECCOMP_DATA.arch],
      ["offsetof(struct seccomp_data, args)", SECCOMP_DATA.args],
      ["BPF_LD | BPF_W | BPF_ABS", BPF.LD_W_ABS],
      ["BPF_JMP | BPF_JA", BPF.JMP_JA],
      ["BPF_JMP | BPF_JEQ | BPF_K", BPF.JMP_JEQ_K],
      ["BPF_JMP | BPF_JGE | BPF_K", BPF.JMP_JGE_K],
      ["BPF_JMP | BPF_JSET | BPF_K", BPF.JMP_JSET_K],
      ["BPF_RET | BPF_K", BPF.RET_K],
      ["sizeof(struct sock_filter)", 8],
      ["sizeof(struct sock_fprog)", 16],
      ["offsetof(struct sock_fprog, filter)", 8],
    ];
    const dir = await Deno.makeTempDir({ prefix: "horae-scprobe-" });
    try {
      const src = [
        "#define _GNU_SOURCE",
        "#include <stdio.h>",
        "#include <stddef.h>",
        "#include <errno.h>",
        "#include <sched.h>",
        "#include <sys/socket.h>",
        "#include <sys/ptrace.h>",
        "#include <linux/seccomp.h>",
        "#include <linux/filter.h>",
        "#include <linux/audit.h>",
        "#include <linux/prctl.h>",
        Deno.build.arch === "x86_64"
          ? "#include <asm/unistd.h>"
          : "#define __X32_SYSCALL_BIT 0x40000000",
        "int main(void) {",
        ...rows.map(([e]) => `printf("%lu\\n", (unsigned long)(${e}));`),
        "return 0; }",
      ].join("\n");
      await Deno.writeTextFile(`${dir}/c.c`, src);
      const cc = await new Deno.Command("gcc", {
        args: ["-o", `${dir}/c`, `${dir}/c.c`],
        stderr: "piped",
      }).output();
      assert.ok(cc.success, new TextDecoder().decode(cc.stderr));
      const out = new TextDecoder().decode((await new Deno.Command(`${dir}/c`).output()).stdout)
        .trim().split("\n").map(Number);
      rows.forEach(([e, v], i) => assert.equal(out[i], v, e));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

/** Runs a classic BPF program (the opcodes buildFilter emits) over one seccomp_data. */
function runBpf(prog: Uint8Array, data: { nr: number; arch: number; args: number[] }): number {
  const v = new DataView(prog.buffer, prog.byteOffset, prog.byteLength);
  const d = new DataView(new ArrayBuffer(64));
  d.setInt32(SECCOMP_DATA.nr, data.nr, true);
  d.setUint32(SECCOMP_DATA.arch, data.arch, true);
  data.args.forEach((a, i) => d.setBigUint64(SECCOMP_DATA.args + 8 * i, BigInt(a), true));
  let acc = 0;
  for (let pc = 0, steps = 0; pc < prog.length / 8; pc++, steps++) {
    assert.ok(steps < 10_000);
    const code = v.getUint16(pc * 8, true), jt = v.getUint8(pc * 8 + 2);
    const jf = v.getUint8(pc * 8 + 3), k = v.getUint32(pc * 8 + 4, true);
    switch (code) {
      case BPF.LD_W_ABS:
        acc = d.getUint32(k, true);
        break;
      case BPF.JMP_JA:
        pc += k;
        break;
      case BPF.JMP_JEQ_K:
        pc += acc === k ? jt : jf;
        break;
      case BPF.JMP_JGE_K:
        pc += acc >= k ? jt : jf;
        break;
      case BPF.JMP_JSET_K:
        pc += (acc & k) !== 0 ? jt : jf;
        break;
      case BPF.RET_K:
        return k;
      default:
        throw new Error(`unexpected opcode ${code}`);
    }
  }
  throw new Error("fell off the end of the program");
}

const AUDIT = { x86_64: SC.AUDIT_ARCH_X86_64, aarch64: SC.AUDIT_ARCH_AARCH64 } as const;

for (const arch of ["x86_64", "aarch64"] as Arch[]) {
  const col = arch === "x86_64" ? 0 : 1;
  const nrOf = (n: string) => SYSCALLS[n]![col]!;
  const call = (level: number, nr: number, args: number[] = [], a: number = AUDIT[arch]) =>
    runBpf(buildFilter(level, arch), { nr, arch: a, args });
  const THREAD_FLAGS = 0x3d0f00; // CLONE_VM|FS|FILES|SIGHAND|THREAD|SYSVSEM|SETTLS|...TID

  Deno.test(`seccomp: level 1/-1 program on ${arch}: the allow-list and the argument checks`, () => {
    for (const level of [1, -1]) {
      const fail = level > 0 ? SECCOMP_RET.KILL_PROCESS : SECCOMP_RET.LOG;
      const allowed = new Set(ALLOWED);
      for (const [name, row] of Object.entries(SYSCALLS)) {
        const nr = row[col];
        if (nr === null || SPECIAL.includes(name)) continue;
        // A number shared by two names (none today) would follow either.
        const want = allowed.has(name) ? SECCOMP_RET.ALLOW : fail;
        assert.equal(call(level, nr, [0]), want, `${name} at level ${level}`);
      }
      assert.equal(call(level, nrOf("clone3")), SECCOMP_RET.ERRNO | SC.ENOSYS);
      assert.equal(call(level, nrOf("clone"), [THREAD_FLAGS]), SECCOMP_RET.ALLOW);
      assert.equal(call(level, nrOf("clone"), [17 /* SIGCHLD: fork */]), fail);
      for (const af of [SC.AF_UNIX, SC.AF_INET, SC.AF_INET6, SC.AF_NETLINK]) {
        assert.equal(call(level, nrOf("socket"), [af, 2]), SECCOMP_RET.ALLOW);
      }
      assert.equal(call(level, nrOf("socket"), [SC.AF_PACKET, 2]), fail);
      assert.equal(call(level, nrOf("socketpair"), [SC.AF_UNIX, 1]), SECCOMP_RET.ALLOW);
      assert.equal(call(level, nrOf("socketpair"), [SC.AF_INET, 1]), fail);
      assert.equal(call(level, nrOf("prctl"), [SC.PR_SET_NAME]), SECCOMP_RET.ALLOW);
      assert.equal(call(level, nrOf("prctl"), [SC.PR_SET_VMA]), SECCOMP_RET.ALLOW);
      assert.equal(call(level, nrOf("prctl"), [SC.PR_SET_NO_NEW_PRIVS]), fail);
      // Another architecture's numbers, an unknown number.
      assert.equal(call(level, nrOf("read"), [], 0x40000003 /* i386 */), fail);
      assert.equal(call(level, 100_000), fail);
      if (arch === "x86_64") {
        assert.equal(call(level, SC.__X32_SYSCALL_BIT | nrOf("read")), fail); // x32 ABI
      }
    }
  });

  Deno.test(`seccomp: level 2/-2 program on ${arch}: the deny-list`, () => {
    for (const level of [2, -2]) {
      const fail = level > 0 ? SECCOMP_RET.KILL_PROCESS : SECCOMP_RET.LOG;
      const denied = new Set(DENIED);
      for (const [name, row] of Object.entries(SYSCALLS)) {
        const nr = row[col];
        if (nr === null || ["clone", "clone3"].includes(name)) continue;
        assert.equal(call(level, nr), denied.has(name) ? fail : SECCOMP_RET.ALLOW, name);
      }
      assert.equal(call(level, nrOf("clone3")), SECCOMP_RET.ERRNO | SC.ENOSYS);
      assert.equal(call(level, nrOf("clone"), [THREAD_FLAGS]), SECCOMP_RET.ALLOW);
      assert.equal(call(level, nrOf("clone"), [17]), fail);
      assert.equal(call(level, nrOf("socket"), [SC.AF_PACKET, 2]), SECCOMP_RET.ALLOW);
    }
  });
}

Deno.test("seccomp: the lists name known calls; levels outside -2..2 are refused", () => {
  for (const n of [...MEASURED, ...Object.values(ADDED).flat(), ...DENIED]) {
    assert.ok(n in SYSCALLS, n);
  }
  for (const n of DENIED) assert.ok(!ALLOWED.includes(n), `${n} both allowed and denied`);
  for (const bad of [0, 3, -3, 1.5]) assert.throws(() => buildFilter(bad, "x86_64"));
  // The program stays far below the kernel's 4096 instructions.
  assert.ok(buildFilter(1, "x86_64").length / 8 < 400);
});

const here = new URL("../../ffi/seccomp.ts", import.meta.url).href;

async function inChild(level: number, kind: "ptrace" | "packet") {
  const script = `import { forbiddenCall, installFilter } from "${here}";
installFilter(${level});
console.log("installed");
const r = forbiddenCall("${kind}");
console.log("returned", r.result, r.errno);`;
  const o = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--quiet", script],
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { ...o, out: new TextDecoder().decode(o.stdout), err: new TextDecoder().decode(o.stderr) };
}

Deno.test({
  name: "seccomp: installed in a child Deno, ptrace kills it with SIGSYS at level 2 and 1",
  ignore: !["x86_64", "aarch64"].includes(Deno.build.arch),
  async fn() {
    for (const level of [2, 1]) {
      const r = await inChild(level, "ptrace");
      assert.match(r.out, /^installed$/m, r.err);
      assert.doesNotMatch(r.out, /returned/);
      assert.equal(r.signal, "SIGSYS", `level ${level}: ${r.out} ${r.err}`);
    }
  },
});

Deno.test({
  name: "seccomp: at level -1 the forbidden call runs (only logged) and the process goes on",
  ignore: !["x86_64", "aarch64"].includes(Deno.build.arch),
  async fn() {
    const r = await inChild(-1, "ptrace");
    assert.equal(r.code, 0, r.err);
    // ptrace(PTRACE_PEEKDATA, -1) ran: ESRCH (3), not killed, not ENOSYS.
    assert.match(r.out, /^returned -1n? 3$/m, r.out);
  },
});
