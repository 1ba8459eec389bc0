/**
 * Access table for the NTP server (`allow`/`deny`, chrony.conf(5)).
 *
 * Rules are kept, as chrony documents them, in a tree of 16-entry tables, one
 * level per 4 bits of the address; IPv4 and IPv6 have separate trees. Each
 * entry says allow, deny or "as the parent". A rule for prefix length L
 * writes the entries of the table at depth ceil(L/4) - 1 that the prefix
 * covers (2^(4 - r) entries, r = L - 4 * (ceil(L/4) - 1)), so two rules
 * whose prefixes end in the same table override each other in config order,
 * while a longer prefix in a deeper table wins regardless of order. The
 * `all` form additionally forgets every rule below the entries it writes.
 * An address takes the state of the deepest non-parent entry on its path;
 * with no rule it is denied (chrony.conf(5): "the default is that no
 * clients are allowed").
 *
 * Subnet text (checked against chronyd 4.3 `accheck`): `1.2.3.4` and
 * `1.2.3.0` are hosts (/32); `1.2.3` is 1.2.3.0/24 and `1.2` 1.2.0.0/16 (the
 * prefix length comes from the number of octets); `a.b.c.d/L`, `v6/L`,
 * `0/0`, `::/0`; no subnet means every IPv4 and IPv6 address. Host names are
 * resolved by the daemon before they reach this table.
 *
 * @example
 * ```ts
 * import { AddressFilter } from "./addrfilt.ts";
 * const f = AddressFilter.fromRules([
 *   { allow: true, all: false, subnet: "1.2.0.0/16" },
 *   { allow: false, all: false, subnet: "1.2.3" },
 * ]);
 * f.isAllowed("1.2.4.5"); // true
 * f.isAllowed("1.2.3.5"); // false
 * ```
 * @module
 */
import { parseSubnet as parseIpSubnet, prefixFits } from "../net/address.ts";

/** One `allow`/`deny` line in config order. */
export interface AccessRule {
  /** `allow` (true) or `deny` (false). */
  allow: boolean;
  /** The `all` form: also clears every rule inside the subnet. */
  all: boolean;
  /** Subnet text, or null for "every address" (the directive without argument). */
  subnet: string | null;
}

/** A subnet text that is not an IPv4/IPv6 address or prefix. */
export class AddressFilterError extends Error {
  override readonly name = "AddressFilterError";
  /** The offending text. */
  readonly subnet: string;
  constructor(subnet: string, reason: string) {
    super(`invalid subnet "${subnet}": ${reason}`);
    this.subnet = subnet;
  }
}

const AS_PARENT = 0;
const ALLOW = 1;
const DENY = 2;
type EntryState = typeof AS_PARENT | typeof ALLOW | typeof DENY;

/** A table node: its own state plus up to 16 children (one per nibble value). */
interface Node {
  state: EntryState;
  children: (Node | undefined)[] | null;
}

function newNode(state: EntryState): Node {
  return { state, children: null };
}

/** A parsed subnet: address as bytes (4 or 16) and prefix length in bits. */
export interface Subnet {
  bytes: Uint8Array;
  bits: number;
}

/**
 * Parses subnet text as chrony.conf(5) `allow`/`deny` read it
 * (lib/net/address.ts), refusing a prefix longer than the address.
 * @throws {AddressFilterError} when the text is not an address or subnet.
 */
export function parseSubnet(text: string): Subnet {
  const s = parseIpSubnet(text);
  if (s === "address") throw new AddressFilterError(text, "not an IPv4 or IPv6 address");
  if (s === "prefix" || !prefixFits(s)) {
    const max = text.slice(0, text.indexOf("/")).includes(":") ? 128 : 32;
    throw new AddressFilterError(text, `prefix length must be 0..${max}`);
  }
  return { bytes: s.bytes, bits: s.bits };
}

/** Nibble `i` (0 = most significant) of an address held in bytes. */
function nibble(bytes: Uint8Array, i: number): number {
  const b = bytes[i >> 1] ?? 0;
  return (i & 1) === 0 ? b >> 4 : b & 15;
}

