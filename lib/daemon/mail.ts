/**
 * `mailonchange`: when a clock correction is larger than the threshold, a
 * message goes to the address through the local sendmail, run as chronyd 4.3
 * runs it (`/usr/lib/sendmail -t` through `sh -c` as popen(3) does, the message on its
 * standard input, its errors on the daemon's stderr: without a sendmail the
 * shell's "not found" is all that happens, as with chronyd). The message's
 * layout is chronyd 4.3's, observed through a stand-in sendmail.
 *
 * @example
 * ```ts
 * import { mailOnChangeText } from "./mail.ts";
 * mailOnChangeText("root", "vm", 1_796_419_750_000_000_000n, 1, 0.5).split("\n")[0]; // "To: root"
 * ```
 * @module
 */
import { type Timestamp, toSecNsec } from "../time/timestamp.ts";
import type { Logger } from "./log.ts";

/** The command chronyd 4.3 runs. */
export const SENDMAIL_COMMAND = "/usr/lib/sendmail -t";

const DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];
const MONTHS = [
  "January",
  "February",
  "March",
  "April",
  "May",
  "June",
  "July",
  "August",
  "September",
  "October",
  "November",
  "December",
];

/** The message for an adjustment of `adjustment` seconds (positive: the clock is advanced). */
export function mailOnChangeText(
  to: string,
  node: string,
  time: Timestamp,
  adjustment: number,
  threshold: number,
): string {
  const d = new Date(Number(toSecNsec(time).sec) * 1000);
  const p = (n: number) => String(n).padStart(2, "0");
  return `To: ${to}\n` +
    `Subject: chronyd reports change to system clock on node [${node}]\n\n` +
    `On ${DAYS[d.getUTCDay()]}, ${p(d.getUTCDate())} ${
      MONTHS[d.getUTCMonth()]
    } ${d.getUTCFullYear()}\n` +
    `  with the system clock reading ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${
      p(d.getUTCSeconds())
    } (UTC)\n\n` +
    `chronyd started to apply an adjustment of ${adjustment.toFixed(3)} seconds to it,\n` +
    `  which exceeded the reporting threshold of ${threshold.toFixed(3)} seconds\n\n`;
}

/** Hands `text` to the local sendmail; failures are logged at debug level only. */
export function sendMail(text: string, log: Logger): void {
  // after the update's own log lines, as chronyd sends it at the end of the update
  setTimeout(() => run(text, log), 0);
}

function run(text: string, log: Logger): void {
  (async () => {
    // /bin/sh as popen(3) runs it (Deno names it by its path: its errors start
    // "/bin/sh: 1:" where chronyd's start "sh: 1:")
    const child = new Deno.Command("/bin/sh", {
      args: ["-c", SENDMAIL_COMMAND],
      stdin: "piped",
      stdout: "null",
      stderr: "inherit",
    }).spawn();
    const w = child.stdin.getWriter();
    // a sendmail that is missing or exits early closes the pipe: the mail is lost, as with
    // chronyd's popen (the shell has said why on stderr)
    await w.write(new TextEncoder().encode(text)).catch(() => {});
    await w.close().catch(() => {});
    await child.status;
  })().catch((e) => log.debug(`Could not run ${SENDMAIL_COMMAND} : ${(e as Error).message}`));
}
