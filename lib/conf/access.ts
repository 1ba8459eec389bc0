/**
 * `allow`/`deny`/`cmdallow`/`cmddeny` rules: `[all] [subnet]` where subnet is
 * an IPv4 or IPv6 address with an optional `/bits`, the dotted shorthand
 * (`3.4.5` = 3.4.5.0/24, prefix from the number of octets), or a host name.
 * A full four-octet address without `/bits` is one host (/32), as chronyd
 * 4.3 does (`allow 192.0.2.0` does not allow 192.0.2.5; checked with accheck).
 *
 * @example
 * ```ts
 * import { ArgReader } from "./args.ts";
 * import { parseAccessRule } from "./access.ts";
 * const ctx = { file: "f", line: 1, directive: "allow" };
 * parseAccessRule(true, new ArgReader(["10.20.0.0/16"], ctx)).subnet;
 * // { kind: "ip", family: 4, address: "10.20.0.0", prefix: 16 }
 * ```
 * @module
 */

import {
  formatIpBytes,
  parseIpv4,
  parseIpv6,
  parseSubnet as parseIpSubnet,
} from "../net/address.ts";
import type { ArgReader } from "./args.ts";
import type { AccessRule } from "./config.ts";

const HOST_RE =
  /^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*\.?$/;

/** Parses the words after an allow/deny-type directive. */
export function parseAccessRule(allow: boolean, r: ArgReader): AccessRule {
  let all = false;
  if (r.peek()?.toLowerCase() === "all") {
    r.word("all");
    all = true;
  }
  const origin = { file: r.ctx.file, line: r.ctx.line };
  const spec = r.optionalWord();
  r.end();
  if (spec === undefined) return { allow, all, subnet: { kind: "any" }, origin };
  return { allow, all, subnet: parseSubnet(spec, r), origin };
}

/**
 * Parses one subnet specification (lib/net/address.ts, with the host-name
 * fallback); throws ConfigError if it is not one. A prefix beyond the
 * address is kept: chronyd 4.3 parses it and refuses it at start-up
 * ({@link checkAccessRules}).
 */
export function parseSubnet(spec: string, r: ArgReader): AccessRule["subnet"] {
  const s = parseIpSubnet(spec);
  if (typeof s !== "string") {
    return { kind: "ip", family: s.family, address: formatIpBytes(s.bytes), prefix: s.bits };
  }
  const addr = spec.includes("/") ? undefined : spec;
  if (
    addr !== undefined && !addr.includes(":") && !/^[0-9.]+$/.test(addr) && HOST_RE.test(addr) &&
    addr.toLowerCase() !== "all"
  ) {
    return { kind: "host", name: addr };
  }
  throw r.error(`invalid subnet "${spec}"`);
}

/** Canonical text of an IPv6 address, or undefined if it is not one. */
export function ipv6(addr: string): string | undefined {
  const bytes = parseIpv6(addr);
  return bytes === null ? undefined : formatIpBytes(bytes);
}

/** True if `addr` is a dotted-quad IPv4 address. */
export function isIpv4(addr: string): boolean {
  return parseIpv4(addr) !== null;
}

/**
 * The rule's subnet as text for lib/ntp's AddressFilter: `null` for every
 * address, `address/prefix` for an IP subnet, the name for a host (which
 * the daemon resolves to an address before building the filter).
 */
export function subnetText(rule: Pick<AccessRule, "subnet">): string | null {
  const s = rule.subnet;
  if (s.kind === "any") return null;
  if (s.kind === "host") return s.name;
  return `${s.address}/${s.prefix}`;
}

/**
 * The start-up check of chronyd 4.3 on the allow/deny/cmdallow/cmddeny rules
 * (NTP rules first): a prefix longer than the address (`allow 10.0.0.0/99`,
 * accepted by `chronyd -p`) stops the daemon with "Bad subnet in
 * 10.0.0.0/99". Returns that message, or null when every rule is usable.
 */
export function checkAccessRules(rules: readonly AccessRule[]): string | null {
  for (const rule of rules) {
    const s = rule.subnet;
    if (s.kind !== "ip") continue;
    if (s.prefix > (s.family === 4 ? 32 : 128)) return `Bad subnet in ${s.address}/${s.prefix}`;
  }
  return null;
}
