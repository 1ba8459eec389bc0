import assert from "node:assert/strict";
import { DIRECTIVES } from "../../lib/conf/directives.ts";
import { parseConfig } from "../../lib/conf/parse.ts";
import { formatUnsupported, SUPPORT, unsupportedUses } from "../../lib/conf/support.ts";

Deno.test("every directive has a status in the support table", () => {
  for (const name of Object.keys(DIRECTIVES)) {
    assert.ok(SUPPORT[name] !== undefined, `no support status for ${name}`);
  }
});

Deno.test("the first features of the daemon are implemented (hwtimestamp too); ntpsigndsocket is not yet", () => {
  for (
    const n of [
      "server",
      "pool",
      "peer",
      "makestep",
      "driftfile",
      "allow",
      "cmdallow",
      "local",
      "include",
      "confdir",
      "sourcedir",
      "leapsectz",
      "rtcsync",
      "hwtimestamp",
    ]
  ) {
    assert.equal(SUPPORT[n], "implemented", n);
  }
  assert.equal(SUPPORT["ntpsigndsocket"], "notSupported");
});

Deno.test("unsupported directives are listed with file:line (extfield and log rtc are done)", () => {
  const r = parseConfig(
    "server a iburst extfield F323\nntpsigndsocket /var/lib/samba/ntp_signd\nlog tracking rtc\nmakestep 1 3\n",
    { file: "/etc/chrony.conf" },
  );
  const uses = unsupportedUses(r);
  assert.deepEqual(uses.map(formatUnsupported), [
    '/etc/chrony.conf:2: "ntpsigndsocket" is not supported yet',
  ]);
});

Deno.test("extfield F324 (PTP corrections, ptpport's example) and F323 are supported", () => {
  const r = parseConfig(
    "server ntp1 minpoll 0 maxpoll 0 xleave port 319 extfield F324\nserver b extfield F323\n" +
      "hwtimestamp * rxfilter ptp\nptpport 319\n",
    { file: "c.conf" },
  );
  assert.deepEqual(r.errors, []);
  assert.deepEqual(unsupportedUses(r).map(formatUnsupported), []);
});

Deno.test("a fully supported configuration has no unsupported uses", () => {
  const r = parseConfig(
    "pool pool.ntp.org iburst\nserver b xleave\ndriftfile /d\nmakestep 1 3\nallow all\n",
  );
  assert.deepEqual(unsupportedUses(r), []);
});
