/** The compact UTC date and time the queue puts in names: job ids and archive folders. */
export interface UtcStamp {
  /** YYYYMMDD */
  date: string;
  /** HHMMSS */
  time: string;
}

function pad(value: number): string {
  return String(value).padStart(2, "0");
}

/** `at` as YYYYMMDD and HHMMSS in UTC, or undefined for an invalid Date or a year that is not 4 digits. */
export function utcStamp(at: Date): UtcStamp | undefined {
  const year = at.getUTCFullYear();
  if (Number.isNaN(year) || year < 1000 || year > 9999) return undefined;
  return {
    date: `${year}${pad(at.getUTCMonth() + 1)}${pad(at.getUTCDate())}`,
    time: `${pad(at.getUTCHours())}${pad(at.getUTCMinutes())}${pad(at.getUTCSeconds())}`,
  };
}

/** The instant YYYYMMDD + HHMMSS (UTC) names, or undefined when no such date or time exists (20261332). */
export function parseUtcStamp(date: string, time: string): Date | undefined {
  if (!/^\d{8}$/.test(date) || !/^\d{6}$/.test(time)) return undefined;
  const digits = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$/.exec(`${date}${time}`);
  if (!digits) return undefined;
  const [y, mo, d, h, mi, s] = digits.slice(1).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const at = new Date(Date.UTC(y, mo - 1, d, h, mi, s));
  const exact =
    at.getUTCFullYear() === y &&
    at.getUTCMonth() === mo - 1 &&
    at.getUTCDate() === d &&
    at.getUTCHours() === h &&
    at.getUTCMinutes() === mi &&
    at.getUTCSeconds() === s;
  return exact ? at : undefined;
}
