/**
 * The import graph of lib/, ffi/, main.ts and mod.ts (docs/ARCHITECTURE.md, "Layers"): every
 * import, export-from and dynamic `import()` is read from the source text (comments, strings,
 * template literals and regular expressions told apart by a small tokenizer), type-only imports
 * included. The check fails
 * - on a file in no layer of {@link LAYERS} (a new folder must be placed first);
 * - on an import from a lower layer to a higher one, or between two different layers of the
 *   same rank (siblings do not see each other);
 * - on any cycle between files, and on any cycle between the entries of the table (so
 *   lib/clock and lib/ntp, both in the sans-IO core, cannot come to import each other either).
 */
import assert from "node:assert/strict";

const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

/** One row of the layer table: a path prefix (folder with `/`) or a single file. */
interface Layer {
  rank: number;
  name: string;
  paths: string[];
}

/**
 * The layers, lowest first; the same table is in docs/ARCHITECTURE.md ("Layers").
 * A module may import its own layer and any layer of lower rank; the longest matching
 * path places a file.
 */
const LAYERS: Layer[] = [
  { rank: 0, name: "time", paths: ["lib/time/", "lib/net/", "lib/version.ts"] },
  { rank: 1, name: "ffi-base", paths: ["ffi/layout.ts", "ffi/timex.ts", "ffi/libssl.ts"] },
  { rank: 2, name: "crypto", paths: ["lib/crypto/"] },
  {
    rank: 3,
    name: "core",
    paths: ["lib/conf/", "lib/clock/", "lib/ntp/", "lib/nts/", "lib/refclock/", "lib/cmdmon/"],
  },
  { rank: 4, name: "engine", paths: ["lib/engine/"] },
  { rank: 4, name: "ffi", paths: ["ffi/"] },
  { rank: 5, name: "sim", paths: ["lib/sim/"] },
  { rank: 5, name: "io", paths: ["lib/io/"] },
  { rank: 6, name: "http", paths: ["lib/http/"] },
  { rank: 7, name: "daemon", paths: ["lib/daemon/"] },
  { rank: 8, name: "entry", paths: ["main.ts", "mod.ts"] },
];

/** An import found in a file: the specifier and its 1-based line. */
interface ImportRef {
  spec: string;
  line: number;
  dynamic: boolean;
}

interface Token {
  kind: "id" | "str" | "punct" | "other";
  text: string;
  line: number;
}

/** Keywords after which `/` starts a regular expression, not a division. */
const REGEX_AFTER = new Set([
  "return",
  "typeof",
  "instanceof",
  "in",
  "of",
  "new",
  "delete",
  "void",
  "throw",
  "case",
  "do",
  "else",
  "yield",
  "await",
]);

/** The tokens of TypeScript source, without comments; template text is dropped, `${}` kept. */
function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  let line = 1;
  let braces = 0;
  const templates: number[] = []; // brace depth at each open `${`
  const advance = (to: number) => {
    for (let k = i; k < to && k < src.length; k++) if (src[k] === "\n") line++;
    i = to;
  };
  const templateChunk = () => { // i just after "`" or the "}" closing a `${`
    while (i < src.length) {
      const c = src[i]!;
      if (c === "\\") advance(i + 2);
      else if (c === "`") return advance(i + 1);
      else if (c === "$" && src[i + 1] === "{") {
        advance(i + 2);
        templates.push(braces);
        braces++;
        return;
      } else advance(i + 1);
    }
  };
  const regexAllowed = () => {
    const p = out[out.length - 1];
    if (!p) return true;
    if (p.kind === "punct") return !")]}".includes(p.text);
    if (p.kind === "id") return REGEX_AFTER.has(p.text);
    return false;
  };
  while (i < src.length) {
    const c = src[i]!;
    const start = line;
    if (/\s/.test(c)) advance(i + 1);
    else if (c === "/" && src[i + 1] === "/") {
      const end = src.indexOf("\n", i);
      advance(end < 0 ? src.length : end);
    } else if (c === "/" && src[i + 1] === "*") {
      const end = src.indexOf("*/", i + 2);
      advance(end < 0 ? src.length : end + 2);
    } else if (c === '"' || c === "'") {
      let j = i + 1;
      let value = "";
      while (j < src.length && src[j] !== c && src[j] !== "\n") {
        if (src[j] === "\\") {
          value += src[j + 1] ?? "";
          j += 2;
        } else value += src[j++];
      }
      advance(j + 1);
      out.push({ kind: "str", text: value, line: start });
    } else if (c === "`") {
      advance(i + 1);
      templateChunk();
      out.push({ kind: "other", text: "`", line: start });
    } else if (c === "/" && regexAllowed()) {
      let j = i + 1;
      let inClass = false;
      while (j < src.length && src[j] !== "\n") {
        const d = src[j]!;
        if (d === "\\") j++;
        else if (d === "[") inClass = true;
        else if (d === "]") inClass = false;
        else if (d === "/" && !inClass) break;
        j++;
      }
      j++;
      while (j < src.length && /[a-z]/i.test(src[j]!)) j++;
      advance(j);
      out.push({ kind: "other", text: "/regex/", line: start });
    } else if (/[A-Za-z_$]/.test(c)) {
      const m = /^[\w$]+/.exec(src.slice(i, i + 200))!;
      advance(i + m[0].length);
      out.push({ kind: "id", text: m[0], line: start });
    } else if (/[0-9]/.test(c)) {
      const m = /^[\w.]+/.exec(src.slice(i, i + 200))!;
      advance(i + m[0].length);
      out.push({ kind: "other", text: m[0], line: start });
    } else if (
      c === "}" && templates.length > 0 && templates[templates.length - 1] === braces - 1
    ) {
      templates.pop();
      braces--;
      advance(i + 1);
      templateChunk();
    } else {
      if (c === "{") braces++;
      if (c === "}") braces--;
      advance(i + 1);
      out.push({ kind: "punct", text: c, line: start });
    }
  }
  return out;
}

