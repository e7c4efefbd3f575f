import pg from 'pg';

const TIMESTAMPTZ = pg.types.builtins.TIMESTAMPTZ;
const parseAny = pg.types.getTypeParser(TIMESTAMPTZ, 'text') as (text: string) => unknown;

/** The digits s[from, from + n) as a number, or -1 if any is not a digit. */
function digits(s: string, from: number, n: number): number {
  let v = 0;
  for (let i = from; i < from + n; i++) {
    const d = s.charCodeAt(i) - 48;
    if (!(d >= 0 && d <= 9)) return -1; // also past the end (NaN)
    v = v * 10 + d;
  }
  return v;
}

/**
 * A timestamptz as Postgres writes it under DateStyle ISO, 'YYYY-MM-DD HH:MM:SS[.f…]±HH[:MM[:SS]]',
 * read without regular expressions; null for any other shape. Equal to pg's own parser
 * (postgres-date) on that shape: fractions cut to whole milliseconds, the offset subtracted. pg's
 * parser was 5% of a Postgres worker's Node CPU (three timestamps a fetched job, each through
 * four regular expressions).
 */
export function parseIsoTimestamptz(s: string): Date | null {
  if (s.length < 22 || s.charCodeAt(4) !== 45 || s.charCodeAt(7) !== 45 || s.charCodeAt(10) !== 32 || s.charCodeAt(13) !== 58 || s.charCodeAt(16) !== 58) {
    return null;
  }
  const year = digits(s, 0, 4);
  const month = digits(s, 5, 2);
  const day = digits(s, 8, 2);
  const hour = digits(s, 11, 2);
  const minute = digits(s, 14, 2);
  const second = digits(s, 17, 2);
  // Years below 100 are read as 19xx by Date.UTC: left to pg's parser, which corrects them.
  if (year < 100 || month < 0 || day < 0 || hour < 0 || minute < 0 || second < 0) return null;
  let i = 19;
  let ms = 0;
  if (s.charCodeAt(i) === 46) {
    let n = 0;
    while (n < 9 && s.charCodeAt(i + 1 + n) >= 48 && s.charCodeAt(i + 1 + n) <= 57) n++;
    if (n === 0) return null;
    ms = Math.trunc((digits(s, i + 1, n) * 1000) / 10 ** n);
    i += 1 + n;
  }
  const sign = s.charCodeAt(i) === 43 ? 1 : s.charCodeAt(i) === 45 ? -1 : 0;
  if (sign === 0) return null;
  const parts = [digits(s, i + 1, 2), 0, 0];
  i += 3;
  for (let p = 1; p < 3 && i < s.length; p++) {
    if (s.charCodeAt(i) !== 58) return null;
    parts[p] = digits(s, i + 1, 2);
    i += 3;
  }
  if (i !== s.length || parts.some((v) => v < 0)) return null;
  const offsetMs = sign * (parts[0]! * 3600 + parts[1]! * 60 + parts[2]!) * 1000;
  return new Date(Date.UTC(year, month - 1, day, hour, minute, second, ms) - offsetMs);
}

/** timestamptz by the fast path, anything else (infinity, BC, other DateStyles) by pg's parser. */
function parseTimestamptz(s: string): unknown {
  return parseIsoTimestamptz(s) ?? parseAny(s);
}

/**
 * The type parsers of the backend's connections: pg's own, but for timestamptz in text. Given to
 * its clients only (pg's types are global otherwise), and only when the caller gave none.
 */
export const POSTGRES_TYPES: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === TIMESTAMPTZ && format !== 'binary' ? parseTimestamptz : pg.types.getTypeParser(oid, format)) as pg.CustomTypesConfig['getTypeParser'],
};
