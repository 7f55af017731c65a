// The open ticket: its header and actions, its timeline, and the reply box.
import { Component, createRef } from "/static/vendor/preact.js";
import { closeTicket, sendReply, takeTicket } from "./actions.js";
import { html } from "./html.js";
import { formatTime, t } from "./i18n.js";
import { personName } from "./store.js";

const SHOWN_EVENTS = new Set(["assigned", "status_changed", "ticket_reopened"]);

function safeUrl(url) {
  return /^https?:\/\//i.test(url || "") ? url : null;
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

function Item({ item }) {
  const label = { note: t("item.note"), out: t("item.reply") }[item.direction];
  const flags = [item.hidden && t("item.hidden"), item.deleted && t("item.deleted")];
  const url = safeUrl(item.url);
  return html`
    <li class=${`entry is-${item.direction}`} data-testid="timeline-item"
      data-direction=${item.direction}>
      <div class="entry-head">
        <span class="entry-author">${item.author_name}</span>
        ${label && html`<span class="entry-label">${label}</span>`}
        ${flags.filter(Boolean).map((flag) => html`<span class="entry-flag">${flag}</span>`)}
        <time datetime=${item.created_at}>${formatTime(item.created_at)}</time>
      </div>
      ${item.rating != null &&
      html`<div class="rating">${"★".repeat(item.rating)}${"☆".repeat(5 - item.rating)}</div>`}
      <p class="entry-body">${item.body}</p>
      <div class="entry-foot">
        <${Delivery} item=${item} />
        ${item.edited_at && html`<span>${t("item.edited")}</span>`}
        ${url && html`<a href=${url} target="_blank" rel="noopener noreferrer">${t("item.open")}</a>`}
      </div>
    </li>
  `;
}

function eventText(event) {
  if (event.type === "assigned") {
    const name = personName(event.data.assignee_id);
    return name ? t("event.assigned", { name }) : t("event.unassigned");
  }
  if (event.type === "status_changed") {
    return t("event.status", { status: t(`status.${event.data.status}`) });
  }
  return t("event.reopened");
}

/** Items and the few events worth a line, in time order (items keep the server's order on ties). */
function entries(detail) {
  const lines = [
    ...detail.items.map((item) => ({ at: Date.parse(item.created_at), item })),
    ...detail.events
      .filter((event) => SHOWN_EVENTS.has(event.type))
      .map((event) => ({ at: Date.parse(event.created_at), event })),
  ];
  return lines.sort((a, b) => a.at - b.at);
}

// A class for the scroll position: it follows new entries when the reader is at the bottom.
class Timeline extends Component {
  list = createRef();
  atBottom = true;

  componentDidMount() {
    this.scrollDown();
  }

  getSnapshotBeforeUpdate() {
    const el = this.list.current;
    return el ? el.scrollHeight - el.scrollTop - el.clientHeight < 40 : true;
  }

  componentDidUpdate(_props, _state, wasAtBottom) {
    if (wasAtBottom) this.scrollDown();
  }

  scrollDown() {
    const el = this.list.current;
    if (el) el.scrollTop = el.scrollHeight;
  }

  render({ detail }) {
    return html`
      <ol class="timeline" ref=${this.list} data-testid="timeline">
        ${entries(detail).map(({ item, event }) =>
          item
            ? html`<${Item} key=${`i${item.id}`} item=${item} />`
            : html`<li key=${`e${event.id}`} class="entry-event" data-testid="timeline-event">
                ${eventText(event)} · ${formatTime(event.created_at)}
              </li>`,
        )}
      </ol>
    `;
  }
}

// Uncontrolled, so live re-renders never touch what is being typed.
class ReplyBox extends Component {
  textarea = createRef();

  send = async () => {
    const el = this.textarea.current;
    if (await sendReply(el.value)) el.value = "";
  };

  onSubmit = (event) => {
    event.preventDefault();
    this.send();
  };

  onKeyDown = (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      this.send();
    }
  };

  render({ sending, error }) {
    return html`
      <form class="reply" onSubmit=${this.onSubmit}>
        <textarea ref=${this.textarea} rows="3" placeholder=${t("reply.placeholder")}
          aria-label=${t("reply.placeholder")} data-testid="reply-box"
          onKeyDown=${this.onKeyDown}></textarea>
        <div class="reply-bar">
          ${error && html`<span class="form-error" role="alert">${error}</span>`}
          <span class="hint">${t("reply.hint")}</span>
          <button type="submit" class="primary" disabled=${sending} data-testid="send-reply">
            ${t("reply.send")}
          </button>
        </div>
      </form>
    `;
  }
}

function Head({ detail, state }) {
  const assignee = personName(detail.assignee_id);
  const channel = state.channels[detail.channel_id];
  return html`
    <header class="ticket-head">
      <div class="ticket-title">
        <span class=${`badge kind-${detail.kind}`}>${t(`kind.${detail.kind}`)}</span>
        <h2 data-testid="ticket-author">${detail.author_name}</h2>
        <span class=${`status is-${detail.status}`}>${t(`status.${detail.status}`)}</span>
      </div>
      <div class="ticket-meta">
        ${channel && html`<span>${channel.name}</span>`}
        <span data-testid="ticket-assignee">
          ${assignee ? t("ticket.assignee", { name: assignee }) : t("ticket.unassigned")}
        </span>
      </div>
      <div class="ticket-actions">
        ${detail.assignee_id !== state.user.id &&
        html`<button type="button" data-testid="take-ticket" onClick=${takeTicket}>
          ${t("ticket.take")}</button>`}
        ${detail.status !== "closed" &&
        html`<button type="button" data-testid="close-ticket" onClick=${closeTicket}>
          ${t("ticket.close")}</button>`}
      </div>
    </header>
  `;
}

export function TicketPane({ state }) {
  const { detail } = state;
  if (!state.selectedId || (!detail && !state.detailError)) {
    const text = state.selectedId ? t("app.loading") : t("ticket.none");
    return html`<section class="ticket-pane is-empty"><p>${text}</p></section>`;
  }
  if (!detail) {
    return html`<section class="ticket-pane is-empty">
      <p class="form-error" role="alert">${state.detailError}</p></section>`;
  }
  return html`
    <section class="ticket-pane" data-testid="ticket-pane" data-ticket-id=${detail.id}>
      <${Head} detail=${detail} state=${state} />
      ${state.actionError &&
      html`<p class="form-error banner" role="alert" data-testid="action-error">
        ${state.actionError}</p>`}
      <${Timeline} detail=${detail} />
      <${ReplyBox} key=${detail.id} sending=${state.sending} error=${state.replyError} />
    </section>
  `;
}
