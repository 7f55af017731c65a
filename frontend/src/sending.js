// What leaves for the platform (replies, hide, delete, like) and internal notes: queued through the
// outbox, each public one offered back to `z` during its undo window.
import { fail } from "./actions.js";
import { api } from "./api.js";
import { replyHeld } from "./approvals.js";
import { refreshDetail } from "./detail.js";
import { errorText, t } from "./i18n.js";
import { state, update } from "./store.js";
import { notify, offerUndo } from "./toasts.js";

let ownNewest = 0; // our latest reply: never a reason to stop our next one

/** The newest message this person has had in front of them on the open ticket. */
export function newestSeenId() {
  const detail = state.detail;
  const shown = detail && detail.items.length ? Math.max(...detail.items.map((item) => item.id)) : 0;
  return Math.max(shown, ownNewest) || null;
}

function queued(row, action, ticketId) {
  if (!row.send_after) {
    notify(t(`queued.${action}`), { kind: "ok" });
    return;
  }
  offerUndo({
    labelKey: `undo.${action}`,
    until: Date.parse(row.send_after),
    cancel: async () => {
      await api.post(`/api/outbox/${row.id}/cancel`);
      if (state.selectedId === ticketId) refreshDetail();
    },
    done: t(`undone.${action}`),
  });
}

/**
 * Queue a public reply. With `seen` (the newest message when the draft began), a teammate's
 * reply written since stops it: then `state.collision` shows theirs and the person decides.
 * Resolves to "sent", "collision" or "error".
 */
export async function sendReply(ticketId, text, { seen = null } = {}) {
  if (!text.trim() || state.sending) return "error";
  update({ sending: true, replyError: null });
  try {
    const body = seen == null ? { text } : { text, seen_item_id: seen };
    const row = await api.post(`/api/tickets/${ticketId}/replies`, body);
    ownNewest = Math.max(ownNewest, row.reply_item_id || 0);
    update({ collision: null });
    if (row.state === "approval") {
      // crisis mode: an agent's reply waits for a manager, who may still send it back
      replyHeld(row, ticketId, text);
      notify(t("queued.approval"), { kind: "ok", ttl: 8_000 });
    } else queued(row, "reply", ticketId);
    refreshDetail();
    return "sent";
  } catch (err) {
    if (err.status === 409 && err.error.items) {
      update({ collision: { ticketId, message: err.message, items: err.error.items } });
      refreshDetail();
      return "collision";
    }
    fail(err, "replyError");
    return "error";
  } finally {
    update({ sending: false });
  }
}

/** Add an internal note; @names in it notify those teammates. */
export async function sendNote(ticketId, text) {
  if (!text.trim() || state.sending) return "error";
  update({ sending: true, replyError: null });
  try {
    await api.post(`/api/tickets/${ticketId}/notes`, { text });
    refreshDetail();
    return "sent";
  } catch (err) {
    fail(err, "replyError");
    return "error";
  } finally {
    update({ sending: false });
  }
}

/** Queue hide, unhide, delete or like on an inbound message of the open ticket. */
export async function moderate(item, action) {
  const ticketId = item.ticket_id;
  try {
    const row = await api.post(`/api/items/${item.id}/moderation`, { action });
    queued(row, action, ticketId);
    refreshDetail();
    return true;
  } catch (err) {
    const text = errorText(err);
    if (state.selectedId === ticketId) update({ actionError: text });
    notify(text, { kind: "error" });
    return false;
  }
}
