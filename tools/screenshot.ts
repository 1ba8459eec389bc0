/**
 * `deno task screenshot`: a picture of the status page (`GET /`) for people
 * to look at: starts the real chronyd as a loopback server (when installed)
 * and horae (`-x`, never touching the clock) synchronising to it with
 * `httpport`, waits for some history (about 40 s), and has headless Chromium
 * write `dist/status.png`. Without chronyd the page shows horae alone.
 *
 * @module
 */
import {
  freePort,
  haveChrony,
  type RealChronyd,
  ROOT,
  runCommand,
  startChronyd,
  startHorae,
} from "../tests/interop/harness.ts";

const CHROMIUM = "/usr/bin/chromium";
const OUT = `${ROOT}/dist/status.png`;
const POINTS = 8;

async function main(): Promise<number> {
  let server: RealChronyd | null = null;
  if (haveChrony()) server = await startChronyd({ port: freePort() });
  const http = freePort();
  const horae = await startHorae([
    ...(server ? [`server 127.0.0.1 port ${server.port} iburst minpoll 0 maxpoll 0`] : []),
    `httpport ${http}`,
    "bindhttpaddress 127.0.0.1",
  ], { flags: ["-4"] });
  try {
    const end = Date.now() + 90_000;
    for (;;) {
      const h = await (await fetch(`http://127.0.0.1:${http}/api/v1/history`)).json();
      if (h.data.clock.length >= POINTS || Date.now() > end || !server) break;
      await new Promise((r) => setTimeout(r, 1000));
    }
    await Deno.mkdir(`${ROOT}/dist`, { recursive: true });
    const profile = await Deno.makeTempDir({ prefix: "horae-chromium-" });
    const r = await runCommand(CHROMIUM, [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--hide-scrollbars",
      `--user-data-dir=${profile}`,
      "--window-size=1220,1400",
      `--screenshot=${OUT}`,
      `http://127.0.0.1:${http}/`,
    ], { timeoutMs: 90_000 });
    await Deno.remove(profile, { recursive: true }).catch(() => {});
    if (r.code !== 0) {
      console.error(r.stderr);
      return 1;
    }
    console.log(`wrote ${OUT}`);
    return 0;
  } finally {
    await horae.stop();
    await server?.stop();
  }
}

Deno.exit(await main());
