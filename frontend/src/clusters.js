// Near-duplicate groups (a copy-paste raid, one question asked 200 times): one hide, delete,
// close, tag or reply for every open ticket of a group in one request, the dialogs those need,
// and a group's count kept live.
import { Component, createRef } from "/static/vendor/preact.js";
import { api } from "./api.js";
import { closeOverlay, openOverlay } from "./commands.js";
import { ListDialog, onBackdrop } from "./dialog.js";
import { html } from "./html.js";
import { errorText, t } from "./i18n.js";
import { cursorEntry, cursorTicketId } from "./list.js";
import { rowOf, state, update } from "./store.js";
import { notify } from "./toasts.js";

export const GROUP_ACTIONS = ["hide", "close", "tag", "reply", "delete"];
const ASKS_FIRST = new Set(["tag", "reply", "delete"]);

/** The group of the bulk selection when every selected ticket is in the same one, else null. */
export function selectionCluster() {
  const clusters = new Set([...state.bulk].map((id) => rowOf(id)?.cluster_id ?? null));
  if (clusters.size !== 1) return null;
  const [id] = clusters;
  return id;
}

/** The group an action applies to: the selection's, else the open ticket's, else the cursor's. */
export function clusterTarget() {
  if (state.bulk.size) return selectionCluster();
  const entry = state.selectedId == null ? cursorEntry() : null;
  if (entry && entry.clusterId != null) return entry.clusterId;
  const row = rowOf(state.selectedId ?? cursorTicketId());
  return row && row.cluster_id != null && row.cluster_size > 1 ? row.cluster_id : null;
}

/** The group's size as last heard (rows carry it; `cluster_grew` moves it on). */
export function clusterSize(clusterId) {
  let size = 0;
  for (const row of state.rows.values()) {
    if (row.cluster_id === clusterId) size = Math.max(size, row.cluster_size || 0);
  }
  const open = state.detail;
  if (open && open.cluster_id === clusterId) size = Math.max(size, open.cluster_size || 0);
  return size;
}

/** POST one action for the whole group; say how many tickets it reached. */
export async function actOnCluster(clusterId, action, extra = {}) {
  try {
    const done = await api.post(`/api/clusters/${clusterId}/actions`, { action, ...extra });
    if (state.bulk.size && selectionCluster() === clusterId) state.bulk = new Set();
    notify(t(`group.done.${action}`, { n: done.tickets }), { kind: "ok" });
    update();
    return true;
  } catch (err) {
    notify(errorText(err), { kind: "error" });
    return false;
  }
}

/** Run a group action on the target group, asking first for a tag, a text or a confirmation. */
export function groupAction(action) {
  const clusterId = clusterTarget();
  if (clusterId == null) return notify(t(state.bulk.size ? "group.notOne" : "group.none"));
  if (ASKS_FIRST.has(action)) return openOverlay(`group-${action}`, { clusterId });
  return actOnCluster(clusterId, action);
}

/** Palette entries for the group under the cursor or open, if there is one. */
export function groupOptions() {
  const clusterId = clusterTarget();
  if (clusterId == null) return [];
  const n = Math.max(clusterSize(clusterId), state.bulk.size);
  return GROUP_ACTIONS.map((action) => ({
    key: `group:${action}`,
    label: t(`group.action.${action}`),
    detail: t("group.size", { n }),
    group: t("palette.groupActions"),
    run: () => groupAction(action),
  }));
}

/** A group grew live: every row of it shows the new count. */
export function clusterGrew({ cluster_id: clusterId, size }) {
  let changed = false;
  for (const [id, row] of state.rows) {
    if (row.cluster_id === clusterId && row.cluster_size !== size) {
      state.rows.set(id, { ...row, cluster_size: size });
      changed = true;
    }
  }
  if (state.detail && state.detail.cluster_id === clusterId) {
    state.detail = { ...state.detail, cluster_size: size };
  }
  if (changed) state.rowsVersion += 1;
  update();
}

