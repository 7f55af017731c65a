// One incident up close: what spiked and how much, its messages minute by minute (a bar list
// that reads as text too), its tickets, crisis mode, the holding replies, and resolving it.
import { Component, createRef } from "/static/vendor/preact.js";
import { closeOverlay } from "./commands.js";
import { onBackdrop } from "./dialog.js";
import { html } from "./html.js";
import { currentLocale, formatTime, t } from "./i18n.js";
import {
  canLeadCrisis,
  incidentFigures,
  incidentSubject,
  percent,
  resolveIncident,
  saveHoldingReplies,
  setCrisis,
  showTicketsOf,
} from "./incidents.js";

const SHOWN_MINUTES = 60;
const QUIET_LEAD = 5; // calm minutes kept before the first message, for contrast

function minuteOf(iso, timeZone) {
  const options = { hour: "2-digit", minute: "2-digit" };
  try {
    return new Intl.DateTimeFormat(currentLocale(), { ...options, timeZone }).format(new Date(iso));
  } catch {
    return new Intl.DateTimeFormat(currentLocale(), options).format(new Date(iso));
  }
}

/** Messages per minute, negative ones darker; each line says its numbers in words as well. */
function MinuteBars({ timeline, timeZone }) {
  if (!timeline) return html`<p class="hint">${t("app.loading")}</p>`;
  const first = timeline.findIndex((minute) => minute.count > 0);
  const from = Math.max(0, first - QUIET_LEAD, timeline.length - SHOWN_MINUTES);
  const minutes = first < 0 ? [] : timeline.slice(from);
  if (!minutes.length) return html`<p class="hint">${t("incident.noTimeline")}</p>`;
  const most = Math.max(1, ...minutes.map((minute) => minute.count));
  return html`
    <ol class="inc-bars" data-testid="incident-timeline" aria-label=${t("incident.timeline")}>
      ${minutes.map((minute) => {
        const time = minuteOf(minute.at, timeZone);
        const words = t("incident.minute", { time, n: minute.count, negative: minute.negative });
        const width = `${(100 * minute.count) / most}%`;
        const dark = minute.count ? `${(100 * minute.negative) / minute.count}%` : "0%";
        return html`<li key=${minute.at} class="inc-bar" aria-label=${words}
          data-testid="incident-minute" data-count=${minute.count}>
          <span class="inc-time" aria-hidden="true">${time}</span>
          <span class="inc-track" aria-hidden="true"><span class="inc-fill" style=${{ width }}>
            <span class="inc-neg" style=${{ width: dark }}></span></span></span>
          <span class="inc-num" aria-hidden="true">${minute.count}</span>
        </li>`;
      })}
    </ol>
  `;
}

// The holding replies, one box each; edited here, saved together.
class HoldingEditor extends Component {
  constructor(props) {
    super(props);
    this.state = { replies: [...(props.incident.holding_replies || [])], saving: false };
  }

  edit(index, text) {
    const replies = [...this.state.replies];
    replies[index] = text;
    this.setState({ replies });
  }

  remove(index) {
    this.setState({ replies: this.state.replies.filter((_, i) => i !== index) });
  }

  save = async () => {
    const replies = this.state.replies.map((text) => text.trim()).filter(Boolean);
    this.setState({ saving: true });
    if (await saveHoldingReplies(this.props.incident.id, replies)) this.setState({ replies });
    this.setState({ saving: false });
  };

  render({ incident, editable }, { replies, saving }) {
    if (!editable) {
      const list = incident.holding_replies || [];
      if (!list.length) return html`<p class="hint">${t("holding.none")}</p>`;
      return html`<ol class="holding-list">${list.map((text) => html`<li>${text}</li>`)}</ol>`;
    }
    return html`
      <div class="holding-editor" data-testid="holding-editor">
        ${replies.map(
          (text, i) => html`<div class="holding-row" key=${i}>
            <label class="field">${t("holding.number", { n: i + 1 })}
              <textarea rows="2" value=${text} data-testid="holding-input"
                onInput=${(event) => this.edit(i, event.currentTarget.value)}></textarea></label>
            <button type="button" class="quiet small" onClick=${() => this.remove(i)}>
              ${t("holding.remove")}</button>
          </div>`,
        )}
        <div class="dialog-actions">
          <button type="button" class="small" data-testid="holding-add"
            onClick=${() => this.setState({ replies: [...replies, ""] })}>
            ${t("holding.add")}</button>
          <button type="button" class="primary small" disabled=${saving} data-testid="holding-save"
            onClick=${this.save}>${t("holding.save")}</button>
        </div>
      </div>
    `;
  }
}

