// Ctrl+K / ⌘+K: one box reaching every action, group action, view, saved view, filter, incident,
// canned or holding reply and setting.
import { signOut } from "./actions.js";
import { groupOptions } from "./clusters.js";
import { closeOverlay, COMMANDS, useCanned } from "./commands.js";
import { focusComposer } from "./composer.js";
import { ListDialog } from "./dialog.js";
import { html } from "./html.js";
import { t } from "./i18n.js";
import {
  canLeadCrisis,
  incidentOf,
  incidentSubject,
  openIncident,
  openIncidents,
} from "./incidents.js";
import { keyHint, SHORTCUTS } from "./keys.js";
import { applySavedView, savedViews, setFilter, setGrouped, setSort, showView } from "./list.js";
import { LOCALES, setLanguage, setShortcuts } from "./settings.js";
import { goInbox, viewOptions } from "./switcher.js";
import { SENTIMENTS, VIEWS } from "./views.js";

const NOT_LISTED = new Set(["palette"]);

function actions(state) {
  const hidden = new Set(NOT_LISTED);
  if (!canLeadCrisis(state.user)) hidden.add("approvals");
  return SHORTCUTS.filter((entry) => !hidden.has(entry.id)).map((entry) => ({
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
      goInbox();
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
  return [...found, ...viewOptions(state)];
}

function filters(state) {
  const group = t("palette.filter");
  const found = SENTIMENTS.map((sentiment) => ({
    key: `sentiment:${sentiment}`,
    label: t("palette.sentiment", { name: t(`sentiment.${sentiment}`) }),
    group,
    checked: state.filters.sentiment === sentiment,
    run: () => setFilter("sentiment", state.filters.sentiment === sentiment ? "" : sentiment),
  }));
  if (state.filters.incident) {
    found.push({
      key: "incident:clear",
      label: t("filter.incidentClear"),
      group,
      run: () => setFilter("incident", ""),
    });
  }
  return found;
}

function incidents(state) {
  const found = openIncidents().map((incident) => ({
    key: `incident:${incident.id}`,
    label: t("palette.incident", { what: incidentSubject(incident) }),
    group: t("palette.incidents"),
    run: () => openIncident(incident.id),
  }));
  const replies = incidentOf(state.detail)?.holding_replies || [];
  replies.forEach((text, i) =>
    found.push({
      key: `holding:${i}`,
      label: t("holding.number", { n: i + 1 }),
      detail: text,
      search: `${t("holding.title")} ${text}`,
      group: t("holding.title"),
      run: () => focusComposer("reply", text),
    }),
  );
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
  const options = [
    ...actions(state),
    ...groupOptions(), // after the actions: an empty query and Enter never hide a whole group
    ...views(state),
    ...filters(state),
    ...incidents(state),
    ...canned(state),
    ...settings(state),
  ];
  return html`<${ListDialog} title=${t("palette.title")} placeholder=${t("palette.placeholder")}
    testid="palette" options=${options} onClose=${closeOverlay}
    onPick=${(option) => {
      closeOverlay();
      option.run();
    }} />`;
}