/** The imports of one source text; throws on an `import`/`export` it cannot read. */
function importsOf(src: string): ImportRef[] {
  const t = tokenize(src);
  const out: ImportRef[] = [];
  const is = (k: number, text: string) => t[k] !== undefined && t[k]!.text === text;
  const fail = (k: number, what: string): never => {
    throw new Error(`line ${t[k]?.line ?? "?"}: cannot read ${what}`);
  };
  /** Index after a balanced `{...}` starting at k. */
  const skipBraces = (k: number): number => {
    let depth = 0;
    for (; k < t.length; k++) {
      if (t[k]!.kind !== "punct") continue;
      if (t[k]!.text === "{") depth++;
      if (t[k]!.text === "}" && --depth === 0) return k + 1;
    }
    return fail(k, "an unclosed {");
  };
  /** `from "x"` at k: records it and returns true. */
  const from = (k: number, line: number): boolean => {
    if (!is(k, "from") || t[k + 1]?.kind !== "str") return false;
    out.push({ spec: t[k + 1]!.text, line, dynamic: false });
    return true;
  };
  for (let k = 0; k < t.length; k++) {
    const tok = t[k]!;
    if (tok.kind !== "id" || (tok.text !== "import" && tok.text !== "export")) continue;
    if (k > 0 && is(k - 1, ".")) continue; // a property named import/export
    if (tok.text === "import") {
      if (is(k + 1, "(")) {
        if (t[k + 2]?.kind !== "str" || !(is(k + 3, ")") || is(k + 3, ","))) {
          fail(k, "an import() of a computed specifier");
        }
        out.push({ spec: t[k + 2]!.text, line: tok.line, dynamic: true });
        continue;
      }
      if (is(k + 1, ".")) continue; // import.meta
      let j = k + 1;
      if (t[j]?.kind === "str") { // import "x";
        out.push({ spec: t[j]!.text, line: tok.line, dynamic: false });
        continue;
      }
      if (is(j, "type") && !is(j + 1, "from") && !is(j + 1, ",")) j++;
      if (is(j, "*")) {
        if (!is(j + 1, "as") || t[j + 2]?.kind !== "id") fail(k, "an import * without as");
        j += 3;
      } else if (is(j, "{")) j = skipBraces(j);
      else if (t[j]?.kind === "id") {
        j++;
        if (is(j, ",")) {
          j++;
          if (is(j, "{")) j = skipBraces(j);
          else if (is(j, "*") && is(j + 1, "as")) j += 3;
          else fail(k, "an import list");
        }
      } else fail(k, "an import");
      if (!from(j, tok.line)) fail(k, "an import without from");
    } else {
      let j = k + 1;
      if (is(j, "type") && (is(j + 1, "{") || is(j + 1, "*"))) j++;
      if (is(j, "*")) {
        j++;
        if (is(j, "as")) j += 2;
        if (!from(j, tok.line)) fail(k, "an export * without from");
      } else if (is(j, "{")) {
        from(skipBraces(j), tok.line); // else a local export list
      }
    }
  }
  return out;
}

