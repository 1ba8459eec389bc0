import assert from "node:assert/strict";
import {
  capabilitiesToKeep,
  capabilityMask,
  type DirectoryOps,
  findUser,
  parsePasswd,
  planPrivileges,
  prepareDirectories,
  PrivilegeError,
  staysRoot,
  writableBy,
} from "../../lib/daemon/privileges.ts";
import { defaultConfig } from "../../lib/conf/config.ts";
import { parseChronydArgs } from "../../lib/conf/cli.ts";

const PASSWD = `root:x:0:0:root:/root:/bin/bash
# a comment

+nisuser::::::
_chrony:x:102:105:Chrony daemon,,,:/var/lib/chrony:/usr/sbin/nologin
broken:x:abc:1:bad uid:/:/bin/false
short:x:5:5
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
nobody:x:1:1:second nobody is shadowed:/:/bin/false
`;

Deno.test("passwd: entries with numeric ids; comments, NIS lines and malformed lines skipped", () => {
  assert.deepEqual(parsePasswd(PASSWD).map((e) => [e.name, e.uid, e.gid]), [
    ["root", 0, 0],
    ["_chrony", 102, 105],
    ["nobody", 65534, 65534],
    ["nobody", 1, 1],
  ]);
  assert.deepEqual(findUser("_chrony", PASSWD), {
    name: "_chrony",
    uid: 102,
    gid: 105,
    home: "/var/lib/chrony",
    shell: "/usr/sbin/nologin",
  });
});

Deno.test("passwd: the first entry of a name wins (getpwnam); unknown and partial names are null", () => {
  assert.equal(findUser("nobody", PASSWD)?.uid, 65534);
  assert.equal(findUser("nobod", PASSWD), null);
  assert.equal(findUser("broken", PASSWD), null);
  assert.equal(findUser("", PASSWD), null);
});

Deno.test("passwd: CRLF lines and ids beyond 32 bits", () => {
  assert.equal(findUser("a", "a:x:1:2::/:/bin/sh\r\n")?.shell, "/bin/sh");
  assert.equal(findUser("big", "big:x:4294967296:1::/:/bin/sh\n"), null);
});

Deno.test("capabilities kept: CAP_SYS_TIME only, plus CAP_NET_BIND_SERVICE for a privileged acquisitionport", () => {
  const c = defaultConfig();
  assert.deepEqual(capabilitiesToKeep(c), [25]);
  assert.equal(capabilityMask(capabilitiesToKeep(c)), 0x2000000n);
  c.acquisitionPort = 123;
  assert.deepEqual(capabilitiesToKeep(c), [10, 25]);
  c.acquisitionPort = 1024;
  assert.deepEqual(capabilitiesToKeep(c), [25]);
});

const passwd = () => PASSWD;

Deno.test("plan: -u overrides `user`; root with a user switches, keeping CAP_SYS_TIME", () => {
  const c = defaultConfig();
  c.user = "_chrony";
  const plan = planPrivileges(c, parseChronydArgs(["-u", "nobody"]), {
    readPasswd: passwd,
    uid: 0,
  });
  assert.equal(plan.user?.uid, 65534);
  assert.deepEqual(plan.keep, [25]);
  assert.equal(
    planPrivileges(c, parseChronydArgs([]), { readPasswd: passwd, uid: 0 }).user?.uid,
    102,
  );
});

Deno.test("plan: no user given means no switch, even when chronyd's default user exists", () => {
  const plan = planPrivileges(defaultConfig(), parseChronydArgs([]), {
    readPasswd: passwd,
    uid: 0,
  });
  assert.equal(plan.user, null);
});

Deno.test("plan: an unknown user is a PrivilegeError; user root or a non-root process: no switch", () => {
  assert.throws(
    () =>
      planPrivileges(defaultConfig(), parseChronydArgs(["-u", "nosuch"]), {
        readPasswd: passwd,
        uid: 0,
      }),
    (e: unknown) =>
      e instanceof PrivilegeError && e.message === "Could not get user/group ID of nosuch",
  );
  const o = parseChronydArgs(["-u", "root"]);
  assert.equal(planPrivileges(defaultConfig(), o, { readPasswd: passwd, uid: 0 }).user, null);
  const n = parseChronydArgs(["-u", "nobody"]);
  assert.equal(planPrivileges(defaultConfig(), n, { readPasswd: passwd, uid: 1000 }).user, null);
});

Deno.test("plan: -m/lock_all and -P over sched_priority", () => {
  const c = defaultConfig();
  c.lockAll = true;
  c.schedPriority = 5;
  const a = planPrivileges(c, parseChronydArgs([]), { readPasswd: passwd, uid: 0 });
  assert.equal(a.lockMemory, true);
  assert.equal(a.schedPriority, 5);
  const b = planPrivileges(defaultConfig(), parseChronydArgs(["-m", "-P", "20"]), {
    readPasswd: passwd,
    uid: 0,
  });
  assert.equal(b.lockMemory, true);
  assert.equal(b.schedPriority, 20);
});

