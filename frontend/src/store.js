// The page's state in one object: changed through `update`, which schedules one re-render.

const LISTED = new Set(["open", "pending"]);
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
    rows: new Map(), // the listed tickets (open and pending), by id
    nextCursor: null,
    loadingMore: false,
    listError: null,
    flashing: new Set(),
    selectedId: null,
    detail: null,
    detailError: null,
    sending: false,
    replyError: null,
    actionError: null,
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

/** Apply fresh ticket rows: newer versions win, closed and snoozed ones leave the list. */
export function mergeRows(rows, { flash = false } = {}) {
  for (const row of rows) {
    const known = state.rows.get(row.id);
    if (known && known.version > row.version) continue;
    if (LISTED.has(row.status)) state.rows.set(row.id, row);
    else state.rows.delete(row.id);
    if (state.detail && state.detail.id === row.id && row.version >= state.detail.version) {
      state.detail = { ...state.detail, ...row };
    }
    if (flash && LISTED.has(row.status)) highlight(row.id);
  }
  update();
}

function highlight(ticketId) {
  state.flashing.add(ticketId);
  setTimeout(() => {
    state.flashing.delete(ticketId);
    update();
  }, FLASH_MS);
}

/** The listed tickets as the server orders them: latest activity first. */
export function sortedRows() {
  return [...state.rows.values()].sort(
    (a, b) => Date.parse(b.last_activity_at) - Date.parse(a.last_activity_at) || b.id - a.id,
  );
}

/** The name to show for an assignee id. */
export function personName(userId) {
  if (userId == null) return null;
  const user = state.users[userId] || (state.user && state.user.id === userId ? state.user : null);
  return user ? user.name : `#${userId}`;
}