/** The allow/deny table; see the module documentation for the rules. */
export class AddressFilter {
  #v4: Node = newNode(DENY);
  #v6: Node = newNode(DENY);
  /** Called after each rule {@link add}ed (the daemon opens or closes server sockets). */
  onChange: (() => void) | null = null;

  /** Builds a table from rules in config order. @throws {AddressFilterError} */
  static fromRules(rules: readonly AccessRule[]): AddressFilter {
    const f = new AddressFilter();
    for (const r of rules) f.add(r);
    return f;
  }

  /** Applies one rule after those already added (also the `chronyc allow/deny` path). */
  add(rule: AccessRule): void {
    const state: EntryState = rule.allow ? ALLOW : DENY;
    if (rule.subnet === null) {
      this.#set(this.#v4, new Uint8Array(4), 0, state, rule.all);
      this.#set(this.#v6, new Uint8Array(16), 0, state, rule.all);
    } else {
      const s = parseSubnet(rule.subnet);
      this.#set(s.bytes.length === 4 ? this.#v4 : this.#v6, s.bytes, s.bits, state, rule.all);
    }
    this.onChange?.();
  }

  #set(root: Node, bytes: Uint8Array, bits: number, state: EntryState, all: boolean): void {
    if (bits === 0) {
      root.state = state;
      if (all) root.children = null;
      return;
    }
    const depth = Math.ceil(bits / 4) - 1; // table holding the entries to write
    let node = root;
    for (let i = 0; i < depth; i++) {
      node.children ??= new Array<Node | undefined>(16);
      const n = nibble(bytes, i);
      let child = node.children[n];
      if (child === undefined) {
        child = newNode(AS_PARENT);
        node.children[n] = child;
      }
      node = child;
    }
    const rest = bits - 4 * depth; // 1..4 bits used of the next nibble
    const span = 1 << (4 - rest);
    const first = nibble(bytes, depth) & ~(span - 1) & 15;
    node.children ??= new Array<Node | undefined>(16);
    for (let n = first; n < first + span; n++) {
      let child = node.children[n];
      if (child === undefined) {
        child = newNode(state);
        node.children[n] = child;
      }
      child.state = state;
      if (all) child.children = null;
    }
  }

  /**
   * Whether any address of `family` may use the server (some entry of that
   * tree allows). chronyd opens a server socket of a family only then
   * (checked with chronyd 4.3: `allow 127.0.0.1` alone opens no IPv6 socket).
   */
  isAnyAllowed(family: 4 | 6): boolean {
    const anyAllow = (node: Node): boolean =>
      node.state === ALLOW ||
      (node.children?.some((c) => c !== undefined && anyAllow(c)) ?? false);
    return anyAllow(family === 4 ? this.#v4 : this.#v6);
  }

  /** Whether an address (text form) may use the server. Unparsable text is denied. */
  isAllowed(address: string): boolean {
    let s: Subnet;
    try {
      s = parseSubnet(address);
    } catch (e) {
      if (e instanceof AddressFilterError) return false; // unparsable: denied
      throw e;
    }
    return this.isAllowedBytes(s.bytes, 0, s.bytes.length === 4 ? 4 : 6);
  }

  /**
   * Hot-path check on raw address bytes (network order) at `offset` in `bytes`;
   * `family` 4 reads 4 bytes, 6 reads 16. No allocation.
   */
  isAllowedBytes(bytes: Uint8Array, offset: number, family: 4 | 6): boolean {
    let node: Node | undefined = family === 4 ? this.#v4 : this.#v6;
    let state = node.state;
    const nibbles = family === 4 ? 8 : 32;
    for (let i = 0; i < nibbles; i++) {
      const children: (Node | undefined)[] | null = node.children;
      if (children === null) break;
      const b = bytes[offset + (i >> 1)] ?? 0;
      node = children[(i & 1) === 0 ? b >> 4 : b & 15];
      if (node === undefined) break;
      if (node.state !== AS_PARENT) state = node.state;
    }
    return state === ALLOW;
  }
}
