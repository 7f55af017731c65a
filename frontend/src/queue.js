// The queue: views, search and filters over a virtualized list of tickets, most urgent first.
import { Component, createRef } from "/static/vendor/preact.js";
import { openTicket } from "./detail.js";
import { html } from "./html.js";
import { t } from "./i18n.js";
import {
  applySavedView,
  cursorIndex,
  listEntries,
  loadMore,
  savedViews,
  saveView,
  setFilter,
  setGrouped,
  setSort,
  showView,
  toggleBulk,
} from "./list.js";
import { GroupHeader, TicketRow } from "./rows.js";
import { incidentSubject } from "./incidents.js";
import { state } from "./store.js";
import { KINDS, PRIORITIES, SENTIMENTS, SORTS, VIEWS } from "./views.js";
import { VirtualList } from "./virtual.js";

const SEARCH_DELAY_MS = 300;

function pickRow(ticketId, event) {
  if (event && (event.ctrlKey || event.metaKey)) toggleBulk([ticketId]);
  else openTicket(ticketId);
}

function pickGroup(entry) {
  state.cursorKey = entry.key;
  toggleBulk(entry.ids);
}

function ViewTabs({ view }) {
  return html`
    <nav class="queue-views" aria-label=${t("list.views")}>
      ${VIEWS.map(
        (name) => html`<button type="button" key=${name} data-testid=${`view-${name}`}
          class=${name === view ? "view-tab is-current" : "view-tab"}
          aria-pressed=${name === view ? "true" : "false"}
          onClick=${() => showView(name)}>${t(`view.${name}`)}</button>`,
      )}
    </nav>
  `;
}

function Select({ name, value, options, label, onChange }) {
  return html`
    <select data-testid=${`queue-${name}`} aria-label=${label} value=${value}
      onChange=${(event) => onChange(event.currentTarget.value)}>
      ${options.map(([key, text]) => html`<option key=${key} value=${key}>${text}</option>`)}
    </select>
  `;
}

// The search box: applied as the person pauses, at once on Enter. Uncontrolled, so a re-render
// while someone types never puts back the previous text.
class Search extends Component {
  box = createRef();

  componentDidUpdate(previous) {
    const el = this.box.current;
    if (previous.value !== this.props.value && el.value.trim() !== this.props.value) {
      el.value = this.props.value;
    }
  }

  onInput = (event) => {
    clearTimeout(this.timer);
    const value = event.currentTarget.value.trim();
    this.timer = setTimeout(() => setFilter("q", value), SEARCH_DELAY_MS);
  };

  onKeyDown = (event) => {
    if (event.key !== "Enter") return;
    event.preventDefault();
    clearTimeout(this.timer);
    setFilter("q", event.currentTarget.value.trim());
    event.currentTarget.blur();
  };

  render({ value }) {
    return html`<input id="queue-search" type="search" class="search" ref=${this.box}
      defaultValue=${value} placeholder=${t("search.placeholder")}
      aria-label=${t("search.placeholder")} data-testid="queue-search" onInput=${this.onInput}
      onKeyDown=${this.onKeyDown} />`;
  }
}

function SavedViews() {
  const saved = savedViews();
  const choose = (value) => {
    const found = saved.find((entry) => entry.name === value);
    if (found) applySavedView(found);
  };
  return html`
    <span class="saved-views">
      ${saved.length > 0 &&
      html`<${Select} name="saved" value="" label=${t("saved.label")} onChange=${choose}
        options=${[["", t("saved.label")], ...saved.map((entry) => [entry.name, entry.name])]} />`}
      <${SaveView} />
    </span>
  `;
}

// Saving the current view under a name, in a small inline form (no browser prompt).
class SaveView extends Component {
  state = { open: false };

  onSubmit = (event) => {
    event.preventDefault();
    const name = event.currentTarget.elements.name.value.trim();
    if (name) saveView(name);
    this.setState({ open: false });
  };

  render(_props, { open }) {
    if (!open) {
      return html`<button type="button" class="quiet small" data-testid="save-view"
        onClick=${() => this.setState({ open: true })}>${t("saved.save")}</button>`;
    }
    return html`<form class="save-view" onSubmit=${this.onSubmit}>
      <input name="name" autofocus placeholder=${t("saved.name")} aria-label=${t("saved.name")}
        data-testid="save-view-name"
        onKeyDown=${(event) => event.key === "Escape" && this.setState({ open: false })} />
    </form>`;
  }
}

