/**
 * The date strings chronyc's `settime` accepts (chronyc(1): "Providing your
 * computer's time zone is set up properly, you will be able to enter a local
 * time"). chronyc 4.3 reads them with the classic getdate grammar; this is
 * horae's own reading of the forms observed with the real chronyc:
 *
 * - a time: `16:30`, `16:30:05`, `2:10pm`, `16` (hour), `1630` (hhmm),
 *   optionally followed by a zone (`UTC`, `GMT`, `Z`, `CET`, ..., `+0100`);
 * - a date: `1997-11-21`, `11/21/1997`, `12/4`, `Nov 21, 1997`, `Nov 21`,
 *   `21 Nov 1997`; a day of the week (`Fri`, `next monday`) means midnight
 *   of that day;
 * - words and relative items: `now`, `today`, `tomorrow`, `yesterday`,
 *   `+1 hour`, `1 hour ago`, `-5 min`, `2 weeks`, `last week`, `now + 5 seconds`.
 *
 * A time or date without a zone is local time. With neither a time nor a date
 * nor a relative item the result is today's midnight (the empty string); with
 * only relative items it is counted from now. Fractions of a second are not
 * accepted. The result is whole seconds since the epoch (chronyc sends no
 * fraction), or null when unreadable ("510 - Could not parse date string").
 *
 * @example
 * ```ts
 * import { getDate } from "./getdate.ts";
 * const now = Date.UTC(2026, 11, 4, 21, 0, 57);
 * getDate("16:30", now, () => 0); // Date.UTC(2026, 11, 4, 16, 30) / 1000
 * getDate("1 hour ago", now, () => 0); // now / 1000 - 3600
 * ```
 * @module
 */

const MONTHS = [
  "january",
  "february",
  "march",
  "april",
  "may",
  "june",
  "july",
  "august",
  "september",
  "october",
  "november",
  "december",
];
const DAYS = ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"];
/** Seconds of each relative unit; months and years are counted on the calendar. */
const UNITS: Record<string, number> = {
  second: 1,
  sec: 1,
  minute: 60,
  min: 60,
  hour: 3600,
  day: 86400,
  week: 604800,
  fortnight: 1209600,
  month: -1,
  year: -2,
};
/** Zones by name, minutes east of UTC. */
const ZONES: Record<string, number> = {
  utc: 0,
  ut: 0,
  gmt: 0,
  z: 0,
  wet: 0,
  bst: 60,
  cet: 60,
  met: 60,
  cest: 120,
  eet: 120,
  eest: 180,
  msk: 180,
  ist: 330,
  jst: 540,
  aest: 600,
  nzst: 720,
  ast: -240,
  est: -300,
  edt: -240,
  cst: -360,
  cdt: -300,
  mst: -420,
  mdt: -360,
  pst: -480,
  pdt: -420,
  hst: -600,
};

/** Offset of local time from UTC at `ms`, minutes east (the process's TZ). */
export function systemZoneOffset(ms: number): number {
  return -new Date(ms).getTimezoneOffset();
}

function monthIndex(word: string): number {
  if (word.length < 3) return -1;
  const w = word === "sept" ? "sep" : word;
  return MONTHS.findIndex((m) => m.startsWith(w));
}

function unitOf(word: string): number | undefined {
  const w = word.endsWith("s") && !(word in UNITS) ? word.slice(0, -1) : word;
  return UNITS[w];
}

/**
 * Reads a settime date; whole seconds since the epoch or null. `nowMs` is the
 * current time, `zoneOffset(ms)` the local zone's offset (minutes east).
 */
