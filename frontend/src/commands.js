// What each shortcut, palette entry and button does, by command id: one function each, so the
// keyboard, the palette and the mouse can never disagree.
import { openApprovals } from "./approvals.js";
import { groupAction, selectionCluster } from "./clusters.js";
import { focusComposer, sendFromComposer } from "./composer.js";
import { cannedFor, leaveTicket, openTicket, stepItem, targetItem } from "./detail.js";
import { t } from "./i18n.js";
import { incidentOf, openCurrentIncident } from "./incidents.js";
import { cursorEntry, cursorTicketId, moveCursor, neighbourOf, toggleBulk } from "./list.js";
import { moderate } from "./sending.js";
import { rowOf, state, update } from "./store.js";
import { notify, undoLast } from "./toasts.js";
import * as triage from "./triage.js";

/** The tickets an action applies to: the bulk selection, else the open one, else the cursor's. */
export function targets(bulk = true) {
  if (bulk && state.bulk.size) return [...state.bulk];
  const id = state.selectedId ?? cursorTicketId();
  return id ? [id] : [];
}

export function openOverlay(type, extra = {}) {
  update({ overlay: { type, ...extra } });
}

export function closeOverlay() {
  update({ overlay: null });
}

/** Run `action` with the target ticket open and loaded (opening it first if needed). */
function withTicket(action) {
  const [id] = targets(false);
  if (!id) return notify(t("keys.noTicket"));
  if (state.selectedId === id && state.detail) return action();
  openTicket(id, { then: action });
}

/** After a ticket leaves the queue (closed, snoozed), go on to the next one. */
export function moveOnFrom(ticketId) {
  const next = neighbourOf(ticketId);
  const reading = state.selectedId === ticketId;
  if (next != null) state.cursorKey = `t:${next}`;
  if (reading) {
    if (next != null) openTicket(next);
    else leaveTicket();
  }
  update();
}

function step(delta) {
  const reading = state.selectedId != null;
  const entry = moveCursor(delta, { rowsOnly: reading });
  if (entry && reading) openTicket(entry.id);
}

function openAtCursor() {
  const entry = cursorEntry();
  if (entry) openTicket(entry.type === "group" ? entry.ids[0] : entry.id);
}

function back() {
  if (state.collision) update({ collision: null });
  else if (state.selectedId) leaveTicket();
  else if (state.bulk.size) update({ bulk: new Set() });
}

function closeAndNext() {
  const ids = targets();
  if (!ids.length) return;
  const single = ids.length === 1 && state.bulk.size === 0;
  const closing = rowOf(ids[0]) && rowOf(ids[0]).status !== "closed";
  // move on at once: the server's answer (or refusal) arrives while the next one is read
  if (single && closing) moveOnFrom(ids[0]);
  triage.close(ids);
}

function toggleSelect() {
  const entry = cursorEntry();
  if (entry) toggleBulk(entry.type === "group" ? entry.ids : [entry.id]);
}

/**
 * With a bulk selection, hide, delete and reply apply to a whole group of near-duplicates (one
 * request for all); they cannot apply to unrelated tickets. Returns whether it was handled.
 */
function onSelectedGroup(action) {
  if (!state.bulk.size) return false;
  if (selectionCluster() == null) notify(t("group.notOne"));
  else groupAction(action);
  return true;
}

function compose(mode) {
  if (mode === "reply" && onSelectedGroup("reply")) return;
  withTicket(() => focusComposer(mode));
}

function moderateTarget(action) {
  if (action !== "like" && onSelectedGroup(action)) return;
  withTicket(() => {
    const item = targetItem();
    if (!item) return notify(t("keys.noItem"));
    if (action === "hide" && item.hidden) return moderate(item, "unhide");
    if (action === "delete") return openOverlay("confirm-delete", { itemId: item.id });
    moderate(item, action);
  });
}

function picker(type) {
  const ids = targets();
  if (!ids.length) return notify(t("keys.noTicket"));
  openOverlay(type, { ids });
}

function correctSentiment() {
  withTicket(() => {
    const item = targetItem();
    if (!item) return notify(t("keys.noItem"));
    openOverlay("sentiment", { itemId: item.id });
  });
}

/** A digit puts that holding reply of the open ticket's incident in its box; else a list. */
function holding(combo) {
  if (combo && !state.detail) return notify(t("holding.noIncident"));
  withTicket(() => {
    const incident = incidentOf(state.detail);
    const replies = (incident && incident.holding_replies) || [];
    if (!replies.length) return notify(t(incident ? "holding.none" : "holding.noIncident"));
    const index = /^[1-9]$/.test(combo || "") ? Number(combo) - 1 : null;
    if (index == null) return openOverlay("holding", { replies });
    if (replies[index]) focusComposer("reply", replies[index]);
  });
}

/** Put a canned reply, filled in for the target ticket, in its reply box. */
export function useCanned(cannedId) {
  withTicket(async () => {
    const list = await cannedFor(state.selectedId);
    const canned = list.find((entry) => entry.id === cannedId);
    if (canned) focusComposer("reply", canned.rendered || canned.body);
  });
}

export const COMMANDS = {
  next: () => step(1),
  prev: () => step(-1),
  open: openAtCursor,
  back,
  itemNext: () => stepItem(1),
  itemPrev: () => stepItem(-1),
  search: () => document.getElementById("queue-search")?.focus(),
  take: () => triage.take(targets()),
  assign: () => picker("assign"),
  close: closeAndNext,
  snooze: () => picker("snooze"),
  tag: () => picker("tags"),
  priority: () => picker("priority"),
  select: toggleSelect,
  reply: () => compose("reply"),
  note: () => compose("note"),
  canned: () => withTicket(() => openOverlay("canned")),
  send: sendFromComposer,
  hide: () => moderateTarget("hide"),
  delete: () => moderateTarget("delete"),
  like: () => moderateTarget("like"),
  sentiment: correctSentiment,
  undo: undoLast,
  incident: openCurrentIncident,
  holding,
  approvals: openApprovals,
  help: () => (state.overlay?.type === "help" ? closeOverlay() : openOverlay("help")),
  palette: () => (state.overlay?.type === "palette" ? closeOverlay() : openOverlay("palette")),
};
