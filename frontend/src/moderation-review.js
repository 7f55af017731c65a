// The review queue: everything a rule hid, deleted or closed as spam, newest first, each
// restorable with one key. Its state lives in `state.moderation.review`.
import { Component } from "/static/vendor/preact.js";
import { signOut } from "./actions.js";
import { api } from "./api.js";
import { html } from "./html.js";
import { errorText, formatTime, relativeAge, t } from "./i18n.js";
import { personName, state, update } from "./store.js";
import { notify } from "./toasts.js";

const PAGE = 50;
export const RESTORE_KEY = "r";
// A burst of rule hits (a raid) arrives as many events: one refetch covers them all.
const REFETCH_MS = 400;

let loadSeq = 0;
let refetchTimer = null;

export function emptyReview() {
  return {
    hits: [],
    nextCursor: null,
    loading: false,
    loadingMore: false,
    error: null,
    includeRestored: false,
    cursorId: null, // the hit under the keyboard cursor
    restoring: {}, // hit id -> true while its restore is on its way
    problems: {}, // hit id -> why it could not be restored
  };
}

function review() {
  return state.moderation && state.moderation.review;
}

function setReview(changes) {
  if (!review()) return;
  update({ moderation: { ...state.moderation, review: { ...review(), ...changes } } });
}

function failed(err) {
  if (err.status === 401) signOut();
  return errorText(err);
}

/** Merge a fresh first page into the list: new hits on top, known ones refreshed. */
function mergeFirstPage(known, page) {
  const newest = known.length ? known[0].id : 0;
  const last = page.hits[page.hits.length - 1];
  // More new hits than a page: what lies between would be missing, so start the list again.
  if (page.next_cursor != null && last && last.id > newest) return null;
  const byId = new Map(known.map((hit) => [hit.id, hit]));
  for (const hit of page.hits) byId.set(hit.id, hit);
  return [...byId.values()].sort((a, b) => b.id - a.id);
}

/**
 * Fetch the first page (`fresh`: replace the list, else merge into it) or, with `more`, the
 * next one; only the latest request's answer is kept.
 */
export async function loadReview({ more = false, fresh = false } = {}) {
  const current = review();
  if (!current || (more && (current.nextCursor == null || current.loadingMore))) return;
  const seq = more ? loadSeq : ++loadSeq;
  setReview(more ? { loadingMore: true } : { loading: fresh || !current.hits.length, error: null });
  const query = new URLSearchParams({ limit: PAGE, include_restored: current.includeRestored });
  if (more) query.set("cursor", current.nextCursor);
  try {
    const page = await api.get("/api/moderation/review", query.toString());
    if (seq !== loadSeq || !review()) return;
    const known = review().hits;
    if (more) {
      const ids = new Set(known.map((hit) => hit.id));
      const hits = [...known, ...page.hits.filter((hit) => !ids.has(hit.id))];
      setReview({ hits, nextCursor: page.next_cursor, loadingMore: false });
      return;
    }
    const merged = fresh || !known.length ? null : mergeFirstPage(known, page);
    const hits = merged || page.hits;
    const nextCursor = merged ? review().nextCursor : page.next_cursor;
    const cursorId = hits.some((hit) => hit.id === review().cursorId) ? review().cursorId : null;
    setReview({ hits, nextCursor, loading: false, cursorId: cursorId ?? hits[0]?.id ?? null });
  } catch (err) {
    if (seq !== loadSeq) return;
    setReview({ loading: false, loadingMore: false, error: failed(err) });
  }
}

export function stopReview() {
  loadSeq += 1;
  clearTimeout(refetchTimer);
  if (review()) setReview({ loading: false, loadingMore: false });
}

export function setIncludeRestored(on) {
  setReview({ includeRestored: on });
  loadReview({ fresh: true });
}

/** Live events: new rule hits refetch the first page; restores elsewhere show at once. */
export function reviewHeard(events, shown) {
  const current = review();
  if (!current) return;
  let hits = current.hits;
  for (const event of events) {
    if (event.type !== "rule_restored" || !event.data) continue;
    hits = hits.map((hit) =>
      hit.id === event.data.hit_id && !hit.restored_at
        ? { ...hit, restored_at: event.created_at, restored_by: event.actor_id }
        : hit,
    );
  }
  if (hits !== current.hits) setReview({ hits });
  if (shown && events.some((event) => event.type === "rule_applied")) {
    clearTimeout(refetchTimer);
    refetchTimer = setTimeout(() => loadReview(), REFETCH_MS);
  }
}

/** Move the keyboard cursor by `delta` entries; past the end, load the next page. */
export function moveCursor(delta) {
  const current = review();
  if (!current || !current.hits.length) return;
  const at = current.hits.findIndex((hit) => hit.id === current.cursorId);
  const next = Math.min(Math.max(at + delta, 0), current.hits.length - 1);
  if (delta > 0 && at === current.hits.length - 1) loadReview({ more: true });
  setReview({ cursorId: current.hits[next].id });
}

function authorOf(hit) {
  return (hit.item && hit.item.author_name) || t("mod.review.unknownAuthor");
}

