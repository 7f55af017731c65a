// The queue's views and filters: what each asks the server for, which live rows belong, the order.

export const VIEWS = ["mine", "unassigned", "team", "all", "closed"];
export const KINDS = ["dm", "comment", "mention", "quote", "repost", "review", "email"];
export const PRIORITIES = ["low", "normal", "high", "urgent"];
export const SORTS = ["urgency", "activity"];
export const SENTIMENTS = ["negative", "neutral", "positive"];
// `incident` is set from an incident's panel, not from a select.
export const FILTER_KEYS = ["channel", "kind", "tag", "priority", "sentiment", "incident", "q"];
export const PAGE_SIZE = 100;
const OPEN = ["open", "pending"];
const FAR_FUTURE = Date.UTC(9999, 0, 1);

export function emptyFilters() {
  return { channel: "", kind: "", tag: "", priority: "", sentiment: "", incident: "", q: "" };
}

function teamIds(user) {
  return (user.teams || []).map((team) => team.id);
}

/** The sort a view uses: closed tickets by latest activity, the rest as the person chose. */
export function sortOf(state) {
  return state.view === "closed" ? "activity" : state.sort;
}

/** The query string of one page of the current view. */
export function listQuery(state, cursor) {
  const params = new URLSearchParams();
  for (const status of state.view === "closed" ? ["closed"] : OPEN) params.append("status", status);
  params.set("sort", sortOf(state));
  if (state.view === "mine") params.set("assignee", "me");
  if (state.view === "unassigned") params.set("assignee", "none");
  const teams = teamIds(state.user);
  if (state.view === "team" && teams.length === 1) params.set("team", teams[0]);
  for (const key of FILTER_KEYS) if (state.filters[key]) params.set(key, state.filters[key]);
  params.set("limit", PAGE_SIZE);
  if (cursor) params.set("cursor", cursor);
  return params.toString();
}

function mentionsText(row, text) {
  const needle = text.toLowerCase();
  return [row.author_name, row.preview, row.subject].some((field) =>
    String(field || "")
      .toLowerCase()
      .includes(needle),
  );
}

/** Whether a (live) row belongs in the current view; `listed` says it is shown already. */
export function rowMatches(row, state, listed) {
  const { view, filters, user } = state;
  if (!(view === "closed" ? ["closed"] : OPEN).includes(row.status)) return false;
  if (view === "mine" && row.assignee_id !== user.id) return false;
  if (view === "unassigned" && row.assignee_id != null) return false;
  const teams = teamIds(user);
  if (view === "team" && teams.length && !teams.includes(row.team_id)) return false;
  if (filters.channel && row.channel_id !== Number(filters.channel)) return false;
  if (filters.kind && row.kind !== filters.kind) return false;
  if (filters.priority && row.priority !== filters.priority) return false;
  if (filters.tag && !(row.tags || []).includes(filters.tag)) return false;
  if (filters.sentiment && row.sentiment !== filters.sentiment) return false;
  if (filters.incident && row.incident_id !== Number(filters.incident)) return false;
  // The server also searches every message's text: a row it found stays.
  if (filters.q && !listed && !mentionsText(row, filters.q)) return false;
  return true;
}

/** When a row's response is due (first or next response), as ms, or null. */
export function dueAt(row) {
  const due = row.first_response_due_at || row.next_response_due_at;
  return due ? Date.parse(due) : null;
}

/**
 * Rows in the server's order for a sort (so pages fetched later fit in place). `keyOf(row)`
 * gives the row whose values place it (the open ticket keeps its place while it is worked on).
 */
export function sortRows(rows, sort, keyOf = (row) => row) {
  const keyed = rows.map((row) => {
    const by = keyOf(row);
    return sort === "urgency"
      ? [dueAt(by) ?? FAR_FUTURE, Date.parse(by.last_inbound_at || by.created_at), by.id, row]
      : [-Date.parse(by.last_activity_at), 0, -by.id, row];
  });
  keyed.sort((a, b) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2]);
  return keyed.map((entry) => entry[3]);
}