function Toolbar({ state: current }) {
  const { filters } = current;
  const channels = Object.values(current.channels);
  const all = (label) => ["", label];
  return html`
    <div class="queue-tools">
      <${Search} value=${filters.q} />
      <div class="filters">
        <${Select} name="channel" value=${filters.channel} label=${t("filter.channel")}
          onChange=${(value) => setFilter("channel", value)}
          options=${[all(t("filter.channel")), ...channels.map((c) => [String(c.id), c.name])]} />
        <${Select} name="kind" value=${filters.kind} label=${t("filter.kind")}
          onChange=${(value) => setFilter("kind", value)}
          options=${[all(t("filter.kind")), ...KINDS.map((kind) => [kind, t(`kind.${kind}`)])]} />
        <${Select} name="tag" value=${filters.tag} label=${t("filter.tag")}
          onChange=${(value) => setFilter("tag", value)}
          options=${[all(t("filter.tag")), ...[...current.knownTags].sort().map((tag) => [tag, tag])]}
        />
        <${Select} name="priority" value=${filters.priority} label=${t("filter.priority")}
          onChange=${(value) => setFilter("priority", value)}
          options=${[all(t("filter.priority")), ...PRIORITIES.map((p) => [p, t(`priority.${p}`)])]} />
        <${Select} name="sentiment" value=${filters.sentiment} label=${t("filter.sentiment")}
          onChange=${(value) => setFilter("sentiment", value)}
          options=${[all(t("filter.sentiment")), ...SENTIMENTS.map((s) => [s, t(`sentiment.${s}`)])]}
        />
        <${Select} name="sort" value=${current.sort} label=${t("sort.label")} onChange=${setSort}
          options=${SORTS.map((sort) => [sort, t(`sort.${sort}`)])} />
        <label class="toggle">
          <input type="checkbox" checked=${current.grouped} data-testid="queue-group"
            onChange=${(event) => setGrouped(event.currentTarget.checked)} />
          ${t("group.toggle")}
        </label>
        <${SavedViews} />
      </div>
      <${IncidentFilter} id=${filters.incident} state=${current} />
    </div>
  `;
}

/** The queue narrowed to one incident's tickets, and the way back to all of them. */
function IncidentFilter({ id, state: current }) {
  if (!id) return null;
  const incident = current.incidents.get(Number(id));
  const what = incident && incident.scope ? incidentSubject(incident) : `#${id}`;
  return html`<div class="filter-chip" data-testid="incident-filter" role="status">
    <span>${t("filter.incident", { what })}</span>
    <button type="button" class="quiet small" data-testid="incident-filter-clear"
      onClick=${() => setFilter("incident", "")}>${t("filter.incidentClear")}</button>
  </div>`;
}

function BulkBar({ count }) {
  if (!count) return null;
  return html`<div class="bulk-bar" data-testid="bulk-bar" role="status">
    <strong>${t("bulk.selected", { n: count })}</strong> <span>${t("bulk.hint")}</span></div>`;
}

export function Queue({ state: current }) {
  const entries = listEntries();
  const at = cursorIndex();
  const cursorKey = at >= 0 ? entries[at].key : null;
  const count = current.rows.size;
  const renderEntry = (entry) => {
    if (entry.type === "group") {
      return html`<${GroupHeader} key=${entry.key} entry=${entry} state=${current}
        cursor=${entry.key === cursorKey} checked=${entry.ids.every((id) => current.bulk.has(id))}
        onPick=${pickGroup} />`;
    }
    const row = current.rows.get(entry.id);
    return html`<${TicketRow} key=${entry.key} row=${row} state=${current}
      cursor=${entry.key === cursorKey} open=${row.id === current.selectedId}
      checked=${current.bulk.has(row.id)} flashing=${current.flashing.has(row.id)}
      grouped=${entry.grouped} onPick=${pickRow} />`;
  };
  return html`
    <section class="queue" aria-labelledby="queue-title">
      <header class="pane-head">
        <h2 id="queue-title">${t(`view.${current.view}`)}</h2>
        <span class="count" data-testid="ticket-count">${count}${current.nextCursor ? "+" : ""}</span>
        ${current.listLoading && html`<span class="hint">${t("app.loading")}</span>`}
      </header>
      <${ViewTabs} view=${current.view} />
      <${Toolbar} state=${current} />
      <${BulkBar} count=${current.bulk.size} />
      ${current.listError && html`<p class="form-error" role="alert">${current.listError}</p>`}
      <${VirtualList} entries=${entries} cursorKey=${cursorKey} renderEntry=${renderEntry}
        onNearEnd=${loadMore} label=${t(`view.${current.view}`)} />
      ${count === 0 && !current.listLoading && !current.nextCursor &&
      html`<p class="empty">${t(current.view === "closed" ? "list.emptyClosed" : "list.empty")}</p>`}
    </section>
  `;
}
