/** chronyd(8) `-R`: a restart ignores `initstepslew` and a `makestep` with a positive limit. */
import assert from "node:assert/strict";
import { restartAdjusted } from "../../lib/daemon/daemon.ts";
import { defaultConfig } from "../../lib/conf/config.ts";

Deno.test("-R drops initstepslew and a limited makestep, keeps makestep with limit -1", () => {
  const c = {
    ...defaultConfig(),
    initstepslew: { threshold: 1, hosts: ["a"] },
    makestep: { threshold: 1, limit: 3 },
  };
  assert.equal(restartAdjusted(c, { restart: false }), c);
  const r = restartAdjusted(c, { restart: true });
  assert.equal(r.initstepslew, undefined);
  assert.equal(r.makestep, undefined);
  assert.deepEqual(c.makestep, { threshold: 1, limit: 3 }, "the original is left alone");
  const always = restartAdjusted({ ...c, makestep: { threshold: 1, limit: -1 } }, {
    restart: true,
  });
  assert.deepEqual(always.makestep, { threshold: 1, limit: -1 });
});
