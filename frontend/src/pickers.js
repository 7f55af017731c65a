// The dialogs a shortcut opens: snooze, tags, priority, assignee, canned and holding replies,
// confirm delete; and `Overlays`, which shows whichever is open (the help, the palette, group
// actions, sentiment, an incident and the approvals included).
import { Component, createRef } from "/static/vendor/preact.js";
import { ApprovalsDialog } from "./approvals.js";
import { GroupDelete, GroupReply, GroupTagPicker } from "./clusters.js";
import { closeOverlay, moveOnFrom, useCanned } from "./commands.js";
import { focusComposer } from "./composer.js";
import { ListDialog, onBackdrop } from "./dialog.js";
import { Help } from "./help.js";
import { html } from "./html.js";
import { formatTime, t } from "./i18n.js";
import { IncidentPanel } from "./incident-panel.js";
import { Palette } from "./palette.js";
import { moderate } from "./sending.js";
import { SentimentPicker } from "./sentiment.js";
import { rowOf, state } from "./store.js";
import * as triage from "./triage.js";
import { PRIORITIES } from "./views.js";
import { localInputValue, parseLocalInput, snoozeTimes } from "./zone.js";

function zone() {
  return state.user.timezone;
}

function titleFor(key, ids) {
  return ids.length > 1 ? t(`${key}.titleMany`, { n: ids.length }) : t(`${key}.title`);
}

// After snoozing the open (or cursor) ticket it leaves the queue: go on to the next one.
function snoozeAndMoveOn(ids, until) {
  closeOverlay();
  if (ids.length === 1 && state.bulk.size === 0) moveOnFrom(ids[0]);
  triage.snooze(ids, until);
}

class SnoozePicker extends Component {
  state = { custom: false };
  field = createRef();

  componentDidUpdate() {
    if (this.state.custom && this.field.current && document.activeElement !== this.field.current) {
      this.field.current.focus();
    }
  }

  onCustomKey = (event) => {
    if (event.key === "Enter") {
      const until = parseLocalInput(event.currentTarget.value, zone());
      if (until && until > Date.now()) snoozeAndMoveOn(this.props.ids, until);
    } else if (event.key === "Escape") {
      this.setState({ custom: false });
    } else return;
    event.preventDefault();
    event.stopPropagation();
  };

  render({ ids }, { custom }) {
    const title = titleFor("snooze", ids);
    if (custom) {
      const start = localInputValue(Date.now() + 3_600_000, zone());
      return html`
        <div class="overlay">
          <div class="dialog" role="dialog" aria-modal="true" aria-label=${title} data-testid="snooze">
            <h2 class="dialog-title">${title}</h2>
            <label class="field">${t("snooze.until")}
              <input ref=${this.field} type="datetime-local" value=${start} min=${start.slice(0, 10)}
                data-testid="snooze-custom-input" onKeyDown=${this.onCustomKey} /></label>
            <p class="dialog-foot">${t("snooze.customKeys", { zone: zone() })}</p>
          </div>
        </div>
      `;
    }
    const times = snoozeTimes(Date.now(), zone());
    const options = ["hour", "tomorrow", "monday"].map((key) => ({
      key,
      label: t(`snooze.${key}`),
      detail: formatTime(new Date(times[key]).toISOString()),
    }));
    options.push({ key: "custom", label: t("snooze.custom") });
    return html`<${ListDialog} title=${title} placeholder=${t("snooze.placeholder")} testid="snooze"
      options=${options} onClose=${closeOverlay}
      onPick=${(option) =>
        option.key === "custom"
          ? this.setState({ custom: true })
          : snoozeAndMoveOn(ids, times[option.key])} />`;
  }
}

function TagPicker({ ids }) {
  const has = (tag) => ids.every((id) => (rowOf(id)?.tags || []).includes(tag));
  const known = new Set(state.knownTags);
  for (const id of ids) for (const tag of rowOf(id)?.tags || []) known.add(tag);
  const options = [...known].sort().map((tag) => ({ key: tag, label: tag, checked: has(tag) }));
  const create = (tag) =>
    known.has(tag) ? null : { key: `new:${tag}`, label: t("tags.create", { tag }), tag };
  return html`<${ListDialog} title=${titleFor("tags", ids)} placeholder=${t("tags.placeholder")}
    testid="tags" options=${options} create=${create} onClose=${closeOverlay}
    onPick=${(option) => {
      closeOverlay();
      triage.toggleTag(ids, option.tag || option.key);
    }} />`;
}

function PriorityPicker({ ids }) {
  const current = ids.length === 1 ? rowOf(ids[0])?.priority : null;
  const options = [...PRIORITIES].reverse().map((priority) => ({
    key: priority,
    label: t(`priority.${priority}`),
    checked: priority === current,
  }));
  return html`<${ListDialog} title=${titleFor("priority", ids)} testid="priority"
    placeholder=${t("priority.placeholder")} options=${options} onClose=${closeOverlay}
    onPick=${(option) => {
      closeOverlay();
      triage.setPriority(ids, option.key);
    }} />`;
}

