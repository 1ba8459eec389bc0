import assert from "node:assert/strict";
import { ConfigError } from "../../lib/conf/config_error.ts";
import { parseCommandLine } from "../../lib/conf/parse.ts";

const CHRONYD = "/usr/sbin/chronyd";

function available(): boolean {
  try {
    Deno.statSync(CHRONYD);
    return true;
  } catch {
    return false;
  }
}

// Lines where horae must agree with chronyd 4.3 on accept/reject. Deliberate
// differences are left out and listed in docs/ARCHITECTURE.md: horae rejects
// ports outside 0..65535, malformed floats like "1e" and unknown refclock
// drivers at parse time, and keeps allow host names for resolution later.
const ACCEPTED = [
  "pool x maxsources 20",
  "server x maxsources 2",
  "peer x iburst",
  "dscp 70",
  "ratelimit burst 300",
  "ratelimit interval 20",
  "server x version 5",
  "server x asymmetry 0.9",
  "server x filter 0",
  "ntsprocesses 2000",
  "clientloglimit -1",
  "hwtimestamp eth0 minpoll -10",
  "log",
  "allow 1.2.3.4/33",
  "allow 10/8",
  "allow ::/129",
  "allow",
  "allow all",
  "maxsamples -1",
  "initstepslew 10",
  "commandkey 1",
  "dumponexit",
  "ntscachedir /x",
  "server x extfield F323",
  "server x offset 1e-3",
  "server x maxdelay 2000",
  "cmdallow all",
  "sched_priority 200",
  "local stratum 10 orphan distance 0.1",
  "refclock PHC /dev/ptp0 poll 0 dpoll -2 offset -37 tai",
  "SERVER x IBURST",
];

const REJECTED = [
  "servr x",
  "ratelimit foo 1",
  "server x key 0",
  "server x key abc",
  "hwtimestamp eth0 rxfilter foo",
  "refclock SHM 0 refid TOOLONG",
  "refclock SHM",
  "local stratum 0",
  "local stratum 20",
  "local distance x",
  "local foo",
  "makestep 1",
  "makestep 1 3 4",
  "makestep x 3",
  "driftfile",
  "driftfile a b",
  "rtcsync x",
  "log foo",
  "leapsecmode foo",
  "allow 1.2.3.256",
  "allow all all",
  "smoothtime 1",
  "broadcast 64 1.2.3.255 123 4",
  "initstepslew x",
  "mailonchange root",
  "tempcomp a 1 2 3",
  "ntstrustedcerts 1 a b",
  "ntstrustedcerts",
  "bindaddress foo",
  "bindcmdaddress foo",
  "ntsccachedir /x",
  "server",
  "server x minpoll",
  "server x minpoll q",
  "server x foo",
  "server x extfield zz",
  "keyfile",
  "maxchange 1 2",
];

function chronydAccepts(line: string): boolean {
  const out = new Deno.Command(CHRONYD, { args: ["-p", line], stdout: "null", stderr: "null" })
    .outputSync();
  return out.code === 0;
}

function horaeAccepts(line: string): boolean {
  try {
    parseCommandLine([line]);
    return true;
  } catch (e) {
    if (e instanceof ConfigError) return false;
    throw e;
  }
}

Deno.test({
  name: "horae accepts and rejects the same lines as the real chronyd 4.3",
  ignore: !available(),
  fn() {
    for (const line of ACCEPTED) {
      assert.equal(chronydAccepts(line), true, `chronyd should accept: ${line}`);
      assert.equal(horaeAccepts(line), true, `horae should accept: ${line}`);
    }
    for (const line of REJECTED) {
      assert.equal(chronydAccepts(line), false, `chronyd should reject: ${line}`);
      assert.equal(horaeAccepts(line), false, `horae should reject: ${line}`);
    }
  },
});

Deno.test("the same lines are accepted and rejected without chronyd installed", () => {
  for (const line of ACCEPTED) assert.equal(horaeAccepts(line), true, line);
  for (const line of REJECTED) assert.equal(horaeAccepts(line), false, line);
});
