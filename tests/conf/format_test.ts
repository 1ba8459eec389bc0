import assert from "node:assert/strict";
import { formatConfig } from "../../lib/conf/format.ts";
import { parseConfig } from "../../lib/conf/parse.ts";
import { memFs } from "./mem_fs.ts";

Deno.test("-p output is one normalised line per directive, comments dropped, case kept", () => {
  const r = parseConfig("server x\nSERVER  y  IBURST\n  # comment\n% c2\nallow\n");
  assert.equal(formatConfig(r), "server x\nSERVER y IBURST\nallow\n");
});

Deno.test("-p prints included and confdir files in place of those lines (as chronyd 4.3 does)", () => {
  // Expected text captured from `chronyd -p` 4.3 on the same files.
  const fs = memFs({
    "/t/d1/a.conf": "server a.example   iburst   minpoll 4\n",
    "/t/d1/b.conf": "makestep 1 3\n",
    "/t/d2/b.conf": "makestep 2 3\n",
    "/t/d2/c.conf": "rtcsync\n",
  });
  const text = "server x\nSERVER  y  IBURST\n  # comment\n% c2\nconfdir /t/d1 /t/d2\n" +
    "include /t/d2/c*.conf\nallow\n";
  assert.equal(
    formatConfig(parseConfig(text, { file: "/t/p.conf", ...fs })),
    "server x\nSERVER y IBURST\nserver a.example iburst minpoll 4\nmakestep 1 3\nrtcsync\n" +
      "rtcsync\nallow\n",
  );
});

Deno.test("-p keeps the sourcedir line but not the sources it loads", () => {
  const fs = memFs({ "/s1/a.sources": "server s1.example iburst\n" });
  const r = parseConfig("pool p\nsourcedir /s1\nserver z\n", { file: "/c", ...fs });
  assert.equal(r.config.sources.length, 3);
  assert.equal(formatConfig(r), "pool p\nsourcedir /s1\nserver z\n");
});

Deno.test("-p output parses back to the same output", () => {
  const text = "server  a  iburst\npool b maxsources 3\nlocal stratum 10 orphan\n" +
    "log measurements tracking\nallow 10.0.0.0/8\n";
  const once = formatConfig(parseConfig(text));
  assert.equal(formatConfig(parseConfig(once)), once);
});