/** Restore one hit (the cursor's by default): unhide on the platform or reopen the ticket. */
export async function restoreHit(hitId = review() && review().cursorId) {
  const current = review();
  const hit = current && current.hits.find((entry) => entry.id === hitId);
  if (!hit || hit.restored_at || current.restoring[hit.id]) return;
  setReview({ restoring: { ...current.restoring, [hit.id]: true } });
  const settle = (changes) => {
    const { [hit.id]: _, ...restoring } = review().restoring;
    setReview({ restoring, ...changes });
  };
  try {
    const fresh = await api.post(`/api/moderation/review/${hit.id}/restore`);
    if (!review()) return;
    const hits = review().hits.map((entry) =>
      entry.id === hit.id ? { ...entry, ...fresh } : entry,
    );
    const { [hit.id]: _, ...problems } = review().problems;
    settle({ hits, problems });
    const key =
      hit.action === "close_spam" ? "mod.review.restoredClose" : "mod.review.restoredHide";
    notify(t(key, { author: authorOf(hit) }), { kind: "ok" });
  } catch (err) {
    const reason = failed(err);
    if (!review()) return;
    settle({ problems: { ...review().problems, [hit.id]: reason } });
    notify(reason, { kind: "error" });
  }
}

function channelName(channelId) {
  const channel = state.channels[channelId];
  return channel ? channel.name : t("mod.review.channel", { id: channelId });
}

function Restored({ hit, now }) {
  const name = personName(hit.restored_by) || "?";
  return html`<span class="hit-restored" data-testid="hit-restored">
    ${t("mod.review.restoredBy", { name, age: relativeAge(hit.restored_at, now) })}</span>`;
}

function Hit({ hit, current, restoring, problem, now }) {
  const item = hit.item || {};
  const author = authorOf(hit);
  const restored = !!hit.restored_at;
  const classes = ["hit", current && "is-current", restored && "is-restored"].filter(Boolean);
  return html`
    <li class=${classes.join(" ")} data-testid="review-hit" data-hit-id=${hit.id}
      data-action=${hit.action} data-restored=${restored ? "true" : "false"}
      aria-current=${current ? "true" : undefined} onClick=${() => setReview({ cursorId: hit.id })}>
      <div class="hit-head">
        <span class=${`badge hit-${hit.action}`}>${t(`mod.hit.${hit.action}`)}</span>
        <span class="hit-author" data-testid="hit-author">${author}</span>
        <span class="hit-channel">${channelName(item.channel_id)}</span>
        <time class="hit-age" datetime=${hit.created_at} title=${formatTime(hit.created_at)}>
          ${relativeAge(hit.created_at, now)}</time>
      </div>
      <p class="hit-body" data-testid="hit-body">${item.body}</p>
      <div class="hit-foot">
        <span class="hit-rule" data-testid="hit-rule">
          ${t("mod.review.rule", { name: hit.rule_name })}</span>
        ${hit.action === "delete" &&
        !restored &&
        html`<span class="hit-note">${t("mod.review.deletedNote")}</span>`}
        <span class="spacer"></span>
        ${restored
          ? html`<${Restored} hit=${hit} now=${now} />`
          : html`<button type="button" class="small" data-testid="hit-restore" disabled=${restoring}
              aria-label=${t("mod.review.restoreLabel", { author })}
              aria-keyshortcuts=${current ? RESTORE_KEY : undefined}
              onClick=${(event) => {
                event.stopPropagation();
                restoreHit(hit.id);
              }}>
              ${restoring ? t("mod.review.restoring") : t("mod.review.restore")}
              ${current && html`<kbd>${RESTORE_KEY}</kbd>`}
            </button>`}
      </div>
      ${problem &&
      html`<p class="form-error hit-problem" role="alert" data-testid="hit-problem">
        ${problem}</p>`}
    </li>
  `;
}

/** The list; keeps the cursor's entry in sight as j and k move it. */
export class ReviewQueue extends Component {
  componentDidUpdate(previous) {
    const id = this.props.review.cursorId;
    if (id == null || previous.review.cursorId === id) return;
    const entry = this.base && this.base.querySelector(`[data-hit-id="${id}"]`);
    if (entry) entry.scrollIntoView({ block: "nearest" });
  }

  render({ review: current, now }) {
    const { hits, loading, loadingMore, error, nextCursor, includeRestored } = current;
    return html`
      <section class="review-queue" aria-busy=${loading ? "true" : "false"}
        data-testid="review-queue">
        <div class="review-bar">
          <p class="review-intro">${t("mod.review.intro")}</p>
          <span class="spacer"></span>
          <label class="toggle">
            <input type="checkbox" checked=${includeRestored} data-testid="review-show-restored"
              onChange=${(event) => setIncludeRestored(event.currentTarget.checked)} />
            ${t("mod.review.showRestored")}
          </label>
        </div>
        <p class="review-keys" data-testid="review-keys">
          ${t("mod.review.keys", { next: "j", prev: "k", restore: RESTORE_KEY })}</p>
        ${error &&
        html`<p class="form-error banner" role="alert" data-testid="review-error">${error}</p>`}
        ${loading && html`<p class="mod-loading" role="status">${t("mod.loading")}</p>`}
        ${!loading &&
        !error &&
        !hits.length &&
        html`<p class="empty" data-testid="review-empty">${t("mod.review.empty")}</p>`}
        <ol class="hit-list" aria-label=${t("mod.review.list")}>
          ${hits.map(
            (hit) => html`<${Hit} key=${hit.id} hit=${hit} now=${now}
              current=${hit.id === current.cursorId} restoring=${!!current.restoring[hit.id]}
              problem=${current.problems[hit.id]} />`,
          )}
        </ol>
        ${nextCursor != null &&
        html`<button type="button" class="quiet review-more" data-testid="review-more"
          disabled=${loadingMore} onClick=${() => loadReview({ more: true })}>
          ${loadingMore ? t("mod.review.loadingMore") : t("mod.review.more")}</button>`}
      </section>
    `;
  }
}
