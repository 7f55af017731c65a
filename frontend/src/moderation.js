// The moderation view: the review queue of what rules hid, deleted or closed (every CM) and the
// rules themselves (managers and admins), with its own keys. Its state lives in
// `state.moderation`.
import { Component } from "/static/vendor/preact.js";
import { html } from "./html.js";
import { STRINGS, t } from "./i18n.js";
import {
  emptyReview,
  loadReview,
  moveCursor,
  RESTORE_KEY,
  restoreHit,
  ReviewQueue,
  reviewHeard,
  stopReview,
} from "./moderation-review.js";
import { closeConfirm, emptyRules, loadRules, RulesPanel } from "./moderation-rules.js";
import { closeReports } from "./reports.js";
import { state, update } from "./store.js";
import en from "./strings-moderation-en.js";
import fr from "./strings-moderation-fr.js";

Object.assign(STRINGS.fr, fr);
Object.assign(STRINGS.en, en);

const RULE_ROLES = new Set(["manager", "admin"]);

/** Whether this person may see and change the rules (the API refuses agents). */
export function canManageRules(user) {
  return !!user && RULE_ROLES.has(user.role);
}

/** Whether the moderation view, rather than the inbox, is what the page shows now. */
export function moderationShown(current) {
  const moderation = current.moderation;
  return !!moderation && moderation.open && !!current.user && moderation.user === current.user;
}

function defaults(user) {
  const parts = { review: emptyReview(), rules: emptyRules(), editor: null };
  return { user, open: false, tab: "review", ...parts };
}

export function openModeration() {
  closeReports();
  // A new sign-in is a new user object: its moderation view starts from the defaults.
  const known = state.moderation && state.moderation.user === state.user ? state.moderation : null;
  const moderation = { ...(known || defaults(state.user)), open: true };
  if (moderation.tab === "rules" && !canManageRules(state.user)) moderation.tab = "review";
  update({ moderation });
  loadReview({ fresh: true });
  if (canManageRules(state.user)) loadRules();
}

export function closeModeration() {
  stopReview();
  if (state.moderation) update({ moderation: { ...state.moderation, open: false } });
}

/**
 * Live events for the view: new rule hits refresh the review queue while it is shown, restores
 * made elsewhere show at once. actions.js's applyEvents passes every batch here.
 */
export function moderationHeard(events) {
  if (state.moderation && state.moderation.user === state.user) {
    reviewHeard(events, moderationShown(state) && state.moderation.tab === "review");
  }
}

function showTab(tab) {
  update({ moderation: { ...state.moderation, tab } });
  if (tab === "review") loadReview();
  else loadRules();
}

// ---- keys -------------------------------------------------------------------------------

function inField(target) {
  if (!target) return false;
  return target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName);
}

/**
 * The view's own keys, heard before the inbox's (capture phase): j / k move in the review queue,
 * r restores, Escape closes the dialog or leaves a field.
 */
function onKeyDown(event) {
  if (event.defaultPrevented || event.isComposing || state.overlay) return;
  if (!moderationShown(state) || event.ctrlKey || event.metaKey || event.altKey) return;
  const moderation = state.moderation;
  const field = inField(event.target);
  if (event.key === "Escape") {
    // Not the inbox's Escape: that one would close the ticket left open behind this view.
    event.preventDefault();
    if (moderation.rules.confirm) closeConfirm();
    else if (field) event.target.blur();
    return;
  }
  if (field || moderation.tab !== "review" || state.user.shortcuts === false) return;
  const run = {
    j: () => moveCursor(1),
    k: () => moveCursor(-1),
    [RESTORE_KEY]: () => restoreHit(),
  };
  if (!Object.hasOwn(run, event.key)) return;
  event.preventDefault();
  run[event.key]();
}

// ---- the view ---------------------------------------------------------------------------

function Tabs({ moderation, user }) {
  if (!canManageRules(user)) return null;
  const tab = (id) => {
    const current = moderation.tab === id;
    return html`<button type="button" class=${current ? "view-tab is-current" : "view-tab"}
      aria-pressed=${current ? "true" : "false"} data-testid=${`moderation-tab-${id}`}
      onClick=${() => current || showTab(id)}>${t(`mod.tab.${id}`)}</button>`;
  };
  return html`<nav class="views" aria-label=${t("mod.sections")}>
    ${tab("review")}${tab("rules")}</nav>`;
}

export class ModerationView extends Component {
  componentDidMount() {
    window.addEventListener("keydown", onKeyDown, true);
  }

  componentWillUnmount() {
    window.removeEventListener("keydown", onKeyDown, true);
  }

  render({ state: current }) {
    const moderation = current.moderation;
    const rules = moderation.tab === "rules" && canManageRules(current.user);
    return html`
      <main class="mod-view" data-testid="moderation-view">
        <header class="mod-head">
          <h2>${t("mod.title")}</h2>
          <${Tabs} moderation=${moderation} user=${current.user} />
        </header>
        ${rules
          ? html`<${RulesPanel} moderation=${moderation} />`
          : html`<${ReviewQueue} review=${moderation.review} now=${current.now} />`}
      </main>
    `;
  }
}
