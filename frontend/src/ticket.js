// The open ticket: its header (channel, author, status, priority, SLA, sentiment, language, group,
// incident, tags, assignee, who else is here) with its actions, the timeline, and the reply box.
import { COMMANDS } from "./commands.js";
import { Composer } from "./composer.js";
import { ContactHistory, PostContext } from "./context.js";
import { ChannelIcon } from "./icons.js";
import { html } from "./html.js";
import { formatTime, t } from "./i18n.js";
import { canLeadCrisis, incidentOf, openIncident } from "./incidents.js";
import { keyHint } from "./keys.js";
import { peopleOn } from "./presence.js";
import { ClusterMark, PriorityBadge, SlaBadge, Viewers } from "./rows.js";
import { LanguageTag, SentimentChip } from "./sentiment.js";
import { personName } from "./store.js";
import { Timeline } from "./timeline.js";

function ActionButton({ id, label, testid }) {
  const hint = keyHint(id);
  return html`<button type="button" data-testid=${testid} title=${`${label} (${hint})`}
    onClick=${COMMANDS[id]}>${label} <kbd>${hint}</kbd></button>`;
}

/** "Bea is looking", "Bea is typing…": the teammates on this ticket right now. */
function Presence({ ticketId }) {
  const people = peopleOn(ticketId);
  if (!people.length) return null;
  return html`
    <div class="ticket-presence" data-testid="ticket-presence" role="status">
      <${Viewers} ticketId=${ticketId} testid="ticket-viewer" />
      ${people.map(
        (person) => html`<span key=${person.id} class=${`presence is-${person.state}`}
          data-state=${person.state}>${t(`presence.${person.state}`, { name: person.name })}</span>`,
      )}
    </div>
  `;
}

/** The ticket is part of an incident: a button to its panel, marked when in crisis mode. */
function IncidentLink({ detail }) {
  const incident = incidentOf(detail);
  if (!incident) return null;
  const label = t(incident.crisis ? "incident.markCrisis" : "incident.mark", { id: incident.id });
  return html`<button type="button" class=${incident.crisis ? "inc-link is-crisis" : "inc-link"}
    data-testid="ticket-incident" data-crisis=${incident.crisis ? "true" : "false"}
    onClick=${() => openIncident(incident.id)}>${label} <kbd>${keyHint("incident")}</kbd></button>`;
}

function Head({ detail, state }) {
  const assignee = personName(detail.assignee_id);
  const channel = state.channels[detail.channel_id];
  const mine = detail.assignee_id === state.user.id;
  return html`
    <header class="ticket-head">
      <div class="ticket-title">
        <${ChannelIcon} channel=${channel} />
        <span class=${`badge kind-${detail.kind}`}>${t(`kind.${detail.kind}`)}</span>
        <h2 data-testid="ticket-author">${detail.author_name}</h2>
        <span class=${`status is-${detail.status}`} data-testid="ticket-status">
          ${t(`status.${detail.status}`)}</span>
        <${PriorityBadge} priority=${detail.priority} always=${true} />
        <${SlaBadge} row=${detail} now=${state.now} />
        <${SentimentChip} sentiment=${detail.sentiment} testid="ticket-sentiment" />
        <${LanguageTag} language=${detail.language} />
        <${ClusterMark} size=${detail.cluster_size} testid="ticket-cluster" />
        <${IncidentLink} detail=${detail} />
      </div>
      <div class="ticket-meta">
        ${channel && html`<span>${channel.name}</span>`}
        <span data-testid="ticket-assignee">
          ${assignee ? t("ticket.assignee", { name: assignee }) : t("ticket.unassigned")}
        </span>
        ${detail.status === "snoozed" &&
        detail.snoozed_until &&
        html`<span>${t("ticket.snoozedUntil", { time: formatTime(detail.snoozed_until) })}</span>`}
        <span class="tags" data-testid="ticket-tags">
          ${detail.tags.map((tag) => html`<span class="tag" key=${tag}>${tag}</span>`)}
        </span>
      </div>
      <div class="ticket-actions">
        ${!mine && html`<${ActionButton} id="take" label=${t("ticket.take")} testid="take-ticket" />`}
        <${ActionButton} id="assign" label=${t("ticket.assign")} testid="assign-ticket" />
        <${ActionButton} id="tag" label=${t("ticket.tag")} testid="tag-ticket" />
        <${ActionButton} id="priority" label=${t("ticket.priority")} testid="priority-ticket" />
        <${ActionButton} id="snooze" label=${t("ticket.snooze")} testid="snooze-ticket" />
        ${detail.status !== "closed"
          ? html`<${ActionButton} id="close" label=${t("ticket.close")} testid="close-ticket" />`
          : html`<${ActionButton} id="close" label=${t("ticket.reopen")} testid="reopen-ticket" />`}
      </div>
      <${Presence} ticketId=${detail.id} />
    </header>
  `;
}

export function TicketPane({ state }) {
  const { detail } = state;
  if (!state.selectedId || (!detail && !state.detailError)) {
    const text = state.selectedId ? t("app.loading") : t("ticket.none");
    return html`<section class="ticket-pane is-empty"><p>${text}</p>
      ${!state.selectedId && html`<p class="hint">${t("ticket.noneKeys")}</p>`}</section>`;
  }
  if (!detail) {
    return html`<section class="ticket-pane is-empty">
      <p class="form-error" role="alert">${state.detailError}</p></section>`;
  }
  const collision = state.collision && state.collision.ticketId === detail.id ? state.collision : null;
  return html`
    <section class="ticket-pane" data-testid="ticket-pane" data-ticket-id=${detail.id}>
      <${Head} detail=${detail} state=${state} />
      ${state.actionError &&
      html`<p class="form-error banner" role="alert" data-testid="action-error">
        ${state.actionError}</p>`}
      <${PostContext} detail=${detail} />
      <${ContactHistory} key=${`h${detail.contact_id}`} detail=${detail} />
      <${Timeline} detail=${detail} />
      <${Composer} key=${detail.id} ticketId=${detail.id} sending=${state.sending}
        error=${state.replyError} collision=${collision} onCanned=${COMMANDS.canned}
        incident=${incidentOf(detail)} agent=${!canLeadCrisis(state.user)} />
    </section>
  `;
}
