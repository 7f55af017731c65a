// What the person can do: sign in and out, page the list, open, reply to, take and close tickets.
import { api, setCsrf } from "./api.js";
import { errorText, setLocale } from "./i18n.js";
import { connectLive } from "./live.js";
import { initialState, mergeRows, state, update } from "./store.js";

const LIST_QUERY = "status=open&status=pending&limit=50";
let live = null;
let detailLoading = false;
let detailAgain = false;

/** Start the page: ask who we are, then show the inbox or the sign-in form. */
export async function boot() {
  try {
    const session = await api.get("/api/session");
    setCsrf(session.csrf_token);
    if (session.user) return enter(session.user);
  } catch (err) {
    update({ loginError: errorText(err) });
  }
  update({ booting: false });
}

export async function signIn(email, password) {
  update({ signingIn: true, loginError: null });
  try {
    const session = await api.post("/api/session", { email, password });
    setCsrf(session.csrf_token);
    await enter(session.user);
  } catch (err) {
    update({ loginError: errorText(err) });
  } finally {
    update({ signingIn: false });
  }
}

async function enter(user) {
  setLocale(user.locale, user.timezone);
  update({ user, booting: false, loginError: null });
  live = connectLive({
    onEvents: applyEvents,
    onResync: loadFirstPage,
    onStatus: (online) => update({ online }),
  });
  // Shown at once; the socket's first connect loads it again, covering changes made in between.
  loadFirstPage();
  try {
    const [users, channels] = await Promise.all([api.get("/api/users"), api.get("/api/channels")]);
    update({ users: byId(users), channels: byId(channels) });
  } catch (err) {
    fail(err, "listError");
  }
}

export async function signOut() {
  try {
    await api.delete("/api/session");
  } catch {
    // signed out already, or the server is away: either way, forget the session here
  }
  await signedOut();
}

async function signedOut() {
  if (live) live.close();
  live = null;
  Object.assign(state, initialState(), { booting: false });
  setLocale(navigator.language);
  update();
  try {
    setCsrf((await api.get("/api/session")).csrf_token);
  } catch (err) {
    update({ loginError: errorText(err) });
  }
}

function fail(err, field) {
  if (err.status === 401) return signedOut();
  update({ [field]: errorText(err) });
}

function byId(list) {
  return Object.fromEntries(list.map((entry) => [entry.id, entry]));
}

/** Load the first page of the list afresh (at start, and after a long disconnection). */
export async function loadFirstPage() {
  try {
    const page = await api.get("/api/tickets", LIST_QUERY);
    state.rows = new Map();
    mergeRows(page.tickets);
    update({ nextCursor: page.next_cursor, listError: null });
  } catch (err) {
    fail(err, "listError");
  }
}

export async function loadMore() {
  if (!state.nextCursor || state.loadingMore) return;
  update({ loadingMore: true });
  try {
    const query = `${LIST_QUERY}&cursor=${encodeURIComponent(state.nextCursor)}`;
    const page = await api.get("/api/tickets", query);
    mergeRows(page.tickets);
    update({ nextCursor: page.next_cursor, listError: null });
  } catch (err) {
    fail(err, "listError");
  } finally {
    update({ loadingMore: false });
  }
}

/** Apply a live (or caught-up) batch of events and the rows they changed. */
function applyEvents({ events, tickets }) {
  mergeRows(Object.values(tickets), { flash: true });
  for (const event of events) {
    if (event.type === "channel_health" && state.channels[event.channel_id]) {
      const { health, error } = event.data;
      state.channels[event.channel_id] = {
        ...state.channels[event.channel_id],
        health,
        last_error: error,
      };
    }
  }
  if (state.selectedId && events.some((event) => event.ticket_id === state.selectedId)) {
    refreshDetail();
  }
  update();
}

export function openTicket(ticketId) {
  if (state.selectedId === ticketId) return;
  if (state.selectedId && live) live.unwatch(state.selectedId);
  update({
    selectedId: ticketId,
    detail: null,
    detailError: null,
    replyError: null,
    actionError: null,
  });
  if (live) live.watch(ticketId);
  refreshDetail();
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
    if (state.selectedId === ticketId) update({ detail, detailError: null });
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

/** Queue a public reply on the open ticket; resolve to true once the server has it. */
export async function sendReply(text) {
  if (!text.trim() || state.sending) return false;
  update({ sending: true, replyError: null });
  try {
    await api.post(`/api/tickets/${state.selectedId}/replies`, { text });
    refreshDetail();
    return true;
  } catch (err) {
    fail(err, "replyError");
    return false;
  } finally {
    update({ sending: false });
  }
}

export function takeTicket() {
  return triage(() => api.post(`/api/tickets/${state.selectedId}/take`));
}

export function closeTicket() {
  const body = { version: state.detail.version, status: "closed" };
  return triage(() => api.patch(`/api/tickets/${state.selectedId}`, body));
}

// A refused change (409) carries the ticket as it is now: show that, and say why.
async function triage(call) {
  update({ actionError: null });
  try {
    mergeRows([await call()]);
  } catch (err) {
    if (err.error && err.error.ticket) mergeRows([err.error.ticket]);
    fail(err, "actionError");
  }
}
