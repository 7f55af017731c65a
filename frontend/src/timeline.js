// The open ticket's story in time order: inbound messages (with their sentiment, correctable),
// our replies with their delivery, notes, and the events worth a line (assignments, moderation
// by hand or by rule, tags, snoozes, SLA warnings and breaches, approvals in crisis mode).
import { Component, createRef } from "/static/vendor/preact.js";
import { openOverlay } from "./commands.js";
import { chooseItem, targetItem } from "./detail.js";
import { html } from "./html.js";
import { formatTime, t } from "./i18n.js";
import { keyHint } from "./keys.js";
import { LanguageTag, SentimentChip } from "./sentiment.js";
import { personName, state } from "./store.js";

const MODERATION = /^moderation_(queued|sent|failed|cancelled)$/;
const SILENT = new Set([
  "ticket_created",
  "item_added",
  "note_added",
  "reply_queued",
  "reply_sent",
  "mentioned",
  "cluster_grew",
  "rule_notify", // its rule_applied line says it, and the named people get a toast
]);
const MENTION = /(@[\p{L}\p{N}._-]+)/u;

function safeUrl(url) {
  return /^https?:\/\//i.test(url || "") ? url : null;
}

/** What happened to each inbound message on the platform: {item id: {action, state, error}}. */
function moderationByItem(events) {
  const target = new Map(); // outbox id -> item id
  const found = {};
  for (const event of events) {
    const match = MODERATION.exec(event.type);
    if (!match) continue;
    const itemId = event.data.item_id ?? target.get(event.data.outbox_id);
    if (match[1] === "queued") target.set(event.data.outbox_id, itemId);
    if (itemId != null) {
      found[itemId] = { action: event.data.action, state: match[1], error: event.data.error };
    }
  }
  return found;
}

function Delivery({ item }) {
  if (!item.delivery) return null;
  const text =
    item.delivery === "failed"
      ? t("delivery.failed", { reason: item.delivery_error || t("error.generic") })
      : t(`delivery.${item.delivery}`);
  return html`<span class=${`delivery is-${item.delivery}`} data-testid="delivery"
    data-delivery=${item.delivery}>${text}</span>`;
}

function Moderation({ moderation }) {
  if (!moderation || moderation.state === "sent") return null;
  const action = t(`action.${moderation.action}`);
  return html`<span class=${`moderation is-${moderation.state}`} data-testid="moderation"
    data-state=${moderation.state}>
    ${t(`moderation.${moderation.state}`, { action, reason: moderation.error || "" })}</span>`;
}

/** A note's text with its @mentions marked (as text nodes: nothing is parsed as HTML). */
function withMentions(body) {
  return body
    .split(MENTION)
    .map((part, i) => (i % 2 ? html`<span class="mention">${part}</span>` : part));
}

/** An inbound message's sentiment and language, and the way to correct the sentiment. */
function Feeling({ item }) {
  const fix = (event) => {
    event.stopPropagation();
    chooseItem(item.id);
    openOverlay("sentiment", { itemId: item.id });
  };
  return html`<span class="entry-feeling">
    <${SentimentChip} sentiment=${item.sentiment} corrected=${item.sentiment_corrected}
      testid="item-sentiment" />
    <${LanguageTag} language=${item.language} />
    <button type="button" class="quiet small" data-testid="correct-sentiment" onClick=${fix}
      title=${`${t("shortcut.sentiment")} (${keyHint("sentiment")})`}>
      ${t(item.sentiment ? "sentiment.fix" : "sentiment.set")}</button>
  </span>`;
}

function Item({ item, chosen, moderation }) {
  const label = { note: t("item.note"), out: t("item.reply") }[item.direction];
  const flags = [item.hidden && t("item.hidden"), item.deleted && t("item.deleted")];
  const url = safeUrl(item.url);
  const classes = [
    "entry",
    `is-${item.direction}`,
    chosen && "is-chosen",
    item.hidden && "is-hidden",
    item.deleted && "is-deleted",
  ];
  const choose = item.direction === "in" ? () => chooseItem(item.id) : undefined;
  return html`
    <li class=${classes.filter(Boolean).join(" ")} data-testid="timeline-item"
      data-item-id=${item.id} data-direction=${item.direction} data-chosen=${chosen ? "true" : "false"}
      onClick=${choose}>
      <div class="entry-head">
        <span class="entry-author">${item.author_name}</span>
        ${label && html`<span class="entry-label">${label}</span>`}
        ${flags.filter(Boolean).map((flag) => html`<span class="entry-flag">${flag}</span>`)}
        <time datetime=${item.created_at}>${formatTime(item.created_at)}</time>
        ${item.direction === "in" && html`<${Feeling} item=${item} />`}
      </div>
      ${item.rating != null &&
      html`<div class="rating">${"★".repeat(item.rating)}${"☆".repeat(5 - item.rating)}</div>`}
      <p class="entry-body">${item.direction === "note" ? withMentions(item.body) : item.body}</p>
      <div class="entry-foot">
        <${Delivery} item=${item} />
        <${Moderation} moderation=${moderation} />
        ${item.edited_at && html`<span>${t("item.edited")}</span>`}
        ${url && html`<a href=${url} target="_blank" rel="noopener noreferrer">${t("item.open")}</a>`}
        ${chosen && html`<span class="hint">${t("item.keys")}</span>`}
      </div>
    </li>
  `;
}

