// What surrounds a conversation: the post a comment answers (its text and a link to it) and
// the same person's other conversations on every channel, newest first.
import { api } from "./api.js";
import { openTicket } from "./detail.js";
import { ChannelIcon } from "./icons.js";
import { html } from "./html.js";
import { relativeAge, t } from "./i18n.js";
import { state, update } from "./store.js";

const HISTORY_SIZE = 8;
const FRESH_MS = 60_000; // then a new look asks again: the person may have written since
const histories = new Map(); // contact id -> { rows, loading, error, at }

function safeLink(url) {
  try {
    const parsed = new URL(url);
    return parsed.protocol === "https:" || parsed.protocol === "http:" ? parsed.href : null;
  } catch {
    return null;
  }
}

/** The post (video, photo, tweet) the conversation answers, as its platform showed it. */
export function PostContext({ detail }) {
  if (!detail.post_text && !detail.post_url) return null;
  const link = detail.post_url && safeLink(detail.post_url);
  return html`
    <aside class="post-context" data-testid="post-context" aria-label=${t("context.post")}>
      <span class="context-label">${t("context.post")}</span>
      ${detail.post_text && html`<p class="post-text">${detail.post_text}</p>`}
      ${link &&
      html`<a href=${link} target="_blank" rel="noopener noreferrer nofollow"
        data-testid="post-link">${t("context.openPost")}</a>`}
    </aside>
  `;
}

async function loadHistory(contactId) {
  const before = histories.get(contactId);
  histories.set(contactId, { rows: before?.rows ?? [], loading: true, error: null, at: Date.now() });
  try {
    const query = new URLSearchParams({ contact: contactId, limit: HISTORY_SIZE + 1 });
    for (const status of ["open", "pending", "snoozed", "closed"]) query.append("status", status);
    const page = await api.get("/api/tickets", query.toString());
    histories.set(contactId, { rows: page.tickets, loading: false, error: null, at: Date.now() });
  } catch (error) {
    histories.set(contactId, { rows: [], loading: false, error: error.message, at: Date.now() });
  }
  update();
}

/** The contact's other conversations on every channel; Enter or a click opens one. */
export function ContactHistory({ detail }) {
  if (!detail.contact_id) return null;
  const known = histories.get(detail.contact_id);
  if (!known || (!known.loading && Date.now() - known.at > FRESH_MS)) {
    loadHistory(detail.contact_id);
    if (!known) return null;
  }
  const others = known.rows.filter((row) => row.id !== detail.id).slice(0, HISTORY_SIZE);
  if (!others.length && !known.error) return null;
  return html`
    <aside class="contact-history" data-testid="contact-history"
      aria-label=${t("context.history", { name: detail.author_name })}>
      <span class="context-label">${t("context.history", { name: detail.author_name })}</span>
      ${known.error && html`<p class="form-error">${known.error}</p>`}
      <ul>
        ${others.map(
          (row) => html`
            <li key=${row.id}>
              <button type="button" class="history-entry" data-testid="history-entry"
                data-ticket-id=${row.id} onClick=${() => openTicket(row.id)}>
                <${ChannelIcon} channel=${state.channels[row.channel_id]} />
                <span class=${`badge kind-${row.kind}`}>${t(`kind.${row.kind}`)}</span>
                <span class="history-preview">${row.preview || row.subject}</span>
                <span class=${`status is-${row.status}`}>${t(`status.${row.status}`)}</span>
                <time datetime=${row.last_activity_at}>${relativeAge(row.last_activity_at)}</time>
              </button>
            </li>
          `,
        )}
      </ul>
    </aside>
  `;
}
