// The open ticket: opening and leaving it, reloading it, its canned replies, and the inbound
// message that hide, delete and like act on.
import { fail } from "./actions.js";
import { api } from "./api.js";
import { unwatchTicket, watchTicket } from "./live.js";
import { viewing } from "./presence.js";
import { settleRows, state, update } from "./store.js";

let detailLoading = false;
let detailAgain = false;
let waiting = []; // [{ticketId, run}]: actions asked for before the ticket had loaded
const cannedCache = new Map(); // ticket id (or "none") -> Promise of the rendered list

/** Open a ticket in the pane; `then` runs once its detail is loaded. */
export function openTicket(ticketId, { then } = {}) {
  if (then) waiting.push({ ticketId, run: then });
  state.cursorKey = `t:${ticketId}`;
  if (state.selectedId === ticketId) {
    if (state.detail) runWaiting();
    update();
    return;
  }
  const previous = state.selectedId;
  if (previous) unwatchTicket(previous);
  settleRows(previous, ticketId);
  update({
    selectedId: ticketId,
    detail: null,
    detailError: null,
    replyError: null,
    actionError: null,
    collision: null,
    itemId: null,
  });
  watchTicket(ticketId);
  viewing(ticketId);
  loadCanned(ticketId);
  refreshDetail();
}

/** Close the pane; the cursor stays on the ticket. */
export function leaveTicket() {
  if (!state.selectedId) return;
  const previous = state.selectedId;
  unwatchTicket(previous);
  viewing(null);
  waiting = [];
  state.selectedId = null;
  settleRows(previous, null);
  update({ selectedId: null, detail: null, detailError: null, collision: null, itemId: null });
}

function runWaiting() {
  const ready = waiting.filter((entry) => entry.ticketId === state.selectedId);
  waiting = waiting.filter((entry) => entry.ticketId !== state.selectedId);
  for (const entry of ready) entry.run();
}

/** Reload the open ticket; calls made while a load runs are folded into one more load. */
export async function refreshDetail() {
  if (detailLoading) {
    detailAgain = true;
    return;
  }
  const ticketId = state.selectedId;
  if (!ticketId) return;
  detailLoading = true;
  try {
    const detail = await api.get(`/api/tickets/${ticketId}`);
    if (state.selectedId === ticketId) {
      update({ detail, detailError: null });
      runWaiting();
    }
  } catch (err) {
    if (state.selectedId === ticketId) fail(err, "detailError");
  } finally {
    detailLoading = false;
    if (detailAgain) {
      detailAgain = false;
      refreshDetail();
    }
  }
}

/** The canned replies, rendered for a ticket (or as written, for none); cached per ticket. */
export function cannedFor(ticketId) {
  const key = ticketId ?? "none";
  if (!cannedCache.has(key)) {
    const query = ticketId ? `ticket_id=${ticketId}` : undefined;
    const loading = api.get("/api/canned-replies", query).catch(() => {
      cannedCache.delete(key); // try again next time
      return [];
    });
    cannedCache.set(key, loading);
  }
  return cannedCache.get(key);
}

export async function loadCanned(ticketId) {
  const list = await cannedFor(ticketId);
  if (state.selectedId === ticketId) update({ canned: { ticketId, list } });
}

export function forgetCanned() {
  cannedCache.clear();
}

// ---- the message h, # and f act on -----------------------------------------------------

function inbound(detail) {
  return detail ? detail.items.filter((item) => item.direction === "in") : [];
}

/** The chosen inbound message of the open ticket, else its latest one still on the platform. */
export function targetItem() {
  const items = inbound(state.detail);
  const chosen = items.find((item) => item.id === state.itemId);
  if (chosen) return chosen;
  const present = items.filter((item) => !item.deleted);
  return present[present.length - 1] || null;
}

export function chooseItem(itemId) {
  update({ itemId });
}

/** Move the choice to the next (1) or previous (-1) inbound message. */
export function stepItem(delta) {
  const items = inbound(state.detail);
  if (!items.length) return;
  const current = targetItem();
  const at = current ? items.indexOf(current) : items.length - 1;
  const next = items[Math.min(items.length - 1, Math.max(0, at + delta))];
  update({ itemId: next.id });
}
