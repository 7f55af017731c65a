// Changing tickets: take, assign, close, snooze, tag, prioritize; one ticket or a bulk selection.
import { api } from "./api.js";
import { errorText, formatTime, t } from "./i18n.js";
import { mergeRows, personName, rowOf, state, update } from "./store.js";
import { notify, offerUndo } from "./toasts.js";

const UNDO_CLOSE_MS = 10_000;
const turns = new Map(); // ticket id -> the change to it still on its way

/** Run changes to one ticket one after the other, each with the version the last one left. */
function inTurn(ticketId, work) {
  const done = (turns.get(ticketId) || Promise.resolve()).then(work);
  const settled = done.catch(() => {});
  turns.set(ticketId, settled);
  settled.then(() => turns.get(ticketId) === settled && turns.delete(ticketId));
  return done;
}

/** Say why a change to a ticket was refused, in the pane when it is the open one. */
function refuse(err, ticketId, text = errorText(err)) {
  if (err.status === 401) {
    location.reload();
    return;
  }
  if (state.selectedId === ticketId) update({ actionError: text });
  notify(text, { kind: "error" });
}

function sameFields(seen, fresh, body) {
  return Object.keys(body).every((key) => JSON.stringify(seen[key]) === JSON.stringify(fresh[key]));
}

/**
 * PATCH a ticket with the version on screen. If someone changed it meanwhile but not the fields
 * this change touches, apply it once more on their version; otherwise show what happened.
 */
function patchTicket(ticketId, changes) {
  return inTurn(ticketId, () => patchNow(ticketId, changes));
}

async function patchNow(ticketId, changes) {
  const seen = rowOf(ticketId);
  if (!seen) return false;
  const bodyFor = (row) => (typeof changes === "function" ? changes(row) : changes);
  const url = `/api/tickets/${ticketId}`;
  try {
    mergeRows([await api.patch(url, { version: seen.version, ...bodyFor(seen) })]);
    return true;
  } catch (err) {
    const fresh = err.error && err.error.ticket;
    if (fresh) mergeRows([fresh]);
    if (err.status === 409 && fresh && sameFields(seen, fresh, bodyFor(seen))) {
      try {
        mergeRows([await api.patch(url, { version: fresh.version, ...bodyFor(fresh) })]);
        return true;
      } catch (again) {
        err = again;
      }
    }
    refuse(err, ticketId);
    return false;
  }
}

async function eachTicket(ids, change, doneKey) {
  update({ actionError: null });
  const results = await Promise.all(ids.map(change));
  const done = results.filter(Boolean).length;
  if (ids.length > 1) {
    state.bulk = new Set();
    notify(t(doneKey, { n: done }), { kind: done === ids.length ? "ok" : "error" });
  }
  update();
  return results;
}

/** Take tickets; of two CMs taking the same ticket one wins, the other is told who did. */
export function take(ids) {
  return eachTicket(
    ids,
    (id) => inTurn(id, async () => {
      try {
        mergeRows([await api.post(`/api/tickets/${id}/take`)]);
        return true;
      } catch (err) {
        const fresh = err.error && err.error.ticket;
        if (fresh) mergeRows([fresh]);
        const owner = fresh && fresh.assignee_id != null ? personName(fresh.assignee_id) : null;
        refuse(err, id, err.status === 409 && owner ? t("take.taken", { name: owner }) : undefined);
        return false;
      }
    }),
    "bulk.taken",
  );
}

export function assign(ids, userId) {
  return eachTicket(ids, (id) => patchTicket(id, { assignee_id: userId }), "bulk.assigned");
}

/** Close tickets (reopen closed ones); `z` reopens them for a few seconds. */
export async function close(ids) {
  const before = new Map(ids.map((id) => [id, rowOf(id) && rowOf(id).status]));
  const reopening = ids.every((id) => before.get(id) === "closed");
  const status = reopening ? "open" : "closed";
  const results = await eachTicket(ids, (id) => patchTicket(id, { status }), `bulk.${status}`);
  const changed = ids.filter((_, i) => results[i]);
  if (changed.length && !reopening) {
    offerUndo({
      labelKey: changed.length > 1 ? "undo.closedMany" : "undo.closed",
      until: Date.now() + UNDO_CLOSE_MS,
      cancel: async () => {
        const back = await Promise.all(
          changed.map((id) => patchTicket(id, { status: before.get(id) || "open" })),
        );
        return back.every(Boolean);
      },
      done: t("undone.closed"),
    });
  }
  return results.some(Boolean);
}

export async function snooze(ids, until) {
  const iso = new Date(until).toISOString();
  const change = (id) => patchTicket(id, { snoozed_until: iso });
  const results = await eachTicket(ids, change, "bulk.snoozed");
  if (ids.length === 1 && results[0]) notify(t("snooze.done", { time: formatTime(iso) }));
  return results.some(Boolean);
}

/** Add a tag to every ticket, or remove it from all when they all have it already. */
export function toggleTag(ids, tag) {
  const allHave = ids.every((id) => (rowOf(id)?.tags || []).includes(tag));
  state.knownTags.add(tag);
  return eachTicket(
    ids,
    (id) =>
      patchTicket(id, (row) => {
        const tags = (row.tags || []).filter((known) => known !== tag);
        return { tags: allHave ? tags : [...tags, tag] };
      }),
    allHave ? "bulk.untagged" : "bulk.tagged",
  );
}

export function setPriority(ids, priority) {
  return eachTicket(ids, (id) => patchTicket(id, { priority }), "bulk.priority");
}