export function getDate(
  text: string,
  nowMs: number,
  zoneOffset: (ms: number) => number = systemZoneOffset,
): number | null {
  const tokens = text.toLowerCase().match(/[a-z]+\.?|\d+|[-+:/,]/g) ?? [];
  if (tokens.join("").replace(/[.,]/g, "") !== text.toLowerCase().replace(/[\s.,]/g, "")) {
    return null; // characters outside the grammar (e.g. "16:30:05.5")
  }
  let i = 0;
  const peek = (k = 0) => tokens[i + k];
  const isNum = (t: string | undefined) => t !== undefined && /^\d+$/.test(t);

  let time: { h: number; m: number; s: number } | null = null;
  let date: { y: number | null; mo: number; d: number } | null = null;
  let weekday: { day: number; n: number } | null = null;
  let zone: number | null = null;
  let relSeconds = 0, relMonths = 0;
  let haveRel = false;

  const meridian = (h: number): number | null => {
    const t = peek();
    if (t !== "am" && t !== "pm") return h;
    i++;
    if (h < 1 || h > 12) return null;
    return (h % 12) + (t.startsWith("p") ? 12 : 0);
  };
  const readZone = (): boolean => {
    const t = peek();
    if (t !== undefined && t in ZONES) {
      zone = ZONES[t]!;
      i++;
    } else if ((t === "+" || t === "-") && isNum(peek(1)) && peek(1)!.length === 4 && time) {
      const v = Number(peek(1));
      zone = (t === "-" ? -1 : 1) * (Math.floor(v / 100) * 60 + (v % 100));
      i += 2;
    } else return false;
    return true;
  };
  const relative = (n: number): boolean => {
    const u = peek() !== undefined ? unitOf(peek()!.replace(/\.$/, "")) : undefined;
    if (u === undefined) return false;
    i++;
    if (peek() === "ago") {
      n = -n;
      i++;
    }
    if (u === -1) relMonths += n;
    else if (u === -2) relMonths += 12 * n;
    else relSeconds += n * u;
    haveRel = true;
    return true;
  };

  while (i < tokens.length) {
    const t = tokens[i]!;
    if (t === ",") {
      i++;
      continue;
    }
    // hh:mm[:ss] [am|pm] [zone]
    if (isNum(t) && peek(1) === ":" && isNum(peek(2))) {
      if (time) return null;
      let h: number | null = Number(t);
      const m = Number(peek(2));
      i += 3;
      let s = 0;
      if (peek() === ":" && isNum(peek(1))) {
        s = Number(peek(1));
        i += 2;
      }
      h = meridian(h);
      if (h === null || h > 23 || m > 59 || s > 60) return null;
      time = { h, m, s };
      readZone();
      continue;
    }
    // yyyy-mm-dd
    if (isNum(t) && t.length === 4 && peek(1) === "-" && isNum(peek(2)) && peek(3) === "-") {
      if (date || !isNum(peek(4))) return null;
      date = { y: Number(t), mo: Number(peek(2)) - 1, d: Number(peek(4)) };
      i += 5;
      continue;
    }
    // m/d[/y]
    if (isNum(t) && peek(1) === "/" && isNum(peek(2))) {
      if (date) return null;
      date = { y: null, mo: Number(t) - 1, d: Number(peek(2)) };
      i += 3;
      if (peek() === "/" && isNum(peek(1))) {
        date.y = Number(peek(1));
        i += 2;
      }
      continue;
    }
    // +N unit, -N unit
    if ((t === "+" || t === "-") && isNum(peek(1))) {
      i += 2;
      if (!relative((t === "-" ? -1 : 1) * Number(tokens[i - 1]))) return null;
      continue;
    }
    if (isNum(t)) {
      i++;
      if (relative(Number(t))) continue;
      const mo = peek() !== undefined ? monthIndex(peek()!.replace(/\.$/, "")) : -1;
      if (mo >= 0 && !date) { // 21 nov [1997]
        i++;
        date = { y: null, mo, d: Number(t) };
        if (isNum(peek()) && peek(1) !== ":") date.y = Number(tokens[i++]);
        continue;
      }
      const meridianNext = peek() === "am" || peek() === "pm";
      if (date && time && date.y === null) {
        date.y = Number(t);
      } else if (!time && (t.length <= 2 || meridianNext)) {
        const h = meridian(Number(t));
        if (h === null || h > 23) return null;
        time = { h, m: 0, s: 0 };
        readZone();
      } else if (!time && t.length <= 4) {
        const v = Number(t);
        if (Math.floor(v / 100) > 23 || v % 100 > 59) return null;
        time = { h: Math.floor(v / 100), m: v % 100, s: 0 };
        readZone();
      } else if (date && date.y === null) {
        date.y = Number(t);
      } else return null;
      continue;
    }
    const w = t.replace(/\.$/, "");
    if (w === "now" || w === "today") {
      haveRel = true;
      i++;
      continue;
    }
    if (w === "tomorrow" || w === "yesterday") {
      relSeconds += w === "tomorrow" ? 86400 : -86400;
      haveRel = true;
      i++;
      continue;
    }
    if (w === "next" || w === "last" || w === "this") {
      const n = w === "last" ? -1 : w === "this" ? 0 : 1;
      i++;
      const day = peek() !== undefined ? DAYS.findIndex((d) => d.startsWith(peek()!)) : -1;
      if (day >= 0 && peek()!.length >= 3) {
        i++;
        weekday = { day, n: n === 0 ? 0 : n > 0 ? 0 : -1 };
        continue;
      }
      if (!relative(n)) return null;
      continue;
    }
    const mo = monthIndex(w);
    if (mo >= 0) { // nov 21[,] [1997]
      if (date) return null;
      i++;
      if (!isNum(peek())) return null;
      date = { y: null, mo, d: Number(tokens[i++]) };
      if (peek() === ",") i++;
      if (isNum(peek()) && peek()!.length === 4 && peek(1) !== ":") date.y = Number(tokens[i++]);
      continue;
    }
    const day = w.length >= 3 ? DAYS.findIndex((d) => d.startsWith(w)) : -1;
    if (day >= 0) {
      i++;
      weekday = { day, n: 0 };
      continue;
    }
    if (w in ZONES && readZone()) continue;
    if (relative(1)) continue;
    return null;
  }

  const nowS = Math.floor(nowMs / 1000);
  let base: number;
  if (date || time || weekday) {
    // the local calendar day of `now` (or the date given), at the time given
    const localNow = new Date((nowS + zoneOffset(nowMs) * 60) * 1000);
    let y = localNow.getUTCFullYear(), mo = localNow.getUTCMonth(), d = localNow.getUTCDate();
    if (date) {
      if (date.mo < 0 || date.mo > 11 || date.d < 1 || date.d > 31) return null;
      if (date.y !== null) y = date.y < 70 ? 2000 + date.y : date.y < 100 ? 1900 + date.y : date.y;
      mo = date.mo;
      d = date.d;
    }
    const t = time ?? { h: 0, m: 0, s: 0 };
    const wall = Date.UTC(y, mo, d, t.h, t.m, t.s) / 1000;
    base = wall - (zone ?? zoneOffset(wall * 1000)) * 60;
    if (weekday) {
      const dow = new Date(wall * 1000).getUTCDay();
      let ahead = (weekday.day - dow + 7) % 7;
      if (weekday.n < 0) ahead -= 7;
      base += ahead * 86400;
    }
  } else {
    base = haveRel ? nowS : nowS - (((nowS + zoneOffset(nowMs) * 60) % 86400) + 86400) % 86400;
  }
  if (relMonths !== 0) {
    const d = new Date(base * 1000);
    d.setUTCMonth(d.getUTCMonth() + relMonths);
    base = Math.floor(d.getTime() / 1000);
  }
  return base + relSeconds;
}
