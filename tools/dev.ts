/**
 * `deno task dev`: runs horae's chronyd in the foreground on
 * `etc/dev.conf`, never touching the clock (`-x`). Its files (command
 * socket, pidfile, driftfile) go to `.dev/` in the checkout, created with
 * the permissions chronyd requires of a command socket's directory (0700).
 * Extra arguments go to chronyd (e.g. `./denow task dev -L -1`).
 *
 * @module
 */
import { runChronyd } from "../lib/daemon/chronyd.ts";

const root = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const dev = `${root}/.dev`;
await Deno.mkdir(dev, { recursive: true });
await Deno.chmod(dev, 0o700);
const template = await Deno.readTextFile(`${root}/etc/dev.conf`);
await Deno.writeTextFile(`${dev}/chronyd.conf`, template.replaceAll("@DEV@", dev));
console.error(
  `dev: chronyd on ${dev}/chronyd.conf; try: bin/chronyc -h ${dev}/chronyd.sock tracking`,
);
Deno.exit(await runChronyd(["-d", "-x", "-f", `${dev}/chronyd.conf`, ...Deno.args]));
