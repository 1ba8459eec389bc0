/**
 * SourceManager: one source per address (as chronyd keeps them, whatever the
 * port or mode) and the count of sources with unknown address that chronyc
 * `activity` shows, against a real Engine with a table resolver (no sockets).
 */
import assert from "node:assert/strict";
import { numericFirst, SourceManager } from "../../lib/daemon/source_manager.ts";
import { Engine } from "../../lib/engine/engine.ts";
import { SimClock } from "../../lib/clock/sim_clock.ts";
import { parseCommandLine } from "../../lib/conf/parse.ts";
import type { Config } from "../../lib/conf/config.ts";

const HOSTS: Record<string, string[]> = {
  localhost: ["127.0.0.1"],
  three: ["127.0.0.1", "127.0.0.2", "127.0.0.3"],
  ten: Array.from({ length: 10 }, (_, i) => `127.0.0.${i + 1}`),
};

function setup(lines: string[]) {
  const parsed = parseCommandLine(lines);
  assert.deepEqual(parsed.errors, []);
  const config: Config = parsed.config;
  const engine = new Engine({
    clock: new SimClock({ start: 0n, seed: 1 }),
    discipline: { update: () => [] },
    randomBytes: (n) => new Uint8Array(n).fill(7),
  });
  const warnings: string[] = [];
  const manager = new SourceManager({
    engine,
    config,
    family: "any",
    resolve: (name) => {
      if (/^[0-9.]+$|:/.test(name)) return Promise.resolve([name]);
      const found = HOSTS[name];
      return found ? Promise.resolve([...found]) : Promise.reject(new Error("no such name"));
    },
    log: { warn: (m: string) => warnings.push(m), info: () => {}, debug: () => {} } as never,
    run: () => {},
  });
  const live = () => engine.sources.filter((s) => !s.removed).map((s) => s.spec.address);
  const addAll = async () => {
    for (const sc of numericFirst(config.sources)) await manager.add(sc);
  };
  return { manager, engine, config, warnings, live, addAll };
}

Deno.test("SourceManager: a numeric address already in use is refused, whatever its port or mode", async () => {
  const t = setup([
    "server 127.0.0.1 port 11123",
    "server 127.0.0.1 port 11123",
    "server 127.0.0.1 port 11999",
    "peer 127.0.0.1 port 11123",
  ]);
  await t.addAll();
  try {
    assert.deepEqual(t.live(), ["127.0.0.1"]);
    assert.equal(t.warnings.filter((w) => w === "Could not add source 127.0.0.1").length, 3);
    // refused lines are forgotten, not counted as unknown
    assert.equal(t.manager.unresolved(), 0);
  } finally {
    await t.manager.close();
  }
});

Deno.test("SourceManager: `pool ADDRESS` is one source: no empty slots, no retry (chronyd 4.3)", async () => {
  const t = setup(["pool 127.0.0.1 port 11123 iburst", "pool 127.0.0.1 port 11123 iburst"]);
  await t.addAll();
  try {
    assert.deepEqual(t.live(), ["127.0.0.1"]);
    assert.equal(t.manager.unresolved(), 0);
    assert.deepEqual(t.warnings, ["Could not add source 127.0.0.1"]);
  } finally {
    await t.manager.close();
  }
});

Deno.test("SourceManager: a name resolving to an address in use waits, counted as unknown", async () => {
  // numeric lines first, as chronyd adds them before resolving names
  const t = setup([
    "server localhost port 11123",
    "server 127.0.0.1 port 11999",
    "server localhost port 11123",
    "server nonexistent.invalid",
  ]);
  await t.addAll();
  try {
    assert.deepEqual(t.live(), ["127.0.0.1"]);
    assert.equal(t.engine.sources[0]!.ntp.options.port, 11999);
    assert.equal(t.manager.unresolved(), 3);
  } finally {
    await t.manager.close();
  }
});

