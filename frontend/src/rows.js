// One line of the queue (channel, author, preview, age, SLA countdown, assignee, who is looking),
// the header over a group (near-duplicates, or comments of one post), and the small badges the
// ticket pane shares (SLA, priority, near-duplicates, incident).
import { Avatar, ChannelIcon } from "./icons.js";
import { html } from "./html.js";
import { formatTime, relativeAge, shortDuration, t } from "./i18n.js";
import { peopleOn } from "./presence.js";
import { LanguageTag, SentimentChip } from "./sentiment.js";
import { personName } from "./store.js";
import { dueAt } from "./views.js";

const WARN_MS = 15 * 60_000;
const SHOWN_TAGS = 2;
const SHOWN_VIEWERS = 3;

/** The time left to answer (amber within 15 minutes of the due time, red once past). */
export function SlaBadge({ row, now }) {
  const due = row.status === "open" ? dueAt(row) : null;
  if (due == null) return null;
  const left = due - now;
  const level = left < 0 ? "breached" : left < WARN_MS ? "warning" : "ok";
  const text =
    left < 0
      ? t("sla.late", { d: shortDuration(-left) })
      : t("sla.left", { d: shortDuration(left) });
  return html`<span class=${`sla is-${level}`} data-testid="sla" data-level=${level}
    title=${t("sla.due", { time: formatTime(new Date(due).toISOString()) })}>${text}</span>`;
}

export function PriorityBadge({ priority, always = false }) {
  if (!priority || (!always && (priority === "normal" || priority === "low"))) return null;
  return html`<span class=${`prio is-${priority}`} data-testid="priority"
    data-priority=${priority}>${t(`priority.${priority}`)}</span>`;
}

/** Teammates looking at a ticket (typing ones marked), as avatars. */
export function Viewers({ ticketId, testid = "row-viewer" }) {
  const people = peopleOn(ticketId);
  if (!people.length) return null;
  return html`
    <span class="viewers">
      ${people.slice(0, SHOWN_VIEWERS).map(
        (person) => html`<${Avatar} key=${person.id} id=${person.id} name=${person.name}
          state=${person.state} testid=${testid}
          title=${t(`presence.${person.state}`, { name: person.name })} />`,
      )}
    </span>
  `;
}

/** "×5": the ticket is one of a group of near-identical messages. */
export function ClusterMark({ size, testid = "row-cluster" }) {
  if (!(size > 1)) return null;
  const label = t("cluster.label", { n: size });
  return html`<span class="dup" role="img" aria-label=${label} title=${label} data-testid=${testid}
    data-size=${size}>×${size}</span>`;
}

/** The ticket belongs to an incident (a bad buzz), in crisis mode or not. */
export function IncidentMark({ incidentId, state, testid = "row-incident" }) {
  if (incidentId == null) return null;
  const incident = state.incidents.get(incidentId);
  const crisis = !!(incident && incident.crisis);
  const label = t(crisis ? "incident.markCrisis" : "incident.mark", { id: incidentId });
  const word = t(crisis ? "incident.tagCrisis" : "incident.tag");
  return html`<span class=${crisis ? "inc-mark is-crisis" : "inc-mark"} role="img"
    aria-label=${label} title=${label} data-testid=${testid} data-incident-id=${incidentId}
    data-crisis=${crisis ? "true" : "false"}>${word}</span>`;
}

export function TicketRow({ row, state, cursor, open, checked, flashing, grouped, onPick }) {
  const assignee = row.assignee_id != null ? personName(row.assignee_id) : null;
  const classes = [
    "ticket-row",
    cursor && "is-cursor",
    open && "is-selected",
    checked && "is-checked",
    flashing && "is-flashing",
    grouped && "is-grouped",
  ];
  const since = row.last_inbound_at || row.last_activity_at;
  return html`
    <button type="button" class=${classes.filter(Boolean).join(" ")} data-testid="ticket-row"
      data-ticket-id=${row.id} role="option" aria-selected=${cursor ? "true" : "false"}
      aria-current=${open ? "true" : undefined} data-checked=${checked ? "true" : "false"}
      onClick=${(event) => onPick(row.id, event)}>
      <span class="row-line">
        <span class="row-check" aria-hidden="true">${checked ? "✓" : ""}</span>
        <${ChannelIcon} channel=${state.channels[row.channel_id]} />
        <span class="row-author">${row.author_name}</span>
        <${PriorityBadge} priority=${row.priority} />
        <${SlaBadge} row=${row} now=${state.now} />
        <time class="row-age" datetime=${since}>${relativeAge(since, state.now)}</time>
      </span>
      <span class="row-preview">${row.preview || row.subject}</span>
      <span class="row-line row-meta">
        <span class=${`badge kind-${row.kind}`}>${t(`kind.${row.kind}`)}</span>
        <${IncidentMark} incidentId=${row.incident_id} state=${state} />
        <${SentimentChip} sentiment=${row.sentiment} compact=${true} />
        <${ClusterMark} size=${row.cluster_size} />
        <${LanguageTag} language=${row.language} />
        ${row.status !== "open" && html`<span class="status">${t(`status.${row.status}`)}</span>`}
        <span class="row-count">${t("list.items", { n: row.item_count })}</span>
        ${(row.tags || [])
          .slice(0, SHOWN_TAGS)
          .map((tag) => html`<span class="tag" data-testid="row-tag">${tag}</span>`)}
        <span class="spacer"></span>
        <${Viewers} ticketId=${row.id} />
        ${assignee
          ? html`<${Avatar} id=${row.assignee_id} name=${assignee} testid="row-assignee"
              title=${t("ticket.assignee", { name: assignee })} />`
          : html`<span class="row-assignee is-none">${t("list.unassigned")}</span>`}
      </span>
    </button>
  `;
}

export function GroupHeader({ entry, state, cursor, checked, onPick }) {
  const classes = ["group-head", cursor && "is-cursor", checked && "is-checked"];
  const cluster = entry.clusterId != null;
  const first = cluster ? state.rows.get(entry.ids[0]) : null;
  return html`
    <button type="button" class=${classes.filter(Boolean).join(" ")} data-testid="group-header"
      data-post-id=${entry.postId} data-cluster-id=${cluster ? entry.clusterId : undefined}
      role="option" aria-selected=${cursor ? "true" : "false"}
      data-checked=${checked ? "true" : "false"} onClick=${(event) => onPick(entry, event)}>
      <span class="row-check" aria-hidden="true">${checked ? "✓" : ""}</span>
      ${cluster
        ? html`<${ClusterMark} size=${Math.max(entry.ids.length, first?.cluster_size || 0)}
              testid="group-cluster" />
            <span class="group-title">${t("group.cluster", { text: first?.preview || "" })}</span>
            <span class="group-count">${t("group.listed", { n: entry.ids.length })}</span>`
        : html`<${ChannelIcon} channel=${state.channels[entry.channelId]} />
            <span class="group-title">${t("group.post", { post: entry.postId })}</span>
            <span class="group-count">${t("group.count", { n: entry.ids.length })}</span>`}
    </button>
  `;
}
