/**
 * The advertised-reference policy (lib/clock/advertised.ts) on a simulated
 * run: at every clock update of the lan scenario, what the server would
 * advertise follows the engine's snapshot (the selected server's refid, our
 * stratum, root values), as chronyd serves them.
 */
import assert from "node:assert/strict";
import { runScenario } from "../../lib/sim/simulation.ts";
import { scenario } from "../../lib/sim/scenarios.ts";
import {
  type AdvertisedReference,
  advertisedReference,
  peerView,
} from "../../lib/clock/advertised.ts";
import { refIdFromAddress } from "../../lib/ntp/reference_id.ts";

Deno.test("advertised on the simulator: each update is served as tracking shows it", () => {
  let served: AdvertisedReference = {
    synchronised: false,
    leap: 0,
    stratum: 16,
    rootDelay: 0,
    rootDispersion: 0,
    dispersionRate: 0,
    refId: 0,
    refTime: 0n,
    local: null,
    localSince: null,
  };
  let updates = 0;
  runScenario(scenario("lan"), {
    duration: 300,
    onUpdate: (_elapsed, engine) => {
      const sys = engine.systemSnapshot();
      const t = sys.tracking;
      assert.ok(t !== null, "the reference discipline gives tracking data");
      served = advertisedReference(served, {
        now: sys.now,
        tracking: t,
        synchronised: t.leapStatus !== "unsynchronised",
        localEligible: false,
        localActive: false,
        localConfigured: false,
        hideLeap: false,
        maxClockErrorPpm: 1,
      });
      updates++;
      assert.equal(served.synchronised, true);
      assert.equal(served.stratum, t.stratum);
      assert.equal(served.refTime, sys.now);
      assert.ok(served.rootDelay > 0 && served.rootDispersion > 0);
      assert.ok(served.dispersionRate >= 1e-6, "at least maxclockerror");
      // the selected server's address is the reference ID served
      const selected = sys.selected;
      assert.ok(selected !== null && selected.kind === "ntp");
      const row = engine.sourceList().find((s) => s.kind === "ntp" && s.id === selected.id);
      assert.ok(row?.kind === "ntp");
      assert.equal(served.refId, refIdFromAddress(row.address));
      assert.equal(peerView(t)?.stratum, served.stratum);
    },
  });
  assert.ok(updates > 5, `${updates} updates`);
});
