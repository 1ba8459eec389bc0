/**
 * Who may send commands, horae beside the real chronyd 4.3 with the same
 * configuration:
 * - the Unix command socket is mode 0755 and owned by the daemon's user
 *   (`-u nobody`), so a member of the directory's group who is not that user
 *   cannot send to it; a directory of the wrong owner disables the socket;
 * - on the UDP command port only 127.0.0.1 and ::1 are exempt from
 *   `cmdallow`/`cmddeny`: a request from 127.0.0.2 is dropped.
 * The socket tests need root (skipped otherwise, failing under CI=true).
 */
import assert from "node:assert/strict";
import { encodeRequest } from "../../lib/cmdmon/request.ts";
import { decodeReply } from "../../lib/cmdmon/reports.ts";
import { freePort, haveChrony, ROOT } from "./harness.ts";

const inCi = Deno.env.get("CI") === "true";
const isRoot = Deno.uid() === 0;
const chrony = haveChrony();
if (!chrony && inCi) throw new Error("cmd_access_test: the real chronyd is required under CI");
const NOBODY = 65534;
const PYTHON = "/usr/bin/python3";

type Kind = "horae" | "chronyd";
const KINDS: Kind[] = chrony ? ["horae", "chronyd"] : ["horae"];

interface Daemon {
  child: Deno.ChildProcess;
  /** stderr so far (both run with -d: logging goes there). */
  log(): string;
  stop(): Promise<void>;
}