function AssignPicker({ ids }) {
  const teams = new Set(ids.map((id) => rowOf(id)?.team_id));
  const current = ids.length === 1 ? rowOf(ids[0])?.assignee_id : undefined;
  const people = Object.values(state.users).filter(
    (user) => user.role === "admin" || (user.teams || []).some((team) => teams.has(team.id)),
  );
  const options = [
    ...people.map((user) => ({
      key: String(user.id),
      label: user.id === state.user.id ? t("assign.me", { name: user.name }) : user.name,
      detail: user.email,
      checked: user.id === current,
      userId: user.id,
    })),
    { key: "none", label: t("assign.nobody"), userId: null, checked: current === null },
  ];
  return html`<${ListDialog} title=${titleFor("assign", ids)} placeholder=${t("assign.placeholder")}
    testid="assign" options=${options} onClose=${closeOverlay}
    onPick=${(option) => {
      closeOverlay();
      triage.assign(ids, option.userId);
    }} />`;
}

function CannedPicker() {
  const options = state.canned.list.map((canned) => ({
    key: String(canned.id),
    label: canned.title,
    detail: canned.rendered || canned.body,
    search: `${canned.title} ${canned.body}`,
    id: canned.id,
  }));
  return html`<${ListDialog} title=${t("canned.title")} placeholder=${t("canned.placeholder")}
    testid="canned" options=${options} onClose=${closeOverlay}
    footer=${options.length ? null : t("canned.none")}
    onPick=${(option) => {
      closeOverlay();
      useCanned(option.id);
    }} />`;
}

function HoldingPicker({ replies }) {
  const options = replies.map((text, i) => ({
    key: String(i),
    label: t("holding.number", { n: i + 1 }),
    detail: text,
    search: `${i + 1} ${text}`,
    hint: i < 9 ? String(i + 1) : undefined,
    text,
  }));
  return html`<${ListDialog} title=${t("holding.title")} placeholder=${t("holding.placeholder")}
    testid="holding" options=${options} onClose=${closeOverlay}
    onPick=${(option) => {
      closeOverlay();
      focusComposer("reply", option.text);
    }} />`;
}

class ConfirmDelete extends Component {
  button = createRef();

  componentDidMount() {
    this.button.current.focus();
  }

  confirm = () => {
    const item = state.detail && state.detail.items.find((entry) => entry.id === this.props.itemId);
    closeOverlay();
    if (item) moderate(item, "delete");
  };

  render() {
    return html`
      <div class="overlay" onMouseDown=${onBackdrop(closeOverlay)}>
        <div class="dialog" role="alertdialog" aria-modal="true" aria-labelledby="confirm-title"
          data-testid="confirm-delete">
          <h2 class="dialog-title" id="confirm-title">${t("delete.title")}</h2>
          <p>${t("delete.body")}</p>
          <div class="dialog-actions">
            <button type="button" class="danger" ref=${this.button} data-testid="confirm-delete-yes"
              onClick=${this.confirm}>${t("delete.confirm")}</button>
            <button type="button" data-testid="confirm-delete-no" onClick=${closeOverlay}>
              ${t("delete.cancel")}</button>
          </div>
          <p class="dialog-foot">${t("delete.keys")}</p>
        </div>
      </div>
    `;
  }
}

export function Overlays({ state: current }) {
  const overlay = current.overlay;
  if (!overlay) return null;
  switch (overlay.type) {
    case "help":
      return html`<${Help} state=${current} />`;
    case "palette":
      return html`<${Palette} state=${current} />`;
    case "snooze":
      return html`<${SnoozePicker} ids=${overlay.ids} />`;
    case "tags":
      return html`<${TagPicker} ids=${overlay.ids} />`;
    case "priority":
      return html`<${PriorityPicker} ids=${overlay.ids} />`;
    case "assign":
      return html`<${AssignPicker} ids=${overlay.ids} />`;
    case "canned":
      return html`<${CannedPicker} />`;
    case "confirm-delete":
      return html`<${ConfirmDelete} itemId=${overlay.itemId} />`;
    case "sentiment":
      return html`<${SentimentPicker} itemId=${overlay.itemId} />`;
    case "holding":
      return html`<${HoldingPicker} replies=${overlay.replies} />`;
    case "group-tag":
      return html`<${GroupTagPicker} clusterId=${overlay.clusterId} />`;
    case "group-reply":
      return html`<${GroupReply} clusterId=${overlay.clusterId} />`;
    case "group-delete":
      return html`<${GroupDelete} clusterId=${overlay.clusterId} />`;
    case "incident":
      return html`<${IncidentPanel} id=${overlay.id} state=${current} />`;
    case "approvals":
      return html`<${ApprovalsDialog} approvals=${current.approvals} />`;
    default:
      return null;
  }
}