function titleFor(key, clusterId) {
  const n = clusterSize(clusterId);
  return n > 1 ? t(key, { n }) : t(`${key}Plain`);
}

export function GroupTagPicker({ clusterId }) {
  const options = [...state.knownTags].sort().map((tag) => ({ key: tag, label: tag }));
  const create = (tag) =>
    state.knownTags.has(tag) ? null : { key: `new:${tag}`, label: t("tags.create", { tag }), tag };
  return html`<${ListDialog} title=${titleFor("group.tagTitle", clusterId)}
    placeholder=${t("tags.placeholder")} testid="group-tags" options=${options} create=${create}
    onClose=${closeOverlay}
    onPick=${(option) => {
      const tag = option.tag || option.key;
      closeOverlay();
      state.knownTags.add(tag);
      actOnCluster(clusterId, "tag", { tags: [tag] });
    }} />`;
}

// The one reply posted under every message of the group: Ctrl+Enter sends, Escape leaves.
export class GroupReply extends Component {
  box = createRef();
  state = { sample: null, sending: false };

  async componentDidMount() {
    this.box.current.focus();
    try {
      const cluster = await api.get(`/api/clusters/${this.props.clusterId}`);
      this.setState({ sample: cluster.sample });
    } catch {
      // the sample only helps; the reply works without it
    }
  }

  send = async () => {
    const text = this.box.current.value.trim();
    if (!text || this.state.sending) return;
    this.setState({ sending: true });
    const ok = await actOnCluster(this.props.clusterId, "reply", { text });
    this.setState({ sending: false });
    if (ok) closeOverlay();
  };

  onKeyDown = (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      this.send();
    } else if (event.key === "Escape") {
      event.preventDefault();
      event.stopPropagation();
      closeOverlay();
    }
  };

  render({ clusterId }, { sample, sending }) {
    const title = titleFor("group.replyTitle", clusterId);
    return html`
      <div class="overlay" onMouseDown=${onBackdrop(closeOverlay)}>
        <div class="dialog" role="dialog" aria-modal="true" aria-label=${title}
          data-testid="group-reply">
          <h2 class="dialog-title">${title}</h2>
          ${sample && html`<p class="dialog-quote">${sample}</p>`}
          <textarea ref=${this.box} rows="4" class="dialog-text" data-testid="group-reply-box"
            aria-label=${t("reply.placeholder")} placeholder=${t("reply.placeholder")}
            onKeyDown=${this.onKeyDown}></textarea>
          <div class="dialog-actions">
            <button type="button" class="primary" disabled=${sending}
              data-testid="group-reply-send" onClick=${this.send}>${t("group.replySend")}</button>
            <button type="button" onClick=${closeOverlay}>${t("delete.cancel")}</button>
          </div>
          <p class="dialog-foot">${t("group.replyKeys")}</p>
        </div>
      </div>
    `;
  }
}

export class GroupDelete extends Component {
  button = createRef();

  componentDidMount() {
    this.button.current.focus();
  }

  confirm = () => {
    closeOverlay();
    actOnCluster(this.props.clusterId, "delete");
  };

  render({ clusterId }) {
    return html`
      <div class="overlay" onMouseDown=${onBackdrop(closeOverlay)}>
        <div class="dialog" role="alertdialog" aria-modal="true"
          aria-labelledby="group-delete-title" data-testid="group-delete">
          <h2 class="dialog-title" id="group-delete-title">
            ${titleFor("group.deleteTitle", clusterId)}</h2>
          <p>${t("group.deleteBody")}</p>
          <div class="dialog-actions">
            <button type="button" class="danger" ref=${this.button} data-testid="group-delete-yes"
              onClick=${this.confirm}>${t("delete.confirm")}</button>
            <button type="button" onClick=${closeOverlay}>${t("delete.cancel")}</button>
          </div>
          <p class="dialog-foot">${t("delete.keys")}</p>
        </div>
      </div>
    `;
  }
}
