// The page's state in one object: changed through `update`, which schedules one re-render.
import { emptyFilters, rowMatches } from "./views.js";

const FLASH_MS = 1600;
const listeners = new Set();
let scheduled = false;

export const state = initialState();

export function initialState() {
  return {
    booting: true,
    user: null,
    loginError: null,
    signingIn: false,
    online: false,
    users: {},
    channels: {},
    // the queue: the current view's tickets by id, in pages; `rowsVersion` moves on any change
    view: "team",
    filters: emptyFilters(),
    sort: "urgency",
    grouped: true,
    rows: new Map(),
    rowsVersion: 0,
    nextCursor: null,
    listLoading: false,
    loadingMore: false,
    listError: null,
    flashing: new Set(),
    knownTags: new Set(),
    cursorKey: null, // the keyboard cursor in the queue: "t:<ticket id>" or "g:<post>"
    cursorAt: 0,
    bulk: new Set(), // tickets selected with `x`
    // the open ticket
    selectedId: null,
    pinned: null, // {id, row}: the open ticket keeps its place while the person works on it
    detail: null,
    detailError: null,
    itemId: null, // the inbound message that h, # and f act on (default: the latest)
    canned: { ticketId: null, list: [] },
    sending: false,
    replyError: null,
    collision: null, // {ticketId, text, items}: a teammate replied while this one was written
    actionError: null,
    // around
    overlay: null, // {type: "help" | "palette" | "snooze" | "tags" | "priority" | "assign"…}
    toasts: [],
    presence: new Map(), // ticket id -> Map(user id -> {name, state, at})
    // bad buzz and crisis mode
    incidents: new Map(), // incident id -> incident (open ones, and any looked at)
    incidentsSeen: new Set(), // incidents whose banner this person set aside
    approvals: null, // replies waiting for a manager (managers and admins), once loaded
    now: Date.now(),
  };
}

/** Change some state and re-render once, after the current task. */
export function update(changes = {}) {
  Object.assign(state, changes);
  if (scheduled) return;
  scheduled = true;
  queueMicrotask(() => {
    scheduled = false;
    for (const listener of listeners) listener(state);
  });
}

export function subscribe(listener) {
  listeners.add(listener);
  listener(state);
}

/** Start the list afresh (a new view, filter or sort). */
export function clearRows() {
  state.rows = new Map();
  state.bulk = new Set();
  state.rowsVersion += 1;
}

/**
 * Apply fresh ticket rows: newer versions win; rows that left the view leave the list. Rows
 * of a page the server chose for this view (`fromQuery`) belong to it by definition.
 */
export function mergeRows(rows, { flash = false, fromQuery = false } = {}) {
  for (const row of rows) {
    const known = state.rows.get(row.id);
    if (known && known.version > row.version) continue;
    for (const tag of row.tags || []) state.knownTags.add(tag);
    // The open ticket stays listed while it is worked on (taken in "unassigned", say).
    const beingRead = !!known && state.selectedId === row.id;
    const belongs = fromQuery || beingRead || rowMatches(row, state, !!known);
    // The person's own changes do not move the open ticket; a new message from outside does.
    const pin = state.pinned;
    if (pin && pin.id === row.id && pin.row.last_inbound_at !== row.last_inbound_at) pin.row = row;
    if (belongs) state.rows.set(row.id, row);
    else {
      state.rows.delete(row.id);
      state.bulk.delete(row.id);
    }
    if (state.detail && state.detail.id === row.id && row.version >= state.detail.version) {
      state.detail = { ...state.detail, ...row };
    }
    if (flash && belongs) highlight(row.id);
  }
  state.rowsVersion += 1;
  update();
}

/** A ticket no longer open goes if it no longer belongs to the view; the open one keeps its place. */
export function settleRows(previousId, openId) {
  const row = previousId != null && state.rows.get(previousId);
  if (row && !rowMatches(row, state, true)) {
    state.rows.delete(previousId);
    state.bulk.delete(previousId);
  }
  const listed = openId != null ? state.rows.get(openId) : null;
  state.pinned = listed ? { id: openId, row: listed } : null;
  state.rowsVersion += 1;
}

function highlight(ticketId) {
  state.flashing.add(ticketId);
  setTimeout(() => {
    state.flashing.delete(ticketId);
    update();
  }, FLASH_MS);
}

/** A ticket's freshest row, listed or open. */
export function rowOf(ticketId) {
  const listed = state.rows.get(ticketId);
  const open = state.detail && state.detail.id === ticketId ? state.detail : null;
  if (listed && open) return listed.version >= open.version ? listed : open;
  return listed || open || null;
}

/** The name to show for a user id. */
export function personName(userId) {
  if (userId == null) return null;
  const user = state.users[userId] || (state.user && state.user.id === userId ? state.user : null);
  return user ? user.name : `#${userId}`;
}
