// The person's settings (language, timezone, single-key shortcuts), saved on the server with
// PATCH /api/me, and the menu in the header that changes them.
import { api } from "./api.js";
import { openOverlay } from "./commands.js";
import { forgetCanned, loadCanned } from "./detail.js";
import { html } from "./html.js";
import { errorText, setLocale, t } from "./i18n.js";
import { keyHint } from "./keys.js";
import { state, update } from "./store.js";
import { notify } from "./toasts.js";

export const LOCALES = { fr: "Français", en: "English" };
const ZONES = (() => {
  try {
    return Intl.supportedValuesOf("timeZone");
  } catch {
    return ["Europe/Paris", "UTC"];
  }
})();

function apply(changes) {
  // the same user object: other views (the reports) know the person by it
  Object.assign(state.user, changes);
  if (state.users[state.user.id]) Object.assign(state.users[state.user.id], changes);
  setLocale(state.user.locale, state.user.timezone);
  state.rowsVersion += 1; // relative ages and labels are words: draw every row again
  update();
}

/** Change some settings at once on screen, then on the server (undone there if refused). */
export async function saveSettings(changes) {
  const before = Object.fromEntries(Object.keys(changes).map((key) => [key, state.user[key]]));
  apply(changes);
  try {
    apply(await api.patch("/api/me", changes));
  } catch (err) {
    apply(before);
    notify(errorText(err), { kind: "error" });
    return;
  }
  if ("locale" in changes) {
    forgetCanned(); // canned replies may come in the new language
    loadCanned(state.selectedId);
  }
}

export function setLanguage(locale) {
  if (locale !== state.user.locale) saveSettings({ locale });
}

export function setShortcuts(on) {
  saveSettings({ shortcuts: on });
  notify(t(on ? "settings.shortcutsOn" : "settings.shortcutsOff"));
}

/** The header's settings menu. */
export function SettingsMenu({ user }) {
  const zones = ZONES.includes(user.timezone) ? ZONES : [user.timezone, ...ZONES];
  return html`
    <details class="settings" data-testid="settings">
      <summary data-testid="settings-open">${t("settings.title")}</summary>
      <div class="settings-panel">
        <label class="field">${t("settings.language")}
          <select data-testid="settings-language" value=${user.locale}
            onChange=${(event) => setLanguage(event.currentTarget.value)}>
            ${Object.entries(LOCALES).map(
              ([code, name]) => html`<option key=${code} value=${code}>${name}</option>`,
            )}
          </select>
        </label>
        <label class="field">${t("settings.timezone")}
          <select data-testid="settings-timezone" value=${user.timezone}
            onChange=${(event) => saveSettings({ timezone: event.currentTarget.value })}>
            ${zones.map((zone) => html`<option key=${zone} value=${zone}>${zone}</option>`)}
          </select>
        </label>
        <label class="toggle">
          <input type="checkbox" checked=${user.shortcuts !== false} data-testid="settings-shortcuts"
            onChange=${(event) => setShortcuts(event.currentTarget.checked)} />
          ${t("settings.shortcuts")}
        </label>
        <button type="button" class="quiet" data-testid="settings-help"
          onClick=${() => openOverlay("help")}>
          ${t("settings.showHelp")} <kbd>?</kbd></button>
        <p class="hint">${t("settings.palette", { keys: keyHint("palette") })}</p>
      </div>
    </details>
  `;
}
