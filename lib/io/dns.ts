/**
 * Host name resolution for `server`/`pool`/`peer` names, as chronyd does it:
 * numeric addresses are returned as they are; names go through the system
 * resolver (getaddrinfo(3): /etc/hosts, nsswitch, DNS) on Deno's worker
 * thread, so the event loop keeps running.
 *
 * @example
 * ```ts
 * import { resolve } from "./dns.ts";
 * await resolve("localhost", "ipv4"); // ["127.0.0.1"]
 * await resolve("::1"); // ["::1"]
 * ```
 * @module
 */

import { addressFamily, type Family, GaiError, getaddrinfo } from "../../ffi/libc.ts";

/** Why a name did not resolve. */
export type DnsErrorCode =
  /** The name (or an address of the asked family) does not exist. */
  | "NOT_FOUND"
  /** A temporary failure: try again later (chronyd retries with back-off). */
  | "TRY_AGAIN"
  /** Any other resolver failure. */
  | "FAILURE";

/** A failed resolution of `host`. */
export class DnsError extends Error {
  /** What went wrong. */
  readonly code: DnsErrorCode;
  /** The name that was looked up. */
  readonly host: string;
  constructor(host: string, code: DnsErrorCode, detail: string) {
    super(`cannot resolve ${host}: ${detail}`);
    this.name = "DnsError";
    this.code = code;
    this.host = host;
  }
}

/**
 * The numeric addresses of `host` (resolver order, no duplicates), limited to
 * `family` when given. Numeric input comes back unchanged (or NOT_FOUND when
 * it is of the other family). Throws {@link DnsError}.
 */
export async function resolve(host: string, family?: Family): Promise<string[]> {
  const numeric = addressFamily(host);
  if (numeric !== null) {
    if (family !== undefined && family !== numeric) {
      throw new DnsError(host, "NOT_FOUND", `not an ${family} address`);
    }
    return [host];
  }
  if (host === "" || host.length > 253) throw new DnsError(host, "NOT_FOUND", "invalid name");
  try {
    const found = await getaddrinfo(host, family);
    if (found.length === 0) throw new DnsError(host, "NOT_FOUND", "no addresses");
    return found.map((a) => a.address);
  } catch (e) {
    if (!(e instanceof GaiError)) throw e;
    const code: DnsErrorCode = e.code === "EAI_AGAIN"
      ? "TRY_AGAIN"
      : e.code === "EAI_NONAME" || e.code === "EAI_NODATA" || e.code === "EAI_ADDRFAMILY"
      ? "NOT_FOUND"
      : "FAILURE";
    throw new DnsError(host, code, e.code);
  }
}