/** "Masqué par la règle « Insultes »": what a moderation rule did, and which rule. */
function ruleText(data) {
  const rule = data.rule_name || `#${data.rule_id}`;
  if (data.skipped) return t("event.ruleSkipped", { rule, reason: data.skipped });
  const value = data.action === "priority" ? t(`priority.${data.value}`) : data.value;
  const key = `event.rule.${data.action}`;
  const text = t(key, { rule, value });
  return text === key ? t("event.rule", { rule, action: data.action }) : text;
}

function eventText(event) {
  const data = event.data || {};
  const moderation = MODERATION.exec(event.type);
  if (moderation) {
    const action = t(`action.${data.action}`);
    return t(`event.moderation_${moderation[1]}`, { action, reason: data.error || "" });
  }
  switch (event.type) {
    case "assigned": {
      const name = personName(data.assignee_id);
      if (data.taken) return t("event.taken", { name });
      return name ? t("event.assigned", { name }) : t("event.unassigned");
    }
    case "status_changed":
      return t("event.status", { status: t(`status.${data.status}`) });
    case "priority_changed":
      return t("event.priority", { priority: t(`priority.${data.priority}`) });
    case "tags_changed":
      return data.tags && data.tags.length
        ? t("event.tags", { tags: data.tags.join(", ") })
        : t("event.noTags");
    case "snoozed":
      return t("event.snoozed", { time: formatTime(data.until) });
    case "sla_warning":
    case "sla_breached":
      return t(`event.${event.type}`, {
        clock: t(`sla.clock.${data.clock}`),
        time: formatTime(data.due_at),
      });
    case "reply_failed":
      return t("event.reply_failed", { reason: data.error || "" });
    case "reply_cancelled":
      return t("event.reply_cancelled");
    case "rule_applied":
      return ruleText(data);
    case "reply_rejected":
      return t("event.reply_rejected", { reason: data.reason || "—" });
    case "sentiment_corrected":
      return t("event.sentiment_corrected", { word: t(`sentiment.${data.sentiment}`) });
    default: {
      const text = t(`event.${event.type}`);
      return text === `event.${event.type}` ? event.type : text;
    }
  }
}

function EventLine({ event }) {
  const taken = event.type === "assigned" && event.data && event.data.taken;
  const actor = event.actor_id != null && !taken ? personName(event.actor_id) : null;
  const level = event.type.startsWith("sla_") ? ` is-${event.type}` : "";
  return html`
    <li class=${`entry-event${level}`} data-testid="timeline-event" data-type=${event.type}>
      ${eventText(event)}${actor ? ` — ${actor}` : ""} · ${formatTime(event.created_at)}
    </li>
  `;
}

/** Items and the events worth a line, in time order (items keep the server's order on ties). */
function entries(detail) {
  const lines = [
    ...detail.items.map((item) => ({ at: Date.parse(item.created_at), item })),
    ...detail.events
      .filter((event) => !SILENT.has(event.type))
      .map((event) => ({ at: Date.parse(event.created_at), event })),
  ];
  return lines.sort((a, b) => a.at - b.at);
}

// A class for the scroll position: it follows new entries when the reader is at the bottom.
export class Timeline extends Component {
  list = createRef();

  componentDidMount() {
    this.scrollDown();
  }

  getSnapshotBeforeUpdate() {
    const el = this.list.current;
    return el ? el.scrollHeight - el.scrollTop - el.clientHeight < 40 : true;
  }

  componentDidUpdate(_props, _state, wasAtBottom) {
    if (wasAtBottom) this.scrollDown();
    const chosen = this.list.current && this.list.current.querySelector(".is-chosen");
    if (chosen && state.itemId) chosen.scrollIntoView({ block: "nearest" });
  }

  scrollDown() {
    const el = this.list.current;
    if (el) el.scrollTop = el.scrollHeight;
  }

  render({ detail }) {
    const chosen = targetItem();
    const moderation = moderationByItem(detail.events);
    return html`
      <ol class="timeline" ref=${this.list} data-testid="timeline">
        ${entries(detail).map(({ item, event }) =>
          item
            ? html`<${Item} key=${`i${item.id}`} item=${item} moderation=${moderation[item.id]}
                chosen=${chosen && chosen.id === item.id} />`
            : html`<${EventLine} key=${`e${event.id}`} event=${event} />`,
        )}
      </ol>
    `;
  }
}
