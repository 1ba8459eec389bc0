/**
 * One codec for chrony's fixed command-protocol layouts (candm.h `REQ_*` and
 * `RPY_*` structs). A layout is a table of fields, each a name and a wire
 * kind; `writeFields` and `readFields` walk the same table in both
 * directions over `WireWriter`/`WireReader`, and `layoutSize` gives its
 * length. request.ts and reports.ts describe every request and reply this
 * way, so a new layout version is a new table, never new code.
 *
 * Wire kinds: `u8` `i8` `u16` `i16` `u32` `i32` (big-endian), `u64`
 * (candm.h Integer64: high word, low word), `float` (chrony's 32-bit Float),
 * `addr` (20-byte IPAddr), `ts` (12-byte Timespec), `name` (256-byte
 * NUL-padded text), `char` (one byte as a one-character string); nameless
 * `pad(n, fill)` (reserved bytes), `bits(...)` (a u32 of flags, bit 0 first,
 * each a boolean field) and `list(name, layout, max)` (a u32 count, then
 * `max` fixed slots of `layout`).
 *
 * @example
 * ```ts
 * import { layoutSize, readFields, writeFields, type Layout } from "./layouts.ts";
 * import { WireReader, WireWriter } from "./wire.ts";
 * const layout: Layout = [["poll", "i16"], ["offset", "float"]];
 * const w = new WireWriter(layoutSize(layout));
 * writeFields(w, layout, { poll: -6, offset: 0.5 });
 * readFields(new WireReader(w.bytes), layout); // { poll: -6, offset: 0.5 }
 * ```
 * @module
 */

import { type CmdAddress, UNSPEC, WireError, type WireReader, type WireWriter } from "./wire.ts";

/** Wire kinds of a named field holding one value. */
export type Scalar =
  | "u8"
  | "i8"
  | "u16"
  | "i16"
  | "u32"
  | "i32"
  | "u64"
  | "float"
  | "addr"
  | "ts"
  | "name"
  | "char";

/** Reserved bytes, written as `fill` and skipped when read. */
export interface Pad {
  readonly pad: number;
  readonly fill: number;
}
/** A u32 of flags: bit i is the boolean field `bits[i]`. */
export interface Bits {
  readonly bits: readonly string[];
}
/** A u32 count, then `max` slots of `layout` (unused slots zero). */
export interface List {
  readonly list: Layout;
  readonly max: number;
}

/** What a field is on the wire. */
export type FieldKind = Scalar | Pad | Bits | List;

/**
 * One field: its name in the native record and its wire kind. Nameless
 * fields (`pad`, `bits`) have the name "". `T` checks the names against a
 * record type.
 */
export type Field<T = Record<string, unknown>> =
  | readonly [name: keyof T & string, kind: Scalar | List]
  | readonly [name: "", kind: Pad | Bits];

/** A whole layout, first field first. */
export type Layout<T = Record<string, unknown>> = readonly Field<T>[];

/** Reserved bytes (`fill` each, zero by default). */
export function pad(n: number, fill = 0): readonly ["", Pad] {
  return ["", { pad: n, fill }];
}

/** A u32 of boolean flags, bit 0 first. */
export function bits<T = Record<string, unknown>>(
  ...names: (keyof T & string)[]
): readonly ["", Bits] {
  return ["", { bits: names }];
}

/** A counted array: u32 count, then `max` slots of `layout`. */
export function list<T, E>(
  name: keyof T & string,
  layout: Layout<E>,
  max: number,
): readonly [keyof T & string, List] {
  return [name, { list: layout as Layout, max }];
}

/** A run of fields of one kind, e.g. `...same("float", "offset", "delay")`. */
export function same<T = Record<string, unknown>>(
  kind: Scalar,
  ...names: (keyof T & string)[]
): Field<T>[] {
  return names.map((n) => [n, kind] as const);
}

const SCALAR_SIZE: Record<Scalar, number> = {
  u8: 1,
  i8: 1,
  char: 1,
  u16: 2,
  i16: 2,
  u32: 4,
  i32: 4,
  float: 4,
  u64: 8,
  ts: 12,
  addr: 20,
  name: 256,
};

function kindSize(kind: FieldKind): number {
  if (typeof kind === "string") return SCALAR_SIZE[kind];
  if ("pad" in kind) return kind.pad;
  if ("bits" in kind) return 4;
  return 4 + kind.max * layoutSize(kind.list);
}

