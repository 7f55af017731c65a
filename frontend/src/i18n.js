// The page's words in French and English, and dates shown in the user's language and timezone.
import en from "./strings-en.js";
import fr from "./strings-fr.js";

export const STRINGS = { fr, en };

let locale = pick(navigator.language);
let timeZone;

function pick(tag) {
  const base = String(tag || "")
    .toLowerCase()
    .split("-")[0];
  return base in STRINGS ? base : "fr";
}

/** Speak the user's language and show times in their timezone from now on. */
export function setLocale(tag, zone) {
  locale = pick(tag);
  timeZone = zone || undefined;
  document.documentElement.lang = locale;
}

export function currentLocale() {
  return locale;
}

/** Return the string for `key` with {placeholders} filled; `n` picks the plural form. */
export function t(key, vars = {}) {
  let text = STRINGS[locale][key] ?? STRINGS.en[key] ?? key;
  if (typeof text === "object") text = text[new Intl.PluralRules(locale).select(vars.n)] ?? text.other;
  return text.replace(/\{(\w+)\}/g, (_, name) => String(vars[name] ?? ""));
}

/** Say how long ago an ISO time was, the short way ("il y a 5 min"). */
export function relativeAge(iso, now = Date.now()) {
  const seconds = Math.round((Date.parse(iso) - now) / 1000);
  if (Math.abs(seconds) < 45) return t("age.now");
  const format = new Intl.RelativeTimeFormat(locale, { numeric: "auto", style: "short" });
  for (const [unit, size] of [
    ["day", 86400],
    ["hour", 3600],
    ["minute", 60],
  ]) {
    if (Math.abs(seconds) >= size || unit === "minute") {
      return format.format(Math.round(seconds / size), unit);
    }
  }
}

/** A span of time in a few characters: "12 min", "3 h 05", "2 j 4 h". */
export function shortDuration(ms) {
  const minutes = Math.max(1, Math.round(ms / 60_000));
  if (minutes < 60) return t("dur.minutes", { n: minutes });
  if (minutes < 24 * 60) {
    return t("dur.hours", { h: Math.floor(minutes / 60), m: String(minutes % 60).padStart(2, "0") });
  }
  const hours = Math.round(minutes / 60);
  return t("dur.days", { d: Math.floor(hours / 24), h: hours % 24 });
}

/** Show an ISO time as a date and time in the user's timezone. */
export function formatTime(iso) {
  const options = { dateStyle: "medium", timeStyle: "short" };
  try {
    return new Intl.DateTimeFormat(locale, { ...options, timeZone }).format(new Date(iso));
  } catch {
    return new Intl.DateTimeFormat(locale, options).format(new Date(iso));
  }
}

/** The words to show for a failed request. */
export function errorText(err) {
  if (err && err.code === "network") return t("error.network");
  return (err && err.message) || t("error.generic");
}