/** The layer row and table entry a path falls in (longest match), or null. */
function placeOf(path: string, layers = LAYERS): { layer: Layer; entry: string } | null {
  let best: { layer: Layer; entry: string } | null = null;
  for (const layer of layers) {
    for (const p of layer.paths) {
      const hit = p.endsWith("/") ? path.startsWith(p) : path === p;
      if (hit && (!best || p.length > best.entry.length)) best = { layer, entry: p };
    }
  }
  return best;
}

/** `spec` imported by `from`, as a path from the root (relative specifiers only). */
function resolvePath(from: string, spec: string): string {
  const parts = from.split("/").slice(0, -1);
  for (const s of spec.split("/")) {
    if (s === "..") parts.pop();
    else if (s !== ".") parts.push(s);
  }
  return parts.join("/");
}

/** The strongly connected components with more than one member (or a self-loop). */
function cycles(graph: Map<string, Set<string>>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  let next = 0;
  const visit = (v: string) => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || graph.get(v)?.has(v)) out.push(scc.sort());
    }
  };
  for (const v of [...graph.keys()].sort()) if (!index.has(v)) visit(v);
  return out;
}

/** What is wrong with a graph of files (path → imported paths) against a layer table. */
function problems(
  graph: Map<string, Map<string, number>>,
  layers = LAYERS,
): { unplaced: string[]; upward: string[]; fileCycles: string[][]; entryCycles: string[][] } {
  const unplaced = new Set<string>();
  const upward: string[] = [];
  const files = new Map<string, Set<string>>();
  const entries = new Map<string, Set<string>>();
  for (const [file, targets] of graph) {
    const a = placeOf(file, layers);
    if (!a) unplaced.add(file);
    files.set(file, new Set(targets.keys()));
    for (const [target, line] of targets) {
      const b = placeOf(target, layers);
      if (!b) {
        unplaced.add(target);
        continue;
      }
      if (!a) continue;
      if (a.entry !== b.entry) {
        if (!entries.has(a.entry)) entries.set(a.entry, new Set());
        entries.get(a.entry)!.add(b.entry);
      }
      const down = b.layer.rank < a.layer.rank;
      if (!down && b.layer !== a.layer) {
        upward.push(
          `${file}:${line} imports ${target}: ${a.layer.name} (${a.layer.rank}) may not import ` +
            `${b.layer.name} (${b.layer.rank})`,
        );
      }
    }
  }
  return {
    unplaced: [...unplaced].sort(),
    upward,
    fileCycles: cycles(files),
    entryCycles: cycles(entries),
  };
}

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const e of Deno.readDirSync(`${ROOT}/${dir}`)) {
    if (e.isDirectory) out.push(...sources(`${dir}/${e.name}`));
    else if (e.name.endsWith(".ts")) out.push(`${dir}/${e.name}`);
  }
  return out.sort();
}

/** The repository's graph: every .ts under lib/ and ffi/, main.ts and mod.ts. */
function repositoryGraph(): Map<string, Map<string, number>> {
  const graph = new Map<string, Map<string, number>>();
  for (const f of [...sources("lib"), ...sources("ffi"), "main.ts", "mod.ts"]) {
    const targets = new Map<string, number>();
    let refs: ImportRef[];
    try {
      refs = importsOf(Deno.readTextFileSync(`${ROOT}/${f}`));
    } catch (e) {
      throw new Error(`${f}: ${(e as Error).message}`);
    }
    for (const r of refs) {
      if (!r.spec.startsWith(".")) continue; // npm:, node: and the like: outside the graph
      const target = resolvePath(f, r.spec);
      if (!targets.has(target)) targets.set(target, r.line);
    }
    graph.set(f, targets);
  }
  return graph;
}

