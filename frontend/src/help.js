// The `?` overlay: every shortcut, generated from the one table in keys.js so it cannot drift,
// with the shortcuts on/off setting and the language switch.
import { Component, createRef } from "/static/vendor/preact.js";
import { closeOverlay } from "./commands.js";
import { onBackdrop } from "./dialog.js";
import { html } from "./html.js";
import { t } from "./i18n.js";
import { keyCaps, SECTIONS, SHORTCUTS } from "./keys.js";
import { LOCALES, setLanguage, setShortcuts } from "./settings.js";

function Keys({ shortcut }) {
  return keyCaps(shortcut).map(
    (caps, i) => html`${i > 0 && html`<span class="or">${t("help.or")}</span>`}
      <span class="caps">${caps.map((cap) => html`<kbd>${cap}</kbd>`)}</span>`,
  );
}

export class Help extends Component {
  box = createRef();

  componentDidMount() {
    this.box.current.focus();
  }

  render({ state }) {
    const user = state.user;
    return html`
      <div class="overlay" onMouseDown=${onBackdrop(closeOverlay)}>
        <div class="dialog help" role="dialog" aria-modal="true" aria-labelledby="help-title"
          tabindex="-1" ref=${this.box} data-testid="help-overlay">
          <header class="help-head">
            <h2 class="dialog-title" id="help-title">${t("help.title")}</h2>
            <button type="button" class="quiet" onClick=${closeOverlay}>${t("help.close")}</button>
          </header>
          <div class="help-settings">
            <label class="toggle">
              <input type="checkbox" checked=${user.shortcuts !== false}
                data-testid="help-shortcuts-toggle"
                onChange=${(event) => setShortcuts(event.currentTarget.checked)} />
              ${t("settings.shortcuts")}
            </label>
            <span class="help-langs" role="group" aria-label=${t("settings.language")}>
              ${Object.entries(LOCALES).map(
                ([code, name]) => html`<button type="button" key=${code} lang=${code}
                  class=${user.locale === code ? "view-tab is-current" : "view-tab"}
                  aria-pressed=${user.locale === code ? "true" : "false"}
                  data-testid=${`help-lang-${code}`} onClick=${() => setLanguage(code)}>
                  ${name}</button>`,
              )}
            </span>
          </div>
          ${user.shortcuts === false && html`<p class="hint">${t("help.off")}</p>`}
          <div class="help-sections">
            ${SECTIONS.map(
              (section) => html`
                <section key=${section} class="help-section">
                  <h3>${t(`help.section.${section}`)}</h3>
                  <dl>
                    ${SHORTCUTS.filter((entry) => entry.section === section).map(
                      (entry) => html`
                        <div class="help-row" data-testid="help-shortcut" data-id=${entry.id}>
                          <dt><${Keys} shortcut=${entry} /></dt>
                          <dd>${t(`shortcut.${entry.id}`)}${entry.bulk ? " ✱" : ""}</dd>
                        </div>
                      `,
                    )}
                  </dl>
                </section>
              `,
            )}
          </div>
          <p class="dialog-foot">${t("help.bulk")}</p>
        </div>
      </div>
    `;
  }
}
