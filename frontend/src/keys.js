// The keyboard: one table of every shortcut (the help overlay and the palette are built from it)
// and the listener that runs them. Single keys work outside text fields, when the person's
// shortcuts setting is on; Ctrl/⌘ combinations and Escape work everywhere.
import { closeOverlay, COMMANDS } from "./commands.js";
import { t } from "./i18n.js";
import { state } from "./store.js";
import { awayFromInbox } from "./switcher.js";

export const SECTIONS = ["move", "triage", "write", "moderate", "crisis", "other"];
const DIGITS = ["1", "2", "3", "4", "5", "6", "7", "8", "9"];

// `bulk`: applies to every ticket selected with x (hide, delete and reply: to a selected group of
// near-duplicates). `anywhere`: also inside text fields. `range`: shown as "first–last".
export const SHORTCUTS = [
  { id: "next", keys: ["j"], section: "move" },
  { id: "prev", keys: ["k"], section: "move" },
  { id: "open", keys: ["Enter", "o"], section: "move" },
  { id: "back", keys: ["Escape", "u"], section: "move" },
  { id: "itemNext", keys: ["]"], section: "move" },
  { id: "itemPrev", keys: ["["], section: "move" },
  { id: "search", keys: ["/"], section: "move" },
  { id: "take", keys: ["a"], section: "triage", bulk: true },
  { id: "assign", keys: ["Shift+A"], section: "triage", bulk: true },
  { id: "close", keys: ["e"], section: "triage", bulk: true },
  { id: "snooze", keys: ["s"], section: "triage", bulk: true },
  { id: "tag", keys: ["l"], section: "triage", bulk: true },
  { id: "priority", keys: ["p"], section: "triage", bulk: true },
  { id: "select", keys: ["x"], section: "triage" },
  { id: "sentiment", keys: ["Shift+S"], section: "triage" },
  { id: "reply", keys: ["r"], section: "write", bulk: true },
  { id: "note", keys: ["n"], section: "write" },
  { id: "canned", keys: ["c"], section: "write" },
  { id: "send", keys: ["Ctrl+Enter", "Meta+Enter"], section: "write", anywhere: true },
  { id: "hide", keys: ["h"], section: "moderate", bulk: true },
  { id: "delete", keys: ["#"], section: "moderate", bulk: true },
  { id: "like", keys: ["f"], section: "moderate" },
  { id: "undo", keys: ["z"], section: "moderate" },
  { id: "incident", keys: ["i"], section: "crisis" },
  { id: "holding", keys: DIGITS, section: "crisis", range: true },
  { id: "approvals", keys: ["v"], section: "crisis" },
  { id: "help", keys: ["?"], section: "other" },
  { id: "palette", keys: ["Ctrl+K", "Meta+K"], section: "other", anywhere: true },
];

const BY_COMBO = new Map(SHORTCUTS.flatMap((entry) => entry.keys.map((key) => [key, entry])));

/** The table's name for a key press: "j", "Shift+A", "#", "Ctrl+K", "Escape"… */
export function comboOf(event) {
  const { key } = event;
  if (!key || key === "Dead" || ["Shift", "Control", "Alt", "Meta"].includes(key)) return null;
  // AltGr arrives as Ctrl+Alt: it types a character ("#" on a French keyboard), not a command.
  const altGr = event.ctrlKey && event.altKey;
  if (event.altKey && !altGr) return null;
  const mod = event.metaKey ? "Meta+" : event.ctrlKey && !altGr ? "Ctrl+" : "";
  if (key.length === 1) {
    if (/\p{L}/u.test(key)) {
      const upper = key.toUpperCase();
      if (mod) return mod + upper;
      return event.shiftKey ? `Shift+${upper}` : key.toLowerCase();
    }
    return mod + key; // symbols: Shift is how they are typed, not part of the shortcut
  }
  return mod + (event.shiftKey ? "Shift+" : "") + key;
}

function inField(target) {
  return (
    !!target &&
    (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName))
  );
}

function pressesControl(target) {
  const control = target.closest && target.closest("button, a, summary");
  return !!control && !control.matches(".ticket-row, .group-head");
}

function shortcutsOn() {
  return !state.user || state.user.shortcuts !== false;
}

function onEscape(event, field) {
  if (state.overlay) closeOverlay();
  else if (field) event.target.blur();
  else COMMANDS.back();
  event.preventDefault();
}

/** Run the shortcut a key press stands for, if it is one here and now. */
export function onKeyDown(event) {
  if (event.defaultPrevented || event.isComposing || !state.user) return;
  const combo = comboOf(event);
  const shortcut = combo && BY_COMBO.get(combo);
  if (!shortcut) return;
  const field = inField(event.target);
  if (combo === "Escape") return onEscape(event, field);
  if (shortcut.id !== "palette") {
    if (state.overlay) {
      if (state.overlay.type === "help" && shortcut.id === "help") COMMANDS.help();
      return; // an open dialog has the keyboard
    }
    if (awayFromInbox(state)) return;
    if (field && !shortcut.anywhere) return;
    if (!shortcut.anywhere && !shortcutsOn()) return;
    // Enter on a focused button or link presses it, as everywhere else; on a queue row (focused
    // by a click) it opens the row under the keyboard cursor, which may have moved since.
    if (combo === "Enter" && pressesControl(event.target)) return;
  }
  event.preventDefault();
  COMMANDS[shortcut.id](combo);
}

export function listenToKeys() {
  window.addEventListener("keydown", onKeyDown);
}

const IS_MAC = /Mac|iPhone|iPad/.test(navigator.platform || "");

/**
 * The keys of a shortcut as shown, e.g. [["Ctrl", "K"], ["⌘", "K"]]; `mine` keeps only the
 * combination of this person's system.
 */
export function keyCaps(shortcut, { mine = false } = {}) {
  const other = IS_MAC ? "Ctrl+" : "Meta+";
  if (shortcut.range) return [[`${shortcut.keys[0]}–${shortcut.keys[shortcut.keys.length - 1]}`]];
  const keys = mine ? shortcut.keys.filter((key) => !key.startsWith(other)) : shortcut.keys;
  return keys.map((key) =>
    key.split(/\+(?=.)/).map((part) => {
      const name = { Ctrl: "ctrl", Meta: "meta", Shift: "shift", Enter: "enter", Escape: "escape" }[
        part
      ];
      return name ? t(`key.${name}`) : part;
    }),
  );
}

/** A shortcut's keys as one short text ("Ctrl+K"), for hints. */
export function keyHint(id) {
  const shortcut = SHORTCUTS.find((entry) => entry.id === id);
  return shortcut ? keyCaps(shortcut, { mine: true }).map((caps) => caps.join("+")).join(" / ") : "";
}
