/**
 * `chronyc`: horae's control client (lib/cmdmon/chronyc.ts) on the real
 * terminal and sockets, as the user `-u` names.
 *
 * @module
 */
import { type ChronycIo, runChronyc } from "../cmdmon/chronyc.ts";
import { chronycIo } from "../io/cmdmon_client.ts";
import { isOsError } from "../io/os_error.ts";
import { dropRoot, findUser, PrivilegeError, readSystemPasswd } from "./privileges.ts";

/** Runs chronyc with `args`; returns its exit code. */
export async function runChronycMain(args: readonly string[]): Promise<number> {
  return await runChronyc([...args], chronycProcessIo());
}

/** {@link chronycIo} with chronyc 4.8's `-u USER` (switching user is the process's business). */
export function chronycProcessIo(): ChronycIo {
  return { ...chronycIo(), dropPrivileges: switchUser };
}

function switchUser(name: string): string | null {
  let user = null;
  try {
    user = findUser(name, readSystemPasswd());
  } catch (e) {
    // no /etc/passwd, or one we may not read: no user can be found, as for an unknown name
    if (!isOsError(e)) throw e;
  }
  if (user === null) return `Could not get user/group ID of ${name}`;
  if (Deno.uid() !== 0 || (user.uid === 0 && user.gid === 0)) return null;
  try {
    dropRoot(user, []);
    return null;
  } catch (e) {
    // a step of the switch the system refused: its message is chronyc's error
    if (e instanceof PrivilegeError) return e.message;
    throw e;
  }
}
