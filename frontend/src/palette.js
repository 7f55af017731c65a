// Ctrl+K / ⌘+K: one box reaching every action, view, saved view, canned reply and setting.
import { signOut } from "./actions.js";
import { closeOverlay, COMMANDS, useCanned } from "./commands.js";
import { ListDialog } from "./dialog.js";
import { html } from "./html.js";
import { t } from "./i18n.js";
import { keyHint, SHORTCUTS } from "./keys.js";
import { applySavedView, savedViews, setGrouped, setSort, showView } from "./list.js";
import { canSeeReports, closeReports, openReports } from "./reports.js";
import { LOCALES, setLanguage, setShortcuts } from "./settings.js";
import { VIEWS } from "./views.js";

const NOT_LISTED = new Set(["palette"]);

function actions() {
  return SHORTCUTS.filter((entry) => !NOT_LISTED.has(entry.id)).map((entry) => ({
    key: `do:${entry.id}`,
    label: t(`shortcut.${entry.id}`),
    group: t("palette.action"),
    hint: keyHint(entry.id),
    run: COMMANDS[entry.id],
  }));
}

function views(state) {
  const found = VIEWS.map((view) => ({
    key: `view:${view}`,
    label: t("palette.view", { name: t(`view.${view}`) }),
    group: t("palette.views"),
    run: () => {
      closeReports();
      showView(view);
    },
  }));
  for (const saved of savedViews()) {
    found.push({
      key: `saved:${saved.name}`,
      label: t("palette.view", { name: saved.name }),
      group: t("palette.saved"),
      run: () => applySavedView(saved),
    });
  }
  if (canSeeReports(state.user)) {
    const group = t("palette.views");
    found.push({ key: "go:reports", label: t("reports.nav.reports"), group, run: openReports });
    found.push({ key: "go:inbox", label: t("reports.nav.inbox"), group, run: closeReports });
  }
  return found;
}

function canned(state) {
  return state.canned.list.map((entry) => ({
    key: `canned:${entry.id}`,
    label: entry.title,
    detail: entry.rendered || entry.body,
    search: `${entry.title} ${t("palette.canned")}`,
    group: t("palette.canned"),
    run: () => useCanned(entry.id),
  }));
}

function settings(state) {
  const user = state.user;
  const languages = Object.entries(LOCALES)
    .filter(([code]) => code !== user.locale)
    .map(([code, name]) => ({
      key: `lang:${code}`,
      label: t("palette.language", { name }),
      search: `${t("palette.language", { name })} language langue`,
      group: t("palette.settings"),
      run: () => setLanguage(code),
    }));
  const shortcutsOn = user.shortcuts !== false;
  const other = state.sort === "urgency" ? "activity" : "urgency";
  return [
    ...languages,
    {
      key: "shortcuts",
      label: t(shortcutsOn ? "palette.shortcutsOff" : "palette.shortcutsOn"),
      group: t("palette.settings"),
      run: () => setShortcuts(!shortcutsOn),
    },
    {
      key: "sort",
      label: t("palette.sort", { name: t(`sort.${other}`) }),
      group: t("palette.settings"),
      run: () => setSort(other),
    },
    {
      key: "group",
      label: t(state.grouped ? "palette.ungroup" : "palette.group"),
      group: t("palette.settings"),
      run: () => setGrouped(!state.grouped),
    },
    { key: "signout", label: t("header.signOut"), group: t("palette.settings"), run: signOut },
  ];
}

export function Palette({ state }) {
  const options = [...actions(), ...views(state), ...canned(state), ...settings(state)];
  return html`<${ListDialog} title=${t("palette.title")} placeholder=${t("palette.placeholder")}
    testid="palette" options=${options} onClose=${closeOverlay}
    onPick=${(option) => {
      closeOverlay();
      option.run();
    }} />`;
}
