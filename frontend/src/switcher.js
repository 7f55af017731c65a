// Which view the page shows (the inbox, the moderation view, the reports) and the header's tabs
// that switch between them; one view away from the inbox at a time.
import { html } from "./html.js";
import { t } from "./i18n.js";
import * as moderationModule from "./moderation.js";
import { canSeeReports, closeReports, openReports, reportsShown } from "./reports.js";

// The moderation view (review queue and rules) lives in its own modules; read as a namespace, when
// used rather than at load (the modules import each other), so that a name it lacks leaves the
// inbox without that tab rather than without a page.
function fromModeration(name) {
  try {
    const found = moderationModule[name];
    return typeof found === "function" ? found : null;
  } catch {
    return null;
  }
}

function hasModeration() {
  return !!(fromModeration("ModerationView") && fromModeration("moderationShown"));
}

function call(name, ...args) {
  const found = hasModeration() && fromModeration(name);
  return found ? found(...args) : undefined;
}

export function moderationShown(state) {
  return !!call("moderationShown", state);
}

/** Pass a batch of live events to the moderation view (its review queue follows rule hits). */
export function moderationHeard(events) {
  call("moderationHeard", events);
}

/** Whether a view other than the inbox covers it (the inbox stays mounted, hidden, behind). */
export function awayFromInbox(state) {
  return reportsShown(state) || moderationShown(state);
}

export function goInbox() {
  closeReports();
  call("closeModeration");
}

export function goReports() {
  call("closeModeration");
  openReports();
}

export function goModeration() {
  closeReports();
  call("openModeration");
}

/** The view shown instead of the inbox, if any. */
export function AwayView({ state }) {
  if (reportsShown(state)) return null; // main.js draws the reports itself
  const View = hasModeration() && fromModeration("ModerationView");
  return View && moderationShown(state) ? html`<${View} state=${state} />` : null;
}

/** The tabs in the header: the inbox, moderation for every CM, reports for managers. */
export function ViewSwitch({ state }) {
  const tabs = [["inbox", t("reports.nav.inbox"), goInbox]];
  if (hasModeration()) tabs.push(["moderation", t("nav.moderation"), goModeration]);
  if (canSeeReports(state.user)) tabs.push(["reports", t("reports.nav.reports"), goReports]);
  if (tabs.length < 2) return null;
  const current = reportsShown(state) ? "reports" : moderationShown(state) ? "moderation" : "inbox";
  return html`
    <nav class="views" aria-label=${t("nav.views")}>
      ${tabs.map(
        ([name, label, go]) => html`<button type="button" key=${name}
          class=${name === current ? "view-tab is-current" : "view-tab"}
          aria-pressed=${name === current ? "true" : "false"} data-testid=${`open-${name}`}
          onClick=${() => name === current || go()}>${label}</button>`,
      )}
    </nav>
  `;
}

/** Palette entries to go to each view this person has. */
export function viewOptions(state) {
  const group = t("palette.views");
  const found = [];
  if (hasModeration()) {
    found.push({ key: "go:moderation", label: t("nav.moderation"), group, run: goModeration });
  }
  if (canSeeReports(state.user)) {
    found.push({ key: "go:reports", label: t("reports.nav.reports"), group, run: goReports });
  }
  if (found.length) {
    found.push({ key: "go:inbox", label: t("reports.nav.inbox"), group, run: goInbox });
  }
  return found;
}