function launch(kind: Kind, conf: string, flags: string[]): Daemon {
  const cmd = kind === "horae" ? `${ROOT}/bin/chronyd` : "/usr/sbin/chronyd";
  const child = new Deno.Command(cmd, {
    args: ["-d", "-x", ...flags, "-f", conf],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let text = "";
  const dec = new TextDecoder();
  const reading = (async () => {
    for await (const chunk of child.stderr) text += dec.decode(chunk, { stream: true });
  })();
  let stopped: Promise<void> | null = null;
  return {
    child,
    log: () => text,
    stop() {
      stopped ??= (async () => {
        try {
          child.kill("SIGTERM");
        } catch { /* gone */ }
        const t = setTimeout(() => {
          try {
            child.kill("SIGKILL");
          } catch { /* gone */ }
        }, 5000);
        await child.status;
        clearTimeout(t);
        await reading;
      })();
      return stopped;
    },
  };
}

async function until(what: string, ok: () => boolean | Promise<boolean>, ms = 10_000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await ok()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

const TRACKING = encodeRequest({ kind: "tracking" }, { sequence: 7, attempt: 0 });
const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

/** A tiny Unix-socket cmdmon client run as another user: prints REPLY n, TIMEOUT or an errno name. */
const SEND_PY = `
import errno, os, socket, sys
path, server, req = sys.argv[1], sys.argv[2], bytes.fromhex(sys.argv[3])
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
os.chmod(path, 0o666)
s.settimeout(2)
try:
    try:
        s.sendto(req, server)
    except OSError as e:
        print(errno.errorcode.get(e.errno, str(e.errno)))
        sys.exit(0)
    try:
        print("REPLY", len(s.recv(4096)))
    except socket.timeout:
        print("TIMEOUT")
finally:
    os.unlink(path)
`;

/** Sends a tracking request to `socket` as uid/gid with supplementary `groups`. */
async function sendAs(
  socket: string,
  clientDir: string,
  uid: number,
  gid: number,
  groups: number[],
): Promise<string> {
  const path = `${clientDir}/c${uid}-${Math.floor(Math.random() * 1e9)}.sock`;
  const o = await new Deno.Command("setpriv", {
    args: [
      `--reuid=${uid}`,
      `--regid=${gid}`,
      groups.length ? `--groups=${groups.join(",")}` : "--clear-groups",
      "--",
      PYTHON,
      "-c",
      SEND_PY,
      path,
      socket,
      hex(TRACKING),
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  assert.equal(o.code, 0, dec.decode(o.stderr));
  return dec.decode(o.stdout).trim();
}

/** A base directory (0755) with a socket directory `run` of the given mode and owner. */
async function layout(mode: number, uid: number, gid: number) {
  const base = await Deno.makeTempDir({ prefix: "horae-cmdsock-" });
  await Deno.chmod(base, 0o755);
  const run = `${base}/run`;
  await Deno.mkdir(run);
  await Deno.chmod(run, mode);
  await Deno.chown(run, uid, gid);
  const clients = `${base}/clients`;
  await Deno.mkdir(clients);
  await Deno.chmod(clients, 0o1777);
  const socket = `${run}/chronyd.sock`;
  const conf = `${base}/chrony.conf`;
  await Deno.writeTextFile(
    conf,
    ["port 0", "cmdport 0", `bindcmdaddress ${socket}`, `pidfile ${base}/chronyd.pid`, ""]
      .join("\n"),
  );
  return { base, run, socket, conf, clients };
}

Deno.test({
  name:
    "command socket: 0755, owned by the -u user; a group member who is not the user cannot send",
  ignore: !isRoot && !inCi,
  async fn() {
    assert.ok(isRoot, "needs root");
    for (const kind of KINDS) {
      const l = await layout(0o770, NOBODY, NOBODY);
      const d = launch(kind, l.conf, ["-u", "nobody"]);
      try {
        await until(`${kind}'s command socket`, () => exists(l.socket));
        await until(`${kind} to switch user`, async () => {
          const st = await Deno.readTextFile(`/proc/${d.child.pid}/status`);
          return /^Uid:\s+65534\s/m.test(st);
        });
        const st = Deno.statSync(l.socket);
        assert.equal((st.mode ?? 0) & 0o777, 0o755, `${kind}: socket mode`);
        assert.equal(st.uid, NOBODY, `${kind}: socket owner`);
        assert.equal(st.gid, NOBODY, `${kind}: socket group`);
        // The daemon's own user is answered...
        assert.match(await sendAs(l.socket, l.clients, NOBODY, NOBODY, []), /^REPLY \d+$/, kind);
        // ...a member of its group (uid 1, supplementary group nogroup) is refused by the kernel.
        assert.equal(await sendAs(l.socket, l.clients, 1, 1, [NOBODY]), "EACCES", kind);
      } finally {
        await d.stop();
        await Deno.remove(l.base, { recursive: true });
      }
    }
  },
});

Deno.test({
  name: "command socket: a directory of another owner or open to others disables it, as chronyd",
  ignore: !isRoot && !inCi,
  async fn() {
    assert.ok(isRoot, "needs root");
    const cases: [number, number, number, RegExp][] = [
      [0o770, 0, 0, /Wrong owner of \S+\/run \(UID != 65534\)/],
      [0o770, NOBODY, 0, /Wrong owner of \S+\/run \(GID != 65534\)/],
      [0o775, NOBODY, NOBODY, /Wrong permissions on \S+\/run/],
    ];
    for (const [mode, uid, gid, expected] of cases) {
      for (const kind of KINDS) {
        const l = await layout(mode, uid, gid);
        // A UDP command port keeps chronyd running ("Nothing to do" otherwise).
        await Deno.writeTextFile(l.conf, `cmdport ${freePort()}\n`, { append: true });
        const d = launch(kind, l.conf, ["-u", "nobody"]);
        try {
          await until(`${kind}: ${expected}`, () => /Disabled command socket/.test(d.log()));
          assert.match(d.log(), expected, kind);
          assert.ok(!exists(l.socket), `${kind}: no socket in a refused directory`);
        } finally {
          await d.stop();
          await Deno.remove(l.base, { recursive: true });
        }
      }
    }
  },
});

/** Sends a tracking request from `from` to 127.0.0.1:port; true when a tracking reply comes back. */
async function answeredFrom(from: string, port: number): Promise<boolean> {
  const sock = Deno.listenDatagram({ transport: "udp", hostname: from, port: 0 });
  try {
    for (let attempt = 0; attempt < 3; attempt++) {
      await sock.send(TRACKING, { transport: "udp", hostname: "127.0.0.1", port });
      const got = await Promise.race([
        sock.receive(),
        new Promise<null>((r) => setTimeout(() => r(null), 400)),
      ]);
      if (got) return decodeReply(got[0]).reply.kind === "tracking";
    }
    return false;
  } finally {
    sock.close();
  }
}

Deno.test("UDP command port: only 127.0.0.1 is exempt from cmdallow, 127.0.0.2 is not", async () => {
  for (const kind of KINDS) {
    const dir = await Deno.makeTempDir({ prefix: "horae-cmdacc-" });
    await Deno.chmod(dir, 0o700);
    const port = freePort();
    const conf = `${dir}/chrony.conf`;
    await Deno.writeTextFile(
      conf,
      [
        "port 0",
        `cmdport ${port}`,
        "bindcmdaddress 127.0.0.1",
        "cmdallow 127.0.0.3",
        `bindcmdaddress ${dir}/chronyd.sock`,
        `pidfile ${dir}/chronyd.pid`,
        "",
      ].join("\n"),
    );
    const d = launch(kind, conf, kind === "chronyd" ? ["-u", "root"] : []);
    try {
      await until(`${kind}'s command port`, () => answeredFrom("127.0.0.1", port));
      assert.equal(await answeredFrom("127.0.0.3", port), true, `${kind}: cmdallow 127.0.0.3`);
      assert.equal(await answeredFrom("127.0.0.2", port), false, `${kind}: 127.0.0.2 denied`);
    } finally {
      await d.stop();
      await Deno.remove(dir, { recursive: true });
    }
  }
});
