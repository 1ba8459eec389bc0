import assert from "node:assert/strict";
import { ConfigError } from "../../lib/conf/config_error.ts";
import { DIRECTIVES } from "../../lib/conf/directives.ts";
import { formatConfig } from "../../lib/conf/format.ts";
import { parseConfig, parseSourceFile } from "../../lib/conf/parse.ts";
import { unsupportedUses } from "../../lib/conf/support.ts";
import { memFs } from "./mem_fs.ts";
import { prng } from "../fuzz/prng.ts";

const SEEDS = [
  "server ntp.example.net iburst minpoll 4 maxpoll 8 key 10 nts xleave extfield F323",
  "pool pool.ntp.org iburst maxsources 3",
  "refclock PHC /dev/ptp2:extpps:pin=1 width 0.2 poll 2 refid GPS",
  "local stratum 10 orphan distance 0.1 activate 0.5 waitsynced 60",
  "allow all 10.20.0.0/16",
  "deny 2001:db8::/32",
  "ratelimit interval 1 burst 16 leak 3 kod 1",
  "hwtimestamp eth1 txcomp 300e-9 rxcomp 645e-9 rxfilter ptp",
  "tempcomp /sys/t 30 26000 0.0 0.000183 0.0",
  "ntstrustedcerts 1 /etc/pki/nts/bar.crt",
  "smoothtime 400 0.001024 leaponly",
  "log measurements statistics tracking",
  "include /etc/chrony.d/*.conf",
  "confdir /etc/chrony.d /run/chrony.d",
  "sourcedir /run/chrony-dhcp",
  "makestep 1.0 3",
  "bindcmdaddress /var/run/chrony/chronyd.sock",
];

const WORDS = [
  ...Object.keys(DIRECTIVES),
  "iburst",
  "minpoll",
  "all",
  "-1",
  "0",
  "1e-9",
  "1e400",
  "NaN",
  "0x10",
  "",
  "::",
  "1.2.3.4/99",
  "*",
  "/",
  ":",
  "=",
  "\u00e9",
  "\u0000",
  "constructor",
  "__proto__",
  "hasOwnProperty",
];

function mutate(line: string, rnd: () => number): string {
  const words = line.split(" ");
  const n = 1 + Math.floor(rnd() * 3);
  for (let i = 0; i < n; i++) {
    const pos = Math.floor(rnd() * (words.length + 1));
    const pick = WORDS[Math.floor(rnd() * WORDS.length)] ?? "";
    switch (Math.floor(rnd() * 4)) {
      case 0:
        words.splice(pos, 1);
        break;
      case 1:
        words.splice(pos, 0, pick);
        break;
      case 2:
        words[pos] = pick;
        break;
      default: {
        const w = words[pos] ?? "";
        const c = String.fromCharCode(Math.floor(rnd() * 128));
        const at = Math.floor(rnd() * (w.length + 1));
        words[pos] = w.slice(0, at) + c + w.slice(at);
      }
    }
  }
  return words.join(rnd() < 0.5 ? " " : "\t");
}

const FS = memFs({
  "/etc/chrony.d/a.conf": "server a iburst\n",
  "/run/chrony-dhcp/x.sources": "server 192.0.2.1\nmakestep 1 3\n",
});

Deno.test("mutated lines throw nothing but ConfigError, and parse results stay usable", () => {
  const rnd = prng(20240601);
  let errors = 0;
  for (let i = 0; i < 5000; i++) {
    const base = SEEDS[Math.floor(rnd() * SEEDS.length)] ?? "";
    const line = mutate(base, rnd);
    try {
      const r = parseConfig(line, { file: "fuzz", ...FS });
      unsupportedUses(r);
      // What -p prints is itself a valid configuration that prints the same.
      const printed = formatConfig(r);
      assert.equal(formatConfig(parseConfig(printed, { file: "again", ...FS })), printed);
    } catch (e) {
      if (!(e instanceof ConfigError)) {
        assert.fail(`non-ConfigError for ${JSON.stringify(line)}: ${String(e)}`);
      }
      // The error points into the text (a mutation may add a newline) or an included file.
      if (e.file === "fuzz") assert.ok(e.line >= 1 && e.line <= line.split("\n").length);
      else assert.ok(e.file.startsWith("/"), e.file);
      errors++;
    }
  }
  assert.ok(errors > 100, `mutations should produce errors, got ${errors}`);
});

Deno.test("random bytes as a file throw nothing but ConfigError; sources files never throw", () => {
  const rnd = prng(7);
  for (let i = 0; i < 500; i++) {
    const len = Math.floor(rnd() * 200);
    let text = "";
    for (let j = 0; j < len; j++) text += String.fromCharCode(Math.floor(rnd() * 256));
    try {
      parseConfig(text, { file: "r", ...FS });
    } catch (e) {
      if (!(e instanceof ConfigError)) assert.fail(`non-ConfigError: ${String(e)}`);
    }
    parseSourceFile(text, "r.sources");
  }
});
