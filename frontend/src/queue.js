// The live ticket list: open and pending tickets, latest activity first, one page at a time.
import { loadMore, openTicket } from "./actions.js";
import { html } from "./html.js";
import { relativeAge, t } from "./i18n.js";
import { personName, sortedRows } from "./store.js";

function TicketRow({ row, selected, flashing, now }) {
  const classes = ["ticket-row", selected && "is-selected", flashing && "is-flashing"];
  const assignee = personName(row.assignee_id);
  return html`
    <li>
      <button type="button" class=${classes.filter(Boolean).join(" ")} data-testid="ticket-row"
        data-ticket-id=${row.id} aria-current=${selected ? "true" : undefined}
        onClick=${() => openTicket(row.id)}>
        <span class="row-line">
          <span class=${`badge kind-${row.kind}`}>${t(`kind.${row.kind}`)}</span>
          <span class="row-author">${row.author_name}</span>
          <time class="row-age" datetime=${row.last_activity_at}>
            ${relativeAge(row.last_activity_at, now)}
          </time>
        </span>
        <span class="row-preview">${row.preview || row.subject}</span>
        <span class="row-line row-meta">
          <span class=${assignee ? "row-assignee" : "row-assignee is-none"}>
            ${assignee || t("list.unassigned")}
          </span>
          ${row.status !== "open" && html`<span class="status">${t(`status.${row.status}`)}</span>`}
          <span class="row-count">${t("list.items", { n: row.item_count })}</span>
        </span>
      </button>
    </li>
  `;
}

export function Queue({ state }) {
  const rows = sortedRows();
  return html`
    <section class="queue" aria-labelledby="queue-title">
      <header class="pane-head">
        <h2 id="queue-title">${t("list.title")}</h2>
        <span class="count" data-testid="ticket-count">${rows.length}</span>
      </header>
      ${state.listError && html`<p class="form-error" role="alert">${state.listError}</p>`}
      <ul class="ticket-list" data-testid="ticket-list">
        ${rows.map(
          (row) => html`<${TicketRow} key=${row.id} row=${row} now=${state.now}
            selected=${row.id === state.selectedId} flashing=${state.flashing.has(row.id)} />`,
        )}
      </ul>
      ${rows.length === 0 && !state.nextCursor && html`<p class="empty">${t("list.empty")}</p>`}
      ${state.nextCursor &&
      html`<button type="button" class="load-more" data-testid="load-more"
        disabled=${state.loadingMore} onClick=${loadMore}>${t("list.loadMore")}</button>`}
    </section>
  `;
}