const SIZES = new WeakMap<Layout, number>();

/** Bytes a layout takes on the wire. */
export function layoutSize(layout: Layout): number {
  let n = SIZES.get(layout);
  if (n === undefined) {
    n = 0;
    for (const [, kind] of layout) n += kindSize(kind);
    SIZES.set(layout, n);
  }
  return n;
}

/** The value a field has when absent: 0, UNSPEC, 0n, "", " ", false, []. */
function zeroValue(kind: Scalar | List): unknown {
  switch (kind) {
    case "addr":
      return UNSPEC;
    case "ts":
      return 0n;
    case "name":
      return "";
    case "char":
      return " ";
    default:
      return typeof kind === "string" ? 0 : [];
  }
}

/** Sets every field of `layout` in `out` to its zero value (a layout version lacking a field). */
export function zeroFields(
  layout: Layout,
  out: Record<string, unknown> = {},
): Record<string, unknown> {
  for (const [name, kind] of layout) {
    if (typeof kind === "object" && "bits" in kind) {
      for (const b of kind.bits) out[b] = false;
    } else if (typeof kind === "string" || "list" in kind) {
      out[name] = zeroValue(kind);
    }
  }
  return out;
}

function num(v: unknown): number {
  return typeof v === "number" ? v : 0;
}

function writeScalar(w: WireWriter, kind: Scalar, v: unknown): void {
  switch (kind) {
    case "addr":
      return w.address((v ?? UNSPEC) as CmdAddress);
    case "ts":
      return w.timespec(typeof v === "bigint" ? v : 0n);
    case "name":
      return w.string(typeof v === "string" ? v : "", SCALAR_SIZE.name);
    case "char":
      return w.u8((typeof v === "string" ? v.charCodeAt(0) : 0) || 0x20);
    default:
      return w[kind](num(v));
  }
}

/**
 * Writes `record`'s fields in `layout` order. Missing values write as zero;
 * lists longer than their slots are cut to `max`.
 */
export function writeFields(w: WireWriter, layout: Layout, record: Record<string, unknown>): void {
  for (const [name, kind] of layout) {
    if (typeof kind === "string") {
      writeScalar(w, kind, record[name]);
    } else if ("pad" in kind) {
      const at = w.offset;
      w.skip(kind.pad);
      if (kind.fill !== 0) w.bytes.fill(kind.fill, at, at + kind.pad);
    } else if ("bits" in kind) {
      let word = 0;
      kind.bits.forEach((b, i) => {
        if (record[b]) word |= 1 << i;
      });
      w.u32(word);
    } else {
      const items = Array.isArray(record[name]) ? record[name].slice(0, kind.max) : [];
      w.u32(items.length);
      for (const item of items) writeFields(w, kind.list, item as Record<string, unknown>);
      w.skip((kind.max - items.length) * layoutSize(kind.list));
    }
  }
}

function readScalar(r: WireReader, kind: Scalar): unknown {
  switch (kind) {
    case "addr":
      return r.address();
    case "ts":
      return r.timespec();
    case "name":
      return r.string(SCALAR_SIZE.name);
    case "char":
      return String.fromCharCode(r.u8());
    default:
      return r[kind]();
  }
}

/**
 * Reads `layout`'s fields into `out` (a new object by default). Throws
 * `WireError` when the bytes end early or a list counts more than its slots.
 */
export function readFields(
  r: WireReader,
  layout: Layout,
  out: Record<string, unknown> = {},
): Record<string, unknown> {
  for (const [name, kind] of layout) {
    if (typeof kind === "string") {
      out[name] = readScalar(r, kind);
    } else if ("pad" in kind) {
      r.skip(kind.pad);
    } else if ("bits" in kind) {
      const word = r.u32();
      kind.bits.forEach((b, i) => {
        out[b] = (word & (1 << i)) !== 0;
      });
    } else {
      const at = r.offset;
      const n = r.u32();
      if (n > kind.max) {
        throw new WireError(`${name}: count ${n} at offset ${at} exceeds ${kind.max} slots`);
      }
      const items: Record<string, unknown>[] = [];
      for (let i = 0; i < n; i++) items.push(readFields(r, kind.list));
      r.skip((kind.max - n) * layoutSize(kind.list));
      out[name] = items;
    }
  }
  return out;
}
