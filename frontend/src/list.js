// The queue's data: pages of the current view, switching views and filters, saved views, the
// entries shown (tickets, and headers over near-duplicates or comments of one post) and the cursor.
import { fail } from "./actions.js";
import { api } from "./api.js";
import { clearRows, mergeRows, state, update } from "./store.js";
import { emptyFilters, listQuery, sortOf, sortRows } from "./views.js";

export const ROW_HEIGHT = 78;
export const GROUP_HEIGHT = 34;
// Near-duplicates fold under a header from three listed: a pair reads better as two rows (each
// says "×2"), and two similar questions are often two people, not a raid.
const CLUSTER_MIN = 3;
let loadSeq = 0;
let memo = { key: null, entries: [] };

/** Load the first page of the current view afresh (at start, on a new view, after a long drop). */
export async function loadFirstPage() {
  const seq = ++loadSeq;
  update({ listLoading: true });
  try {
    const page = await api.get("/api/tickets", listQuery(state));
    if (seq !== loadSeq) return;
    const bulk = state.bulk;
    clearRows();
    mergeRows(page.tickets, { fromQuery: true });
    state.bulk = new Set([...bulk].filter((id) => state.rows.has(id)));
    update({ nextCursor: page.next_cursor, listError: null, listLoading: false });
  } catch (err) {
    if (seq !== loadSeq) return;
    update({ listLoading: false });
    fail(err, "listError");
  }
}

/** Load the next page (when the list is scrolled near its end). */
export async function loadMore() {
  if (!state.nextCursor || state.loadingMore || state.listLoading) return;
  const seq = loadSeq;
  update({ loadingMore: true });
  try {
    const page = await api.get("/api/tickets", listQuery(state, state.nextCursor));
    if (seq !== loadSeq) return;
    mergeRows(page.tickets, { fromQuery: true });
    update({ nextCursor: page.next_cursor, listError: null });
  } catch (err) {
    fail(err, "listError");
  } finally {
    update({ loadingMore: false });
  }
}

function reload(changes) {
  Object.assign(state, changes, { cursorKey: null, cursorAt: 0, nextCursor: null });
  clearRows();
  update();
  loadFirstPage();
}

export function showView(view) {
  reload({ view });
}

export function setFilter(key, value) {
  if (state.filters[key] === value) return;
  reload({ filters: { ...state.filters, [key]: value } });
}

/** The open tickets of one incident, in the person's team view, other filters cleared. */
export function showIncidentTickets(incidentId) {
  const view = state.user.teams && state.user.teams.length ? "team" : "all";
  reload({ view, filters: { ...emptyFilters(), incident: String(incidentId) } });
}

export function setSort(sort) {
  if (state.sort !== sort) reload({ sort });
}

export function setGrouped(grouped) {
  state.rowsVersion += 1;
  update({ grouped });
}

// ---- saved views (kept in this browser, per person) ------------------------------------

function savedKey() {
  return `inbox.savedViews.${state.user.id}`;
}

export function savedViews() {
  try {
    return JSON.parse(localStorage.getItem(savedKey()) || "[]");
  } catch {
    return [];
  }
}

export function saveView(name) {
  const entry = { name, view: state.view, filters: state.filters, sort: state.sort };
  const others = savedViews().filter((saved) => saved.name !== name);
  localStorage.setItem(savedKey(), JSON.stringify([...others, entry]));
  update();
}

export function forgetView(name) {
  const kept = savedViews().filter((saved) => saved.name !== name);
  localStorage.setItem(savedKey(), JSON.stringify(kept));
  update();
}

export function applySavedView(saved) {
  reload({
    view: saved.view,
    filters: { ...emptyFilters(), ...saved.filters },
    sort: saved.sort || "urgency",
  });
}

// ---- entries and the cursor -------------------------------------------------------------

function postKey(row) {
  return row.kind === "comment" && row.post_id ? `${row.channel_id}:${row.post_id}` : null;
}

/** The near-duplicate groups worth a header: enough listed, and not all under one post. */
function headedClusters(rows) {
  const posts = new Map(); // cluster id -> the post keys of its listed tickets
  for (const row of rows) {
    if (row.cluster_id == null) continue;
    if (!posts.has(row.cluster_id)) posts.set(row.cluster_id, []);
    posts.get(row.cluster_id).push(postKey(row));
  }
  const headed = new Set();
  for (const [id, keys] of posts) {
    const onePost = keys[0] !== null && keys.every((key) => key === keys[0]);
    if (keys.length >= CLUSTER_MIN && !onePost) headed.add(id);
  }
  return headed;
}

