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

import type { ArgReader } from "./args.ts";
import { toInt } from "./args.ts";
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

/** Parses one subnet specification; throws ConfigError if it is not one. */
export function parseSubnet(spec: string, r: ArgReader): AccessRule["subnet"] {
  const slash = spec.indexOf("/");
  const addr = slash < 0 ? spec : spec.slice(0, slash);
  const bitsWord = slash < 0 ? undefined : spec.slice(slash + 1);
  let bits: number | undefined;
  if (bitsWord !== undefined) {
    bits = toInt(bitsWord);
    if (bits === undefined || bits < 0) throw r.error(`invalid subnet "${spec}"`);
  }
  if (addr.includes(":")) {
    const canonical = ipv6(addr);
    if (canonical === undefined) throw r.error(`invalid subnet "${spec}"`);
    // A prefix beyond the address is kept: chronyd 4.3 parses it and refuses
    // it at start-up ({@link checkAccessRules}).
    return { kind: "ip", family: 6, address: canonical, prefix: bits ?? 128 };
  }
  if (/^[0-9.]+$/.test(addr)) {
    const parts = addr.split(".");
    const octets = parts.map((p) => toInt(p));
    if (
      parts.length > 4 || octets.some((o) => o === undefined || o > 255) || addr.endsWith(".")
    ) {
      throw r.error(`invalid subnet "${spec}"`);
    }
    const full = [0, 1, 2, 3].map((i) => octets[i] ?? 0).join(".");
    return { kind: "ip", family: 4, address: full, prefix: bits ?? parts.length * 8 };
  }
  if (bitsWord === undefined && HOST_RE.test(addr) && addr.toLowerCase() !== "all") {
    return { kind: "host", name: addr };
  }
  throw r.error(`invalid subnet "${spec}"`);
}

/** Canonical text of an IPv6 address, or undefined if it is not one. */
export function ipv6(addr: string): string | undefined {
  if (!/^[0-9A-Fa-f:.]+$/.test(addr)) return undefined;
  try {
    const host = new URL(`http://[${addr}]/`).hostname;
    return host.slice(1, -1);
  } catch {
    return undefined;
  }
}

/** True if `addr` is a dotted-quad IPv4 address. */
export function isIpv4(addr: string): boolean {
  const parts = addr.split(".");
  return parts.length === 4 && parts.every((p) => {
    const n = toInt(p);
    return n !== undefined && n >= 0 && n <= 255 && !p.startsWith("+") && !p.startsWith("-");
  });
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
