/**
 * The layering of docs/ARCHITECTURE.md, checked on the source text:
 * - the sans-IO core (lib/time, lib/net, lib/crypto, lib/ntp, lib/nts, lib/clock,
 *   lib/cmdmon, lib/refclock, the engine in lib/engine, lib/sim, and lib/conf
 *   but its file-reading edge) never uses Deno.*, timers, the wall clock,
 *   Math.random or Web Crypto's randomness (crypto.getRandomValues,
 *   crypto.randomUUID) (doc comments aside);
 * - only ffi/ calls Deno.dlopen or touches raw pointers;
 * - the core and lib/sim never import lib/io or lib/daemon, nor ffi/ except the pure
 *   layout files (ffi/layout.ts, ffi/timex.ts) and, in lib/crypto/aes.ts alone,
 *   ffi/libssl.ts for the AES block cipher (computation, not IO);
 * - no `catch {` in lib/ that swallows every error without a comment saying why
 *   (a catch should name the error it expects and rethrow the rest).
 */
import assert from "node:assert/strict";

const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const SANS_IO = [
  "lib/time",
  "lib/net",
  "lib/crypto",
  "lib/ntp",
  "lib/nts",
  "lib/clock",
  "lib/cmdmon",
  "lib/refclock",
  "lib/engine",
];
const FORBIDDEN =
  /\bDeno\.|\bsetTimeout\(|\bsetInterval\(|\bDate\.now\(|\bMath\.random\(|\bperformance\.now\(|\bcrypto\.(?:getRandomValues|randomUUID)\b/;

Deno.test("the forbidden pattern catches Web Crypto randomness, not io parameters", () => {
  for (
    const t of [
      "const b = crypto.getRandomValues(new Uint8Array(n));",
      "globalThis.crypto.randomUUID()",
      "const f = crypto.getRandomValues;",
    ]
  ) assert.ok(FORBIDDEN.test(t), t);
  assert.ok(!FORBIDDEN.test("const b = io.randomBytes(n);"));
});

function files(dir: string): string[] {
  const out: string[] = [];
  for (const e of Deno.readDirSync(`${ROOT}/${dir}`)) {
    if (e.isDirectory) out.push(...files(`${dir}/${e.name}`));
    else if (e.name.endsWith(".ts")) out.push(`${dir}/${e.name}`);
  }
  return out;
}

/** Source lines outside comments (line and block comments dropped). */
function code(path: string): { line: number; text: string }[] {
  const lines = Deno.readTextFileSync(`${ROOT}/${path}`).split("\n");
  const out: { line: number; text: string }[] = [];
  let inBlock = false;
  lines.forEach((raw, i) => {
    let text = raw;
    if (inBlock) {
      const end = text.indexOf("*/");
      if (end < 0) return;
      text = text.slice(end + 2);
      inBlock = false;
    }
    const start = text.indexOf("/*");
    if (start >= 0 && text.indexOf("*/", start) < 0) {
      text = text.slice(0, start);
      inBlock = true;
    }
    text = text.replace(/\/\*.*?\*\//g, "").replace(/\/\/.*$/, "");
    out.push({ line: i + 1, text });
  });
  return out;
}

Deno.test("the sans-IO core uses no Deno API, timer, wall clock, Math.random or crypto randomness", () => {
  const bad: string[] = [];
  const all = [...SANS_IO.flatMap(files), ...files("lib/sim"), ...files("lib/conf")];
  for (const f of all) {
    if (f === "lib/conf/load.ts") continue; // the configuration's file-reading edge
    for (const { line, text } of code(f)) {
      if (FORBIDDEN.test(text)) bad.push(`${f}:${line}: ${text.trim()}`);
    }
  }
  assert.deepEqual(bad, []);
});

Deno.test("only ffi/ opens libraries or touches raw pointers", () => {
  const bad: string[] = [];
  for (const f of [...files("lib"), ...files("tools"), ...files("bench"), "main.ts", "mod.ts"]) {
    for (const { line, text } of code(f)) {
      if (/\bDeno\.(dlopen|UnsafePointer|UnsafePointerView|UnsafeCallback)\b/.test(text)) {
        bad.push(`${f}:${line}`);
      }
    }
  }
  assert.deepEqual(bad, []);
});

/**
 * ffi modules the core may use: struct layouts and constants; OpenSSL's AES
 * block cipher in lib/crypto/aes.ts, the one door of lib/crypto to the C library.
 */
function ffiAllowed(file: string, target: string): boolean {
  if (target.endsWith("ffi/layout.ts") || target.endsWith("ffi/timex.ts")) return true;
  return file === "lib/crypto/aes.ts" && target.endsWith("ffi/libssl.ts");
}

Deno.test("the sans-IO core imports neither lib/io nor lib/daemon, and ffi only for layouts and the AES cipher", () => {
  const bad: string[] = [];
  for (const f of [...SANS_IO.flatMap(files), ...files("lib/sim")]) {
    for (const { line, text } of code(f)) {
      const m = text.match(/from\s+"([^"]+)"/);
      if (!m) continue;
      const target = m[1]!;
      if (target.includes("/io/") || target.includes("/daemon/")) {
        bad.push(`${f}:${line} ${target}`);
      }
      if (target.includes("/ffi/") && !ffiAllowed(f, target)) bad.push(`${f}:${line} ${target}`);
    }
  }
  assert.deepEqual(bad, []);
});

/**
 * `catch {` lines (1-based) of `text` with no comment on the same line after
 * it, nor as the first thing on the next line: an error swallowed unexplained.
 */
function unexplainedCatches(text: string): number[] {
  const lines = text.split("\n");
  const out: number[] = [];
  lines.forEach((line, i) => {
    const t = line.trimStart();
    if (t.startsWith("*") || t.startsWith("//")) return; // doc text, comments
    const at = line.search(/\bcatch\s*\{/);
    if (at < 0) return;
    const rest = line.slice(at);
    const next = (lines[i + 1] ?? "").trimStart();
    if (rest.includes("//") || rest.includes("/*")) return;
    if (next.startsWith("//") || next.startsWith("/*")) return;
    out.push(i + 1);
  });
  return out;
}

Deno.test("the bare-catch check finds a silent catch and accepts an explained one", () => {
  assert.deepEqual(unexplainedCatches("try {\n  f();\n} catch {\n  return null;\n}"), [3]);
  assert.deepEqual(unexplainedCatches("try { f(); } catch {}\n"), [1]);
  assert.deepEqual(unexplainedCatches("} catch {\n  // gone: nothing to do\n}"), []);
  assert.deepEqual(unexplainedCatches("} catch { /* closed */ }"), []);
  assert.deepEqual(unexplainedCatches("} catch (e) {\n  if (!ok(e)) throw e;\n}"), []);
  assert.deepEqual(unexplainedCatches(" * } catch {\n * }"), []);
});

Deno.test("every bare catch in lib/ says why it swallows the error", () => {
  const bad: string[] = [];
  for (const f of files("lib")) {
    const text = Deno.readTextFileSync(`${ROOT}/${f}`);
    for (const line of unexplainedCatches(text)) bad.push(`${f}:${line}`);
  }
  assert.deepEqual(bad, []);
});

/**
 * Uses of the engine's internals in a source text: a member of `engine` outside `allowed`, or
 * the parts of live sources (`.ntp`, `.stats`, `.spec`) and their types.
 */
function engineInternals(
  lines: { line: number; text: string }[],
  allowed: readonly string[],
  exempt: { parts?: readonly string[]; destructure?: boolean } = {},
): string[] {
  const bad: string[] = [];
  for (const { line, text } of lines) {
    for (const m of text.matchAll(/(?<![/\w$])engine\s*\??\.\s*([#\w$]+)/g)) {
      if (!allowed.includes(m[1]!)) bad.push(`${line}: engine.${m[1]}`);
    }
    // (a spread `...spec` is not a member)
    const parts = text.match(
      /(?<!\.\.)\.(?:ntp|stats|spec)\b|\b(?:EngineSource|EngineRefclock|NtpSource|SourceStats|RefclockSource)\b/,
    );
    if (parts && !exempt.parts?.includes(parts[0])) bad.push(`${line}: ${parts[0]}`);
    if (/\{[^}]*\bengine\b[^}]*\}\s*=/.test(text) && !exempt.destructure) {
      bad.push(`${line}: engine destructured`);
    }
  }
  return bad;
}

Deno.test("the engine-internals check catches live sources, their parts and unlisted members", () => {
  const sample = [
    "const s = this.#d.engine.sources.filter((s) => !s.removed);",
    "s.ntp.modify('offset', 1);",
    "const { engine } = state;",
    "import type { EngineSource } from '../engine/engine.ts';",
    "d.engine.systemSnapshot();",
  ].map((text, i) => ({ line: i + 1, text }));
  assert.deepEqual(engineInternals(sample, ["systemSnapshot"]), [
    "1: engine.sources",
    "2: .ntp",
    "3: engine destructured",
    "4: EngineSource",
  ]);
});

Deno.test("the cmdmon backend reaches the engine only through ENGINE_API (snapshots and commands)", async () => {
  const { ENGINE_API } = await import("../lib/engine/engine.ts");
  // the live state stays inside: none of these is on the list
  for (const internal of ["sources", "refclocks", "selected", "selectedRefclock", "lastUpdate"]) {
    assert.ok(!(ENGINE_API as readonly string[]).includes(internal), internal);
  }
  const backend = ["lib/daemon/cmdmon_backend.ts", "lib/engine/cmdmon_reports.ts"];
  assert.deepEqual(backend.flatMap((f) => engineInternals(code(f), ENGINE_API)), []);
});

/**
 * Every file outside lib/engine that holds the engine, with the members it may use (all drawn
 * from ENGINE_API, the snapshots and commands, and ENGINE_WIRING, what drives the engine) and
 * the exceptions it needs, each with its reason.
 */
const ENGINE_USERS: Record<
  string,
  { members: readonly string[]; parts?: readonly string[]; destructure?: boolean }
> = {
  // chronyc's requests and the HTTP observer's reports: snapshots and commands only
  "lib/daemon/cmdmon_backend.ts": { members: [] },
  "lib/daemon/observer.ts": { members: [] },
  "lib/daemon/state.ts": { members: [] },
  // source lines: adds, removes and replaces sources, by id and address
  "lib/daemon/source_manager.ts": {
    members: [
      "addSource",
      "authReady",
      "removeSource",
      "isLive",
      "sourceAddress",
      "liveAddresses",
      "sourceHandle",
    ],
  },
  // sockets: packets, TX stamps, send errors, timers; the per-source handle on the packet path
  "lib/daemon/client_io.ts": {
    members: ["start", "onTimer", "onPacket", "onTxTimestamp", "onSendError", "sourceHandle"],
  },
  // chronyd -q/-Q: its own engine, ended when no source can be selected any more
  "lib/daemon/oneshot.ts": {
    members: ["start", "close", "addSource", "authReady", "liveIds", "pollProgress"],
  },
  "lib/daemon/nts_client.ts": { members: ["addSource", "authReady"] },
  // builds the engine; `.stats` are the server sockets' counters (UdpSocket.stats)
  "lib/daemon/daemon.ts": {
    members: ["start", "close", "historyHolders"],
    parts: [".stats"],
    destructure: true,
  },
  // the named start-up steps: authselectmode, peers' local status, initstepslew's sources;
  // `.stats` is the NTS-KE server's counters
  "lib/daemon/startup.ts": {
    members: ["authSelectMode", "setLocalStatus", "liveIds", "isLive"],
    parts: [".stats"],
    destructure: true,
  },
  "lib/io/refclock_drivers.ts": {
    members: ["addRefclock", "onRefclockSample", "refclockProgress"],
  },
  // the simulator drives its engine as the daemon does; its outcome from the summaries
  "lib/sim/simulation.ts": {
    members: ["start", "close", "addSource", "onTimer", "onPacket", "sourceSummaries"],
  },
};

/** lib/ files outside lib/engine that import the engine or the daemon's state, or use `engine.`. */
function engineHolders(): string[] {
  return files("lib").filter((f) => {
    if (f.startsWith("lib/engine/")) return false;
    const text = code(f).map((l) => l.text).join("\n");
    return /from\s+"[./]*(?:engine\/engine|daemon\/state|state)\.ts"/.test(text) ||
      /(?<![/\w$])engine\s*\??\.\s*[#\w$]/.test(text);
  });
}

Deno.test("every engine user outside lib/engine has its allow-list, within the engine's lists", async () => {
  const { ENGINE_API, ENGINE_WIRING } = await import("../lib/engine/engine.ts");
  const known: readonly string[] = [...ENGINE_API, ...ENGINE_WIRING];
  for (const internal of ["sources", "refclocks", "selected", "selectedRefclock", "lastUpdate"]) {
    assert.ok(!known.includes(internal), internal);
  }
  assert.deepEqual(engineHolders().filter((f) => !(f in ENGINE_USERS)), []);
  for (const [f, u] of Object.entries(ENGINE_USERS)) {
    assert.deepEqual(u.members.filter((m) => !known.includes(m)), [], f);
  }
});

Deno.test("every engine user outside lib/engine keeps to its allow-list", async () => {
  const { ENGINE_API } = await import("../lib/engine/engine.ts");
  const bad = Object.entries(ENGINE_USERS).flatMap(([f, u]) =>
    engineInternals(code(f), [...ENGINE_API, ...u.members], u).map((b) => `${f}:${b}`)
  );
  assert.deepEqual(bad, []);
});

Deno.test("the per-file check catches a user reaching into a live source", async () => {
  const { ENGINE_API } = await import("../lib/engine/engine.ts");
  // client_io.ts as it was before its per-source handle: the live NtpSource on the packet path
  const f = "lib/daemon/client_io.ts";
  const u = ENGINE_USERS[f]!;
  const doctored = [
    ...code(f),
    { line: 9001, text: "const ntp = this.engine.sources[source]?.ntp;" },
    { line: 9002, text: "const valid = ntp ? ntp.report().totalValidRx : 0;" },
    { line: 9003, text: "const shared = this.engine.sources[id]?.spec.options.kind;" },
    { line: 9004, text: "this.engine.liveIds();" }, // an ENGINE_WIRING member not on its list
  ];
  assert.deepEqual(engineInternals(doctored, [...ENGINE_API, ...u.members], u), [
    "9001: engine.sources",
    "9001: .ntp",
    "9003: engine.sources",
    "9003: .spec",
    "9004: engine.liveIds",
  ]);
  // and a file that starts holding the engine without a list is found
  assert.ok(engineHolders().includes("lib/daemon/client_io.ts"));
});

Deno.test("the cmdmon backend changes the reference only through ReferenceControl", () => {
  const bad = code("lib/daemon/cmdmon_backend.ts").filter(({ text }) =>
    /\bd\.(?:reference|clock)\b|#d\.(?:reference|clock)\b/.test(text)
  ).map(({ line, text }) => `${line}: ${text.trim()}`);
  assert.deepEqual(bad, []);
});