Deno.test("writableBy: owner, group and other bits need write and search", () => {
  const u = findUser("nobody", PASSWD)!;
  assert.equal(writableBy({ uid: 65534, gid: 0, mode: 0o700 }, u), true);
  assert.equal(writableBy({ uid: 65534, gid: 0, mode: 0o500 }, u), false);
  assert.equal(writableBy({ uid: 0, gid: 65534, mode: 0o770 }, u), true);
  assert.equal(writableBy({ uid: 0, gid: 0, mode: 0o755 }, u), false);
  assert.equal(writableBy({ uid: 0, gid: 0, mode: 0o1777 }, u), true);
});

/** An in-memory file tree for prepareDirectories. */
function fakeTree(existing: Record<string, { uid: number; gid: number; mode: number }>) {
  const tree = new Map(Object.entries(existing));
  const calls: string[] = [];
  const ops: DirectoryOps = {
    stat: (p) => {
      const s = tree.get(p);
      return s ? { isDirectory: true, ...s } : null;
    },
    mkdir: (p, mode) => {
      calls.push(`mkdir ${p} ${mode.toString(8)}`);
      tree.set(p, { uid: 0, gid: 0, mode });
    },
    chown: (p, uid, gid) => {
      calls.push(`chown ${p} ${uid}:${gid}`);
      tree.get(p)!.uid = uid;
      tree.get(p)!.gid = gid;
    },
  };
  return { ops, calls };
}

Deno.test("directories: missing socket dir and logdir are created owned by the user; existing ones are only checked", () => {
  const c = defaultConfig();
  c.bindCmdAddress.unixPath = "/run/chrony/chronyd.sock";
  c.pidFile = "/run/chrony/chronyd.pid";
  c.logDir = "/var/log/chrony";
  c.driftFile = { path: "/var/lib/chrony/chrony.drift", interval: 0 };
  const { ops, calls } = fakeTree({
    "/run": { uid: 0, gid: 0, mode: 0o755 },
    "/var": { uid: 0, gid: 0, mode: 0o755 },
    "/var/lib": { uid: 0, gid: 0, mode: 0o755 },
    "/var/lib/chrony": { uid: 0, gid: 0, mode: 0o755 },
  });
  const warnings = prepareDirectories(c, findUser("_chrony", PASSWD)!, ops);
  // chronyd 4.3: parents 0755 and root's, the directory itself 0770/0750 and the user's.
  assert.deepEqual(calls, [
    "mkdir /run/chrony 770",
    "chown /run/chrony 102:105",
    "mkdir /var/log 755",
    "mkdir /var/log/chrony 750",
    "chown /var/log/chrony 102:105",
  ]);
  assert.deepEqual(warnings, ["Directory /var/lib/chrony is not writable by user _chrony"]);
});

Deno.test("directories: created without a switch of user too (no chown), failures reported as chronyd words them", () => {
  const c = defaultConfig();
  c.bindCmdAddress.unixPath = "/run/chrony/chronyd.sock";
  c.logDir = "/var/log/chrony/a/b";
  c.dumpDir = "/var/lib/file/dump";
  c.ntsDumpDir = "/var/lib/chrony/nts";
  const { ops, calls } = fakeTree({
    "/run": { uid: 0, gid: 0, mode: 0o755 },
    "/run/chrony": { uid: 0, gid: 0, mode: 0o755 },
    "/var": { uid: 0, gid: 0, mode: 0o755 },
    "/var/lib": { uid: 0, gid: 0, mode: 0o755 },
    "/var/lib/chrony": { uid: 0, gid: 0, mode: 0o755 },
  });
  const stat = ops.stat;
  ops.stat = (p) =>
    p === "/var/lib/file" ? { isDirectory: false, uid: 0, gid: 0, mode: 0o644 } : stat(p);
  const mkdir = ops.mkdir;
  ops.mkdir = (p, m) => {
    if (p === "/var/lib/chrony/nts") throw new Error("Permission denied (os error 13): mkdir");
    mkdir(p, m);
  };
  const warnings = prepareDirectories(c, null, ops);
  assert.deepEqual(calls, [
    "mkdir /var/log 755",
    "mkdir /var/log/chrony 755",
    "mkdir /var/log/chrony/a 755",
    "mkdir /var/log/chrony/a/b 750",
  ]);
  assert.deepEqual(warnings, [
    "/var/lib/file is not directory",
    "Could not create directory /var/lib/chrony/nts : Permission denied",
  ]);
});

Deno.test("staysRoot: 'Running with root privileges' for -u root (or `user root`) run by root", () => {
  const c = defaultConfig();
  const deps = { readPasswd: passwd, uid: 0 };
  assert.equal(staysRoot(c, parseChronydArgs(["-u", "root"]), deps), true);
  assert.equal(staysRoot(c, parseChronydArgs(["-u", "nobody"]), deps), false);
  assert.equal(staysRoot(c, parseChronydArgs([]), deps), false);
  assert.equal(staysRoot(c, parseChronydArgs(["-u", "root"]), { ...deps, uid: 1000 }), false);
  c.user = "root";
  assert.equal(staysRoot(c, parseChronydArgs([]), deps), true);
});
