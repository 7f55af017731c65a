// Bad-buzz incidents: the open ones kept live in `state.incidents`, the banner every CM sees the
// moment one opens, crisis mode and holding replies, and what the composer needs of them.
import { api } from "./api.js";
import { closeOverlay, openOverlay } from "./commands.js";
import { html } from "./html.js";
import { errorText, formatTime, t } from "./i18n.js";
import { keyHint } from "./keys.js";
import { showIncidentTickets } from "./list.js";
import { state, update } from "./store.js";
import { notify } from "./toasts.js";

const MANAGERS = new Set(["manager", "admin"]);
const RETRY_MS = 30_000;
const loading = new Set(); // incident ids being fetched
const failedAt = new Map(); // incident id -> when fetching it last failed

/** Whether this person may turn crisis mode on and off, edit holding replies and resolve. */
export function canLeadCrisis(user) {
  return !!user && MANAGERS.has(user.role);
}

function remember(incident) {
  const known = state.incidents.get(incident.id);
  state.incidents.set(incident.id, { ...known, ...incident });
  update({ incidents: new Map(state.incidents) });
}

/** Load the open incidents (at sign-in, and after a long drop). */
export async function loadIncidents() {
  try {
    const { incidents } = await api.get("/api/incidents", "status=open");
    for (const incident of incidents) remember(incident);
  } catch {
    // incidents are an extra: the inbox works without them, the next event brings them back
  }
}

/** Rows learn they joined an incident (the server tags tickets without pushing their rows). */
function markTickets(incident) {
  const ids = new Set(incident.tickets || []);
  let changed = false;
  for (const id of ids) {
    const row = state.rows.get(id);
    if (row && row.incident_id !== incident.id) {
      state.rows.set(id, { ...row, incident_id: incident.id });
      changed = true;
    }
  }
  if (state.detail && ids.has(state.detail.id) && state.detail.incident_id !== incident.id) {
    state.detail = { ...state.detail, incident_id: incident.id };
  }
  if (changed) state.rowsVersion += 1;
}

/** Fetch one incident with its per-minute timeline and ticket ids. */
export async function loadIncident(incidentId) {
  if (loading.has(incidentId)) return;
  loading.add(incidentId);
  try {
    const incident = await api.get(`/api/incidents/${incidentId}`);
    failedAt.delete(incidentId);
    markTickets(incident);
    remember(incident);
  } catch (err) {
    failedAt.set(incidentId, Date.now());
    if (state.overlay?.type === "incident" && state.overlay.id === incidentId) {
      notify(errorText(err), { kind: "error" });
    }
  } finally {
    loading.delete(incidentId);
  }
}

/** An incident opened, changed or was resolved: shown at once from the event, then fetched. */
export function heardIncident(event) {
  const { incident_id: id, scope, key, crisis } = event.data || {};
  if (id == null) return;
  const known = state.incidents.get(id);
  const status = event.type === "incident_resolved" ? "resolved" : "open";
  if (event.type === "incident_opened" && !known) {
    remember({ id, scope, key, crisis, status, channel_id: event.channel_id });
  } else if (known) {
    remember({ id, crisis, status });
  }
  loadIncident(id);
}

/** The incident a ticket belongs to, fetched the first time it is asked for. */
export function incidentOf(ticket) {
  if (!ticket || ticket.incident_id == null) return null;
  const incident = state.incidents.get(ticket.incident_id);
  const failed = failedAt.get(ticket.incident_id);
  const due = !failed || Date.now() - failed > RETRY_MS; // drawn often: do not ask in a loop
  if ((!incident || !incident.holding_replies) && due) loadIncident(ticket.incident_id);
  return incident || null;
}

/** Open incidents, the newest first. */
export function openIncidents() {
  return [...state.incidents.values()]
    .filter((incident) => incident.status === "open")
    .sort((a, b) => String(b.detected_at || "~").localeCompare(String(a.detected_at || "~")));
}

export function openIncident(incidentId) {
  openOverlay("incident", { id: incidentId });
  loadIncident(incidentId);
}

