// Wall-clock time in the user's timezone: what "tomorrow at 9:00" means for them, as an instant.

const WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const formats = new Map();

function formatFor(timeZone) {
  if (!formats.has(timeZone)) {
    let format;
    const options = {
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
      weekday: "short",
    };
    try {
      format = new Intl.DateTimeFormat("en-US", { ...options, timeZone });
    } catch {
      format = new Intl.DateTimeFormat("en-US", options); // an unknown zone: the browser's own
    }
    formats.set(timeZone, format);
  }
  return formats.get(timeZone);
}

/** The calendar date, time and weekday (0 = Monday) an instant shows in a timezone. */
export function wallParts(ms, timeZone) {
  const parts = {};
  for (const part of formatFor(timeZone).formatToParts(new Date(ms))) parts[part.type] = part.value;
  return {
    year: Number(parts.year),
    month: Number(parts.month),
    day: Number(parts.day),
    hour: Number(parts.hour) % 24,
    minute: Number(parts.minute),
    second: Number(parts.second),
    weekday: WEEKDAYS.indexOf(parts.weekday),
  };
}

/** The instant at which the clocks of `timeZone` show this date and time. */
export function zonedInstant({ year, month, day, hour = 0, minute = 0 }, timeZone) {
  const wanted = Date.UTC(year, month - 1, day, hour, minute);
  let guess = wanted;
  // Two corrections settle any offset, daylight-saving changes included.
  for (let round = 0; round < 3; round++) {
    const p = wallParts(guess, timeZone);
    const shown = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second);
    if (shown === wanted) break;
    guess += wanted - shown;
  }
  return guess;
}

/** The date `days` after a calendar date. */
export function addDays({ year, month, day }, days) {
  const date = new Date(Date.UTC(year, month - 1, day + days));
  return { year: date.getUTCFullYear(), month: date.getUTCMonth() + 1, day: date.getUTCDate() };
}

/** When the snooze choices end: in an hour, tomorrow 9:00, next Monday 9:00 (user's zone). */
export function snoozeTimes(now, timeZone) {
  const today = wallParts(now, timeZone);
  const nextMonday = addDays(today, 7 - today.weekday);
  return {
    hour: now + 3_600_000,
    tomorrow: zonedInstant({ ...addDays(today, 1), hour: 9 }, timeZone),
    monday: zonedInstant({ ...nextMonday, hour: 9 }, timeZone),
  };
}

/** Read a `datetime-local` value ("2026-03-02T14:30") as a time in the user's zone. */
export function parseLocalInput(value, timeZone) {
  const match = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/.exec(value || "");
  if (!match) return null;
  const [year, month, day, hour, minute] = match.slice(1).map(Number);
  return zonedInstant({ year, month, day, hour, minute }, timeZone);
}

/** The `datetime-local` value showing an instant in the user's zone. */
export function localInputValue(ms, timeZone) {
  const p = wallParts(ms, timeZone);
  const two = (n) => String(n).padStart(2, "0");
  return `${p.year}-${two(p.month)}-${two(p.day)}T${two(p.hour)}:${two(p.minute)}`;
}