/**
 * Rows under headers: near-duplicates of one group together (when three or more are listed,
 * across posts or threads), else comments of one post together. A group sits where its most
 * urgent ticket would.
 */
function groupRows(rows) {
  const headed = headedClusters(rows);
  const keyOf = (row) => (headed.has(row.cluster_id) ? `c:${row.cluster_id}` : postKey(row));
  const members = new Map();
  for (const row of rows) {
    const key = keyOf(row);
    if (key) members.set(key, [...(members.get(key) || []), row]);
  }
  const entries = [];
  const placed = new Set();
  for (const row of rows) {
    const key = keyOf(row);
    const group = key && members.get(key);
    if (!group || group.length < 2) {
      entries.push({ type: "row", key: `t:${row.id}`, id: row.id, height: ROW_HEIGHT });
    } else if (!placed.has(key)) {
      placed.add(key);
      const ids = group.map((member) => member.id);
      const cluster = key.startsWith("c:");
      entries.push({
        type: "group",
        key: `g:${key}`,
        postId: cluster ? null : row.post_id,
        clusterId: cluster ? row.cluster_id : null,
        channelId: row.channel_id,
        ids,
        height: GROUP_HEIGHT,
      });
      for (const id of ids) {
        entries.push({ type: "row", key: `t:${id}`, id, grouped: true, height: ROW_HEIGHT });
      }
    }
  }
  return entries;
}

/** What the queue shows, in order: ticket rows and post headers. */
export function listEntries() {
  const sort = sortOf(state);
  const pinned = state.pinned;
  const key = `${state.rowsVersion}|${sort}|${state.grouped}|${pinned ? pinned.id : ""}`;
  if (memo.key !== key) {
    const placeOf = (row) => (pinned && pinned.id === row.id ? pinned.row : row);
    const rows = sortRows([...state.rows.values()], sort, placeOf);
    const entries = state.grouped
      ? groupRows(rows)
      : rows.map((row) => ({ type: "row", key: `t:${row.id}`, id: row.id, height: ROW_HEIGHT }));
    memo = { key, entries };
  }
  return memo.entries;
}

/**
 * Where the cursor is. When its ticket left the list (closed, taken by someone), the entry that
 * took its place gets the cursor, as in a mail client.
 */
export function cursorIndex() {
  const entries = listEntries();
  if (!entries.length) return -1;
  let index = state.cursorKey ? entries.findIndex((entry) => entry.key === state.cursorKey) : -1;
  if (index < 0) index = Math.min(state.cursorAt, entries.length - 1);
  state.cursorKey = entries[index].key;
  state.cursorAt = index;
  return index;
}

export function cursorEntry() {
  const index = cursorIndex();
  return index < 0 ? null : listEntries()[index];
}

/** The ticket under the cursor (a post header stands for its first comment). */
export function cursorTicketId() {
  const entry = cursorEntry();
  if (!entry) return null;
  return entry.type === "group" ? entry.ids[0] : entry.id;
}

/** Move the cursor; `rowsOnly` skips post headers (while reading tickets one after another). */
export function moveCursor(delta, { rowsOnly = false } = {}) {
  const entries = listEntries();
  let index = cursorIndex();
  if (index < 0) return null;
  do index += delta;
  while (rowsOnly && entries[index] && entries[index].type !== "row");
  if (!entries[index]) return null;
  update({ cursorKey: entries[index].key, cursorAt: index });
  if (index >= entries.length - 5) loadMore();
  return entries[index];
}

/** Toggle tickets in the bulk selection (all of them off when all were on). */
export function toggleBulk(ids) {
  const bulk = new Set(state.bulk);
  const allIn = ids.every((id) => bulk.has(id));
  for (const id of ids) {
    if (allIn) bulk.delete(id);
    else bulk.add(id);
  }
  update({ bulk });
}

/** The ticket to go on to once this one leaves the list: the next row, else the previous. */
export function neighbourOf(ticketId) {
  const entries = listEntries().filter((entry) => entry.type === "row");
  const at = entries.findIndex((entry) => entry.id === ticketId);
  if (at < 0) return null;
  const next = entries[at + 1] || entries[at - 1];
  return next ? next.id : null;
}