/** `i`: the open ticket's incident, else the newest open one. */
export function openCurrentIncident() {
  const ticket = state.detail;
  const id = ticket && ticket.incident_id != null ? ticket.incident_id : openIncidents()[0]?.id;
  if (id == null) return notify(t("incident.none"));
  openIncident(id);
}

export function dismissBanner(incidentId) {
  state.incidentsSeen.add(incidentId);
  update();
}

/** Filter the queue to an incident's tickets, leaving the panel. */
export function showTicketsOf(incidentId) {
  closeOverlay();
  showIncidentTickets(incidentId);
}

async function change(incidentId, request, doneKey) {
  try {
    remember(await request());
    if (doneKey) notify(t(doneKey), { kind: "ok" });
    return true;
  } catch (err) {
    notify(errorText(err), { kind: "error" });
    return false;
  }
}

export function setCrisis(incidentId, on) {
  const url = `/api/incidents/${incidentId}/crisis`;
  return change(incidentId, () => api.post(url, { on }), on ? "crisis.on" : "crisis.off");
}

export function saveHoldingReplies(incidentId, replies) {
  const body = { holding_replies: replies };
  const url = `/api/incidents/${incidentId}`;
  return change(incidentId, () => api.patch(url, body), "holding.saved");
}

export function resolveIncident(incidentId) {
  const body = { status: "resolved" };
  const url = `/api/incidents/${incidentId}`;
  return change(incidentId, () => api.patch(url, body), "incident.resolvedDone");
}

/** What spiked, in words: "la publication « 123 » (Page Facebook)", "le mot-clé « rappel »". */
export function incidentSubject(incident) {
  const channel = state.channels[incident.channel_id];
  if (incident.scope === "channel") {
    return t("incident.scope.channel", { key: channel ? channel.name : incident.key || "" });
  }
  const subject = t(`incident.scope.${incident.scope}`, { key: incident.key || "" });
  return channel ? t("incident.onChannel", { subject, channel: channel.name }) : subject;
}

/** "42 messages · 78 % négatifs (d'habitude 12 %)", from what is known so far. */
export function incidentFigures(incident) {
  const parts = [];
  if (incident.window_count != null) parts.push(t("incident.count", { n: incident.window_count }));
  if (incident.negative_share != null) {
    parts.push(
      t("incident.negative", {
        share: percent(incident.negative_share),
        usual: percent(incident.usual_negative_share || 0),
      }),
    );
  }
  return parts.join(" · ");
}

export function percent(share) {
  return `${Math.round((share || 0) * 100)} %`;
}

/** The banner over the page while an incident is open and this person has not set it aside. */
export function IncidentBanner({ state: current }) {
  const shown = openIncidents().filter((incident) => !current.incidentsSeen.has(incident.id));
  if (!shown.length) return null;
  const incident = shown[0];
  const detected = incident.detected_at;
  const since = detected && t("incident.since", { time: formatTime(detected) });
  const more = shown.length > 1 && t("incident.more", { n: shown.length - 1 });
  return html`
    <div class=${incident.crisis ? "incident-banner is-crisis" : "incident-banner"} role="status"
      data-testid="incident-banner" data-incident-id=${incident.id}>
      <span class="incident-sign" aria-hidden="true">▲</span>
      <span class="incident-what">
        <strong>${t(incident.crisis ? "incident.bannerCrisis" : "incident.banner")}</strong>
        ${" "}${incidentSubject(incident)}
      </span>
      <span class="incident-figures" data-testid="incident-figures">
        ${incidentFigures(incident)}</span>
      ${since && html`<span class="hint">${since}</span>`}
      ${more && html`<span class="hint">${more}</span>`}
      <span class="spacer"></span>
      <button type="button" class="primary small" data-testid="incident-open"
        onClick=${() => openIncident(incident.id)}>
        ${t("incident.open")} <kbd>${keyHint("incident")}</kbd></button>
      <button type="button" class="quiet small" data-testid="incident-dismiss"
        onClick=${() => dismissBanner(incident.id)}>${t("incident.dismiss")}</button>
    </div>
  `;
}
