// Crisis mode's reply approval: managers see the replies waiting, live, and approve them or send
// them back with a reason; the agent who wrote one hears how it ended.
import { Component, createRef } from "/static/vendor/preact.js";
import { api } from "./api.js";
import { closeOverlay, openOverlay } from "./commands.js";
import { focusComposer } from "./composer.js";
import { openTicket } from "./detail.js";
import { onBackdrop } from "./dialog.js";
import { html } from "./html.js";
import { errorText, formatTime, t } from "./i18n.js";
import { canLeadCrisis } from "./incidents.js";
import { keyHint } from "./keys.js";
import { personName, rowOf, state, update } from "./store.js";
import { notify } from "./toasts.js";

const DECIDED = /^reply_(approved|rejected)$/;
const held = new Map(); // outbox id -> {ticketId, text}: this person's replies waiting

/** Load the replies waiting for a manager (managers and admins only). */
export async function loadApprovals() {
  if (!canLeadCrisis(state.user)) return;
  try {
    const { approvals } = await api.get("/api/approvals");
    update({ approvals });
  } catch {
    // shown again on the next event or sign-in
  }
}

/** A reply of ours now waits for approval: its outcome will be told to us. */
export function replyHeld(outbox, ticketId, text) {
  held.set(outbox.id, { ticketId, text });
}

export function openApprovals() {
  if (!canLeadCrisis(state.user)) return notify(t("approvals.forManagers"));
  openOverlay("approvals");
  loadApprovals();
}

/** Live: a reply to approve (managers), or the end of one (managers, and its author). */
export function heardApproval(event) {
  const data = event.data || {};
  if (event.type === "reply_needs_approval" && canLeadCrisis(state.user)) {
    loadApprovals();
    if (state.overlay?.type !== "approvals") {
      notify(t("approvals.toast"), {
        ttl: 15_000,
        action: { label: t("approvals.see"), run: openApprovals },
      });
    }
    return;
  }
  const decided = DECIDED.exec(event.type);
  if (!decided) return;
  if (canLeadCrisis(state.user)) loadApprovals();
  const mine = held.get(data.outbox_id);
  if (!mine && authorOf(data) !== state.user.id) return;
  held.delete(data.outbox_id);
  const ticketId = event.ticket_id ?? mine?.ticketId;
  const name = personName(event.actor_id) || "?";
  if (decided[1] === "approved") {
    notify(t("approvals.approvedToast", { name }), { kind: "ok", ttl: 10_000 });
    return;
  }
  const text = mine?.text ?? data.text;
  notify(t("approvals.rejectedToast", { name, reason: data.reason || "—" }), {
    kind: "error",
    ttl: 30_000,
    action: text && {
      label: t("approvals.takeBack"),
      run: () => openTicket(ticketId, { then: () => focusComposer("reply", text) }),
    },
  });
}

/** Who wrote a held reply: said by a rejection, else known from the open ticket's timeline. */
function authorOf(data) {
  if (data.author_id != null) return data.author_id;
  const item = state.detail && state.detail.items.find((entry) => entry.id === data.item_id);
  return item ? item.author_user_id : null;
}

async function decide(approval, action, body) {
  try {
    await api.post(`/api/outbox/${approval.outbox_id}/${action}`, body);
    const approvals = (state.approvals || []).filter((a) => a.outbox_id !== approval.outbox_id);
    update({ approvals });
    notify(t(`approvals.${action}Done`), { kind: "ok" });
    return true;
  } catch (err) {
    notify(errorText(err), { kind: "error" });
    loadApprovals();
    return false;
  }
}

/** The header's button for managers, while replies wait (the key opens the list at any time). */
export function ApprovalsButton({ state: current }) {
  const n = (current.approvals || []).length;
  if (!canLeadCrisis(current.user) || !n) return null;
  return html`<button type="button" class="approvals-btn" data-testid="open-approvals"
    title=${t("approvals.title")} data-count=${n} onClick=${openApprovals}>
    ${t("approvals.button", { n })} <kbd>${keyHint("approvals")}</kbd></button>`;
}

// The list: ↑/↓ (or j/k) to choose, a to approve, r to reject with a reason, o to open the ticket.
export class ApprovalsDialog extends Component {
  box = createRef();
  reason = createRef();
  state = { index: 0, rejecting: false };

  componentDidMount() {
    this.box.current.focus();
  }