Deno.test("SourceManager: a server name takes its first address not in use", async () => {
  const t = setup([
    "server 127.0.0.1",
    "server three",
    "server three",
    "server three",
    "server three",
  ]);
  await t.addAll();
  try {
    assert.deepEqual(t.live(), ["127.0.0.1", "127.0.0.2", "127.0.0.3"]);
    assert.equal(t.manager.unresolved(), 2);
  } finally {
    await t.manager.close();
  }
});

Deno.test("SourceManager: a pool fills min(2 x maxsources, 16) slots; the empty ones are unknown", async () => {
  const cases: [string, number, number][] = [
    ["pool localhost maxsources 1", 1, 1], // 0 once it answers (trimmed)
    ["pool localhost maxsources 2", 1, 3],
    ["pool localhost", 1, 7],
    ["pool localhost maxsources 9", 1, 15],
    ["pool nonexistent.invalid maxsources 1", 0, 2],
    ["pool nonexistent.invalid maxsources 3", 0, 6],
    ["pool three", 3, 5],
    ["pool ten", 8, 0],
    ["pool ten maxsources 2", 4, 0],
    ["pool ten maxsources 1", 2, 0],
  ];
  for (const [line, rows, unknown] of cases) {
    const t = setup([line]);
    await t.addAll();
    try {
      assert.equal(t.live().length, rows, line);
      assert.equal(t.manager.unresolved(), unknown, line);
    } finally {
      await t.manager.close();
    }
  }
  const t = setup(["server 127.0.0.1", "pool localhost maxsources 2", "pool three maxsources 2"]);
  await t.addAll();
  try {
    assert.deepEqual(t.live(), ["127.0.0.1", "127.0.0.2", "127.0.0.3"]);
    assert.equal(t.manager.unresolved(), 4 + 2);
  } finally {
    await t.manager.close();
  }
});

/** Makes the engine's source `id` look as if it had answered. */
function answered(engine: Engine, id: number): void {
  const ntp = engine.sources[id]!.ntp;
  const report = ntp.report.bind(ntp);
  ntp.report = () => ({ ...report(), totalValidRx: 1 });
  Object.defineProperty(ntp, "validReplies", { get: () => 1 });
}

Deno.test("SourceManager: once maxsources pool members answered, the spare ones go", async () => {
  const t = setup(["pool ten maxsources 2"]);
  await t.addAll();
  try {
    assert.equal(t.live().length, 4);
    answered(t.engine, 3);
    t.manager.trimPools();
    assert.equal(t.live().length, 4, "one answer of two wanted: nothing removed");
    answered(t.engine, 1);
    t.manager.trimPools();
    assert.deepEqual(t.live(), ["127.0.0.2", "127.0.0.4"]);
    assert.equal(t.manager.unresolved(), 0);
    // trimmed for good: a later check keeps both, and the line wants no more
    t.manager.trimPools();
    assert.equal(t.live().length, 2);
    assert.equal(await t.manager.add(t.config.sources[0]!), 4, "a new line starts spare again");
  } finally {
    await t.manager.close();
  }
});

Deno.test("SourceManager: a removed source takes its line along (not counted as unknown)", async () => {
  const t = setup(["server localhost", "server 127.0.0.2"]);
  await t.addAll();
  try {
    assert.deepEqual(t.live(), ["127.0.0.2", "127.0.0.1"]);
    t.manager.remove(1);
    assert.deepEqual(t.live(), ["127.0.0.2"]);
    assert.equal(t.manager.unresolved(), 0);
    // the address is free again for a new line
    await t.manager.add(t.config.sources[0]!);
    assert.deepEqual(t.live(), ["127.0.0.2", "127.0.0.1"]);
  } finally {
    await t.manager.close();
  }
});

Deno.test("SourceManager: a pool of maxsources 1 that answered has no unknown slot left", async () => {
  const t = setup(["pool localhost maxsources 1"]);
  await t.addAll();
  try {
    assert.equal(t.manager.unresolved(), 1);
    answered(t.engine, 0);
    t.manager.trimPools();
    assert.deepEqual(t.live(), ["127.0.0.1"]);
    assert.equal(t.manager.unresolved(), 0);
  } finally {
    await t.manager.close();
  }
});