function share(value) {
  return value == null ? null : percent(value);
}

function Facts({ incident }) {
  const facts = [
    ["incident.startedAt", incident.started_at && formatTime(incident.started_at)],
    ["incident.detectedAt", incident.detected_at && formatTime(incident.detected_at)],
    ["incident.items", incident.window_count],
    ["incident.negativeShare", share(incident.negative_share)],
    ["incident.usualShare", share(incident.usual_negative_share)],
    ["incident.tickets", incident.ticket_count ?? incident.tickets?.length],
    ["incident.resolvedAt", incident.resolved_at && formatTime(incident.resolved_at)],
  ].filter(([, value]) => value != null && value !== false);
  return html`<dl class="inc-facts">
    ${facts.map(([key, value]) => html`<div key=${key}><dt>${t(key)}</dt><dd>${value}</dd></div>`)}
  </dl>`;
}

export class IncidentPanel extends Component {
  box = createRef();

  componentDidMount() {
    this.box.current.focus();
  }

  render({ id, state }) {
    const incident = state.incidents.get(id) || { id };
    const lead = canLeadCrisis(state.user);
    const open = incident.status !== "resolved";
    const tickets = incident.ticket_count ?? incident.tickets?.length ?? 0;
    return html`
      <div class="overlay" onMouseDown=${onBackdrop(closeOverlay)}>
        <div class="dialog incident-panel" role="dialog" aria-modal="true" tabindex="-1"
          aria-labelledby="incident-title" ref=${this.box} data-testid="incident-panel"
          data-incident-id=${id} data-crisis=${incident.crisis ? "true" : "false"}>
          <header class="help-head">
            <h2 class="dialog-title" id="incident-title">
              ${incident.scope
                ? t("incident.heading", { what: incidentSubject(incident) })
                : t("incident.title", { id })}</h2>
            <button type="button" class="quiet" onClick=${closeOverlay}>${t("help.close")}</button>
          </header>
          <p class="inc-status">
            <span class=${open ? "status" : "status is-closed"} data-testid="incident-status">
              ${t(open ? "incident.statusOpen" : "incident.statusResolved")}</span>
            ${incident.crisis && html`<span class="crisis-chip" data-testid="crisis-chip">
              ${t("crisis.chip")}</span>`}
            <span>${incidentFigures(incident)}</span>
          </p>
          <${Facts} incident=${incident} />
          <div class="dialog-actions">
            <button type="button" class="primary" data-testid="incident-tickets"
              onClick=${() => showTicketsOf(id)}>
              ${t("incident.showTickets", { n: tickets })}</button>
            ${lead && open &&
            html`<button type="button" class=${incident.crisis ? "" : "danger"}
              data-testid="crisis-toggle" aria-pressed=${incident.crisis ? "true" : "false"}
              onClick=${() => setCrisis(id, !incident.crisis)}>
              ${t(incident.crisis ? "crisis.turnOff" : "crisis.turnOn")}</button>`}
            ${lead && open &&
            html`<button type="button" data-testid="incident-resolve"
              onClick=${() => resolveIncident(id)}>${t("incident.resolve")}</button>`}
          </div>
          <p class="hint">${t(incident.crisis ? "crisis.explainOn" : "crisis.explain")}</p>
          <section class="inc-section">
            <h3>${t("incident.timeline")}</h3>
            <${MinuteBars} timeline=${incident.timeline} timeZone=${state.user.timezone} />
          </section>
          <section class="inc-section">
            <h3>${t("holding.title")}</h3>
            <p class="hint">${t("holding.explain")}</p>
            ${incident.holding_replies
              ? html`<${HoldingEditor} key=${`${id}`} incident=${incident} editable=${lead} />`
              : html`<p class="hint">${t("app.loading")}</p>`}
          </section>
        </div>
      </div>
    `;
  }
}
