/**
 * Command lines chronyc refuses before sending anything, with the message it
 * prints on stderr (exit code 1), shared by the unit test of horae's chronyc
 * (tests/cmdmon/chronyc_commands_test.ts) and the interop test that holds them
 * against the real chronyc (tests/interop/chronyc_args_test.ts).
 *
 * @example
 * ```ts
 * import { ARGUMENT_ERRORS } from "./chronyc_cases.ts";
 * ARGUMENT_ERRORS[0]; // ["add server", "Invalid syntax for add command"]
 * ```
 * @module
 */

/**
 * Argument errors, each checked against the real chronyc 4.3 (`chronyc -n`
 * against a port where nothing answers: the error comes before any request);
 * selectopts and offset against chronyc 4.8. Nothing is sent; exit code 1.
 */
export const ARGUMENT_ERRORS: readonly (readonly [line: string, stderr: string])[] = [
  ["add server", "Invalid syntax for add command"],
  ["add foo x", "Invalid syntax for add command"],
  ["add server x badopt", "Invalid syntax for add command"],
  ["burst", "Invalid syntax for burst command"],
  ["burst 1", "Invalid syntax for burst command"],
  ["burst 1/2 300.1.1.1", "Could not get address for hostname"],
  ["makestep 1", "Bad syntax for makestep command"],
  ["makestep x y", "Bad syntax for makestep command"],
  ["makestep 1 x", "Bad syntax for makestep command"],
  ["delete", "Invalid syntax for address"],
  ["delete foo..bar", "Could not get address for hostname"],
  ["accheck", "Could not read address"],
  ["accheck foo..bar", "Could not read address"],
  ["cmdaccheck", "Could not read address"],
  ["sourcename", "Could not read address"],
  ["minpoll", "Invalid syntax for address value"],
  ["minpoll 1.2.3.4", "Invalid syntax for address value"],
  ["polltarget 1.2.3.4", "Invalid syntax for address value"],
  ["maxdelay 1.2.3.4 x", "Invalid syntax for address value"],
  ["dfreq", "Invalid value"],
  ["dfreq x", "Invalid value"],
  ["doffset", "Invalid value"],
  ["maxupdateskew", ""],
  ["maxupdateskew x", ""],
  ["reselectdist", ""],
  ["reset", "Invalid syntax for reset command"],
  ["reset foo", "Invalid syntax for reset command"],
  ["reload", "Invalid syntax for reload command"],
  ["reload sources x", "Invalid syntax for reload command"],
  ["allow 300.1", "Could not read address"],
  ["allow 1.2.3.4 5.6.7.8", "Could not read address"],
  ["allow all 300", "Could not read address"],
  ["local stratum 0", "Invalid syntax for local command"],
  ["local off x", "Invalid syntax for local command"],
  ["local foo", "Invalid syntax for local command"],
  ["local stratum", "Invalid syntax for local command"],
  ["manual", "Invalid syntax for manual command"],
  ["manual foo", "Invalid syntax for manual command"],
  ["manual on x", "Invalid syntax for manual command"],
  ["manual delete", "Bad syntax for manual delete command"],
  ["manual delete x", "Bad syntax for manual delete command"],
  ["smoothtime", "Invalid syntax for smoothtime command"],
  ["smoothtime x", "Invalid syntax for smoothtime command"],
  ["selectopts", "Invalid syntax for selectopts command"],
  ["selectopts 1.2.3.4 +x", "Invalid syntax for selectopts command"],
  ["selectopts 1.2.3.4 prefer", "Invalid syntax for selectopts command"],
  ["selectopts TOOLONG +trust", "Invalid syntax for selectopts command"],
  ["offset", "Invalid syntax for offset command"],
  ["offset 1.2.3.4", "Invalid syntax for offset command"],
  ["keygen 1 FOO", "Unknown hash function or cipher FOO"],
  ["keygen 1 SHA1 x", "Invalid syntax for keygen command"],
  ["keygen 1 2 3 4", "Invalid syntax for keygen command"],
  ["keygen x", "Invalid syntax for keygen command"],
  ["keygen 7 sha512 5000", "Unknown hash function or cipher sha512"],
  ["dns", "Unrecognized dns command"],
  ["dns x", "Unrecognized dns command"],
  ["timeout 50", "Timeout 50 is too short"],
  ["timeout x", "Timeout 0 is too short"],
  ["retries -1", "Invalid maximum number of retries"],
  ["foo", "Unrecognized command"],
  ["clients -p", "Invalid syntax for clients command"],
  ["clients -p x", "Invalid syntax for clients command"],
  ["ntpdata foo..bar", "Could not get address for hostname"],
  ["online 300.1.1.1", "Could not get address for hostname"],
  ["online ntp.example", "Could not get address for hostname"],
  ["offline 1.2.3.4/x", "Invalid syntax for mask/address"],
  ["offline x/1.2.3.4", "Invalid syntax for mask/address"],
  ["offline 255.0.0.0/localhost", "Invalid syntax for mask/address"],
  ["offline /1.2.3.4", "Invalid syntax for mask/address"],
  ["burst 1/2 x/1.2.3.4", "Invalid syntax for mask/address"],
  ["maxdelaydevratio ntp.example 3", "Could not get address for hostname"],
  ["minpoll foo..bar 3", "Could not get address for hostname"],
  ["minpoll foo..bar x", "Invalid syntax for address value"],
  ["minpoll ntp.example", "Invalid syntax for address value"],
  ["add server ntp.example", "Invalid host/IP address"],
  ["add server 256.1.1.1", "Invalid host/IP address"],
  ["add server a_b iburst", "Invalid host/IP address"],
  ["keygen 1 sha1", "Unknown hash function or cipher sha1"],
  ["keygen 1 aes128", "Unknown hash function or cipher aes128"],
  ["keygen 1 TIGER", "Unknown hash function or cipher TIGER"],
];