  componentDidUpdate() {
    const reason = this.reason.current;
    if (this.state.rejecting && reason && document.activeElement !== reason) reason.focus();
  }

  refocus = () => this.box.current && this.box.current.focus();

  chosen() {
    const list = this.props.approvals || [];
    return list[Math.min(this.state.index, list.length - 1)] || null;
  }

  choose(approval, rejecting) {
    const index = Math.max(0, (this.props.approvals || []).indexOf(approval));
    this.setState({ index, rejecting });
  }

  approve = (approval) => approval && decide(approval, "approve", undefined);

  reject = async (approval) => {
    const reason = this.reason.current ? this.reason.current.value.trim() : "";
    if (!approval || !reason) return;
    if (await decide(approval, "reject", { reason })) this.setState({ rejecting: false });
  };

  open = (approval) => {
    if (!approval) return;
    closeOverlay();
    openTicket(approval.ticket_id);
  };

  onKeyDown = (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const list = this.props.approvals || [];
    const approval = this.chosen();
    if (this.state.rejecting) {
      if (event.key === "Enter") this.reject(approval);
      else if (event.key === "Escape") this.setState({ rejecting: false }, this.refocus);
      else return;
    } else if (["ArrowDown", "j"].includes(event.key) && list.length) {
      this.setState({ index: (this.state.index + 1) % list.length });
    } else if (["ArrowUp", "k"].includes(event.key) && list.length) {
      this.setState({ index: (this.state.index + list.length - 1) % list.length });
    } else if (event.key === "a") this.approve(approval);
    else if (event.key === "r" && approval) this.setState({ rejecting: true });
    else if (event.key === "o") this.open(approval);
    else return;
    event.preventDefault();
    event.stopPropagation();
  };

  render({ approvals }, { rejecting }) {
    const list = approvals || [];
    const chosen = this.chosen();
    return html`
      <div class="overlay" onMouseDown=${onBackdrop(closeOverlay)}>
        <div class="dialog approvals" role="dialog" aria-modal="true" tabindex="-1"
          aria-labelledby="approvals-title" ref=${this.box} onKeyDown=${this.onKeyDown}
          data-testid="approvals">
          <header class="help-head">
            <h2 class="dialog-title" id="approvals-title">${t("approvals.title")}</h2>
            <button type="button" class="quiet" onClick=${closeOverlay}>${t("help.close")}</button>
          </header>
          ${approvals == null && html`<p class="hint">${t("app.loading")}</p>`}
          ${approvals && !list.length && html`<p class="empty">${t("approvals.empty")}</p>`}
          <ul class="approval-list" role="listbox" aria-label=${t("approvals.title")}>
            ${list.map((approval) => this.renderOne(approval, approval === chosen, rejecting))}
          </ul>
          <p class="dialog-foot">${t("approvals.keys")}</p>
        </div>
      </div>
    `;
  }

  renderOne(approval, active, rejecting) {
    const row = rowOf(approval.ticket_id);
    const to = row ? row.author_name : `#${approval.ticket_id}`;
    return html`<li key=${approval.outbox_id} role="option"
      aria-selected=${active ? "true" : "false"}
      class=${active ? "approval is-active" : "approval"} data-testid="approval"
      data-outbox-id=${approval.outbox_id} data-ticket-id=${approval.ticket_id}
      onClick=${(event) => event.target.closest("button, input") || this.choose(approval, false)}>
      <div class="entry-head">
        <span class="entry-author">${approval.created_by_name}</span>
        <span>${t("approvals.to", { name: to })}</span>
        <time datetime=${approval.created_at}>${formatTime(approval.created_at)}</time>
      </div>
      <p class="entry-body">${approval.text}</p>
      ${active && rejecting
        ? html`<label class="field">${t("approvals.reason")}
            <input ref=${this.reason} data-testid="approval-reason"
              placeholder=${t("approvals.reasonHint")} /></label>`
        : html`<div class="dialog-actions">
            <button type="button" class="primary small" data-testid="approval-approve"
              onClick=${() => this.approve(approval)}>
              ${t("approvals.approve")} <kbd>a</kbd></button>
            <button type="button" class="small" data-testid="approval-reject"
              onClick=${() => this.choose(approval, true)}>
              ${t("approvals.reject")} <kbd>r</kbd></button>
            <button type="button" class="quiet small" onClick=${() => this.open(approval)}>
              ${t("approvals.open")} <kbd>o</kbd></button>
          </div>`}
    </li>`;
  }
}
