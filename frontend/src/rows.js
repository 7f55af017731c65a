// One line of the queue (channel, author, preview, age, SLA countdown, assignee, who is looking),
// the header over comments of one post, and the small badges the ticket pane shares.
import { Avatar, ChannelIcon } from "./icons.js";
import { html } from "./html.js";
import { formatTime, relativeAge, shortDuration, t } from "./i18n.js";
import { peopleOn } from "./presence.js";
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
  return html`
    <button type="button" class=${classes.filter(Boolean).join(" ")} data-testid="group-header"
      data-post-id=${entry.postId} role="option" aria-selected=${cursor ? "true" : "false"}
      data-checked=${checked ? "true" : "false"} onClick=${(event) => onPick(entry, event)}>
      <span class="row-check" aria-hidden="true">${checked ? "✓" : ""}</span>
      <${ChannelIcon} channel=${state.channels[entry.channelId]} />
      <span class="group-title">${t("group.post", { post: entry.postId })}</span>
      <span class="group-count">${t("group.count", { n: entry.ids.length })}</span>
    </button>
  `;
}
