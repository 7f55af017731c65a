// Signing in and out, and the live feed that keeps the list, the open ticket, presence, incidents
// and approvals fresh.
import { api, setCsrf } from "./api.js";
import { heardApproval, loadApprovals } from "./approvals.js";
import { clusterGrew } from "./clusters.js";
import { loadCanned, openTicket, refreshDetail } from "./detail.js";
import { errorText, setLocale, t } from "./i18n.js";
import { heardIncident, loadIncidents } from "./incidents.js";
import { connectLive, watchTicket } from "./live.js";
import { loadFirstPage } from "./list.js";
import { heard, repeatPresence, startPresence, stopPresence } from "./presence.js";
import { initialState, mergeRows, personName, state, update } from "./store.js";
import { moderationHeard } from "./switcher.js";
import { notify } from "./toasts.js";

let live = null;

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
  const view = user.teams && user.teams.length ? "team" : "all";
  update({ user, view, booting: false, loginError: null });
  live = connectLive({
    onEvents: applyEvents,
    onResync: async () => {
      await loadFirstPage();
      // after the queue, which a person waits for; also what a long drop may have missed
      loadIncidents();
      loadApprovals();
    },
    onStatus: (online) => update({ online }),
    onPresence: heard,
    onConnect: () => {
      // rooms do not survive a reconnection: join the open ticket's again, say we are there
      if (state.selectedId) watchTicket(state.selectedId);
      repeatPresence();
    },
  });
  startPresence();
  // Shown at once; the socket's first connect loads it again, covering changes made in between.
  loadFirstPage();
  loadCanned(null);
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
  stopPresence();
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

/** Show a failed request's reason in `field`; a lost session goes back to the sign-in form. */
export function fail(err, field) {
  if (err.status === 401) return signedOut();
  update({ [field]: errorText(err) });
}

function byId(list) {
  return Object.fromEntries(list.map((entry) => [entry.id, entry]));
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
    if (event.type === "mentioned" && state.user && event.data.user_id === state.user.id) {
      mentionedMe(event);
    }
    heardOther(event);
  }
  if (state.selectedId && events.some((event) => event.ticket_id === state.selectedId)) {
    refreshDetail();
  }
  moderationHeard(events);
  update();
}

/** The events of moderation automation, bad-buzz detection and crisis mode. */
function heardOther(event) {
  if (!state.user) return;
  if (/^incident_(opened|updated|resolved)$/.test(event.type)) heardIncident(event);
  else if (event.type === "cluster_grew") clusterGrew(event.data);
  else if (event.type === "rule_notify") ruleNotified(event);
  else if (/^reply_(needs_approval|approved|rejected)$/.test(event.type)) heardApproval(event);
}

/** A rule asked for the named teammates (everyone, when it names nobody) to look. */
function ruleNotified(event) {
  const named = event.data.user_ids || [];
  if (named.length && !named.includes(state.user.id)) return;
  notify(t("rule.toast", { rule: event.data.rule_name || "?" }), {
    ttl: 15_000,
    action: event.ticket_id && { label: t("mention.open"), run: () => openTicket(event.ticket_id) },
  });
}

function mentionedMe(event) {
  const name = personName(event.actor_id) || "?";
  notify(t("mention.toast", { name }), {
    ttl: 15_000,
    action: { label: t("mention.open"), run: () => openTicket(event.ticket_id) },
  });
}