Deno.test("import graph: the tokenizer finds imports and nothing in comments, strings or regexps", () => {
  const src = [
    "/** @example",
    ' * import { fake } from "./in_comment.ts";',
    " */",
    'import type { A } from "./a.ts";',
    'import B, { c as C } from "./b.ts";',
    'import * as D from "../d.ts";',
    'import "./side.ts";',
    "import {",
    "  e,",
    '} from "./multi.ts";',
    'export { f } from "./f.ts";',
    'export type { G } from "./g.ts";',
    'export * from "./h.ts";',
    "export { e };",
    "export const s = 'import x from \"./in_string.ts\"';",
    'const t = `import y from "./in_template.ts" ${s.replace(/"/g, \'`\')}`;',
    'const r = /import z from "\\.\\/in_regex.ts"/;',
    "const u = `${`nested ${t}`}`; const q = a / b / c;",
    "const m = import.meta.url; o.import = 1;",
    'async function l() { return await import("./lazy.ts"); }',
    'type T = typeof import("./type_query.ts");',
  ].join("\n");
  assert.deepEqual(
    importsOf(src).map((r) => `${r.line}:${r.spec}${r.dynamic ? " (dynamic)" : ""}`),
    [
      "4:./a.ts",
      "5:./b.ts",
      "6:../d.ts",
      "7:./side.ts",
      "8:./multi.ts",
      "11:./f.ts",
      "12:./g.ts",
      "13:./h.ts",
      "20:./lazy.ts (dynamic)",
      "21:./type_query.ts (dynamic)",
    ],
  );
  assert.throws(() => importsOf("const m = 'x'; await import(m);"), /computed specifier/);
});

Deno.test("import graph: the check reports unplaced files, upward imports and both kinds of cycle", () => {
  const g = (edges: Record<string, string[]>) =>
    new Map(Object.entries(edges).map(([f, ts]) => [f, new Map(ts.map((t) => [t, 1]))]));
  const clean = problems(g({
    "main.ts": ["lib/daemon/daemon.ts"],
    "lib/daemon/daemon.ts": ["lib/engine/engine.ts", "lib/io/udp.ts", "ffi/libc.ts"],
    "lib/engine/engine.ts": ["lib/clock/select.ts", "lib/ntp/source.ts"],
    "lib/ntp/source.ts": ["lib/clock/select.ts", "lib/time/timestamp.ts"],
    "ffi/libc.ts": ["ffi/layout.ts"],
  }));
  assert.deepEqual(clean, { unplaced: [], upward: [], fileCycles: [], entryCycles: [] });
  const bad = problems(g({
    "lib/sim/simulation.ts": ["lib/daemon/engine.ts", "lib/io/udp.ts", "lib/new/thing.ts"],
    "lib/daemon/daemon.ts": ["lib/daemon/cmdmon_backend.ts"],
    "lib/daemon/cmdmon_backend.ts": ["lib/daemon/daemon.ts"],
    "lib/clock/select.ts": ["lib/ntp/source.ts"],
    "lib/ntp/source.ts": ["lib/clock/sample.ts"],
  }));
  assert.deepEqual(bad.unplaced, ["lib/new/thing.ts"]);
  assert.deepEqual(bad.upward, [
    "lib/sim/simulation.ts:1 imports lib/daemon/engine.ts: sim (5) may not import daemon (7)",
    "lib/sim/simulation.ts:1 imports lib/io/udp.ts: sim (5) may not import io (5)",
  ]);
  assert.deepEqual(bad.fileCycles, [["lib/daemon/cmdmon_backend.ts", "lib/daemon/daemon.ts"]]);
  assert.deepEqual(bad.entryCycles, [["lib/clock/", "lib/ntp/"]]);
});

Deno.test("import graph: every file has a layer, nothing imports upward, no cycle", () => {
  const graph = repositoryGraph();
  assert.ok(graph.size > 100, `only ${graph.size} files read`);
  assert.ok(graph.get("lib/daemon/startup.ts")!.has("lib/engine/engine.ts"), "imports are read");
  // All four at once, so that one run names every problem. A file in no layer: add its folder
  // to LAYERS and to the table in docs/ARCHITECTURE.md.
  assert.deepEqual(problems(graph), { unplaced: [], upward: [], fileCycles: [], entryCycles: [] });
});

Deno.test("import graph: docs/ARCHITECTURE.md's layer table is the one checked here", () => {
  const doc = Deno.readTextFileSync(`${ROOT}/docs/ARCHITECTURE.md`);
  const section = doc.split(/^## /m).find((s) => s.startsWith("Layers"));
  assert.ok(section, 'docs/ARCHITECTURE.md has a "## Layers" section');
  const rows: Layer[] = [];
  for (const line of section.split("\n")) {
    const m = /^\|\s*(\d+)\s*\|\s*([\w-]+)\s*\|([^|]*)\|/.exec(line);
    if (!m) continue;
    const paths = [...m[3]!.matchAll(/`([^`]+)`/g)].map((x) => x[1]!);
    rows.push({ rank: Number(m[1]), name: m[2]!, paths });
  }
  assert.deepEqual(rows, LAYERS);
});
