// The page: sign-in form, or the header, the live queue and the open ticket side by side, with
// an incident's banner above, the keyboard, the dialogs and the toasts over them.
import { render } from "/static/vendor/preact.js";
import { boot, signOut } from "./actions.js";
import { ApprovalsButton } from "./approvals.js";
import { openOverlay } from "./commands.js";
import { ChannelHealth } from "./health.js";
import { html } from "./html.js";
import { t } from "./i18n.js";
import { IncidentBanner } from "./incidents.js";
import { keyHint, listenToKeys } from "./keys.js";
import { Login } from "./login.js";
import { Overlays } from "./pickers.js";
import { Queue } from "./queue.js";
import { ReportsView, reportsShown } from "./reports.js";
import { SettingsMenu } from "./settings.js";
import { subscribe, update } from "./store.js";
import { awayFromInbox, AwayView, ViewSwitch } from "./switcher.js";
import { TicketPane } from "./ticket.js";
import { Toasts } from "./toasts.js";

// Relative ages ("5 min ago") and SLA countdowns move on without any event.
const CLOCK_MS = 15_000;

function Header({ state }) {
  return html`
    <header class="top">
      <span class="brand">${t("app.title")}</span>
      <${ViewSwitch} state=${state} />
      <span class=${state.online ? "live is-on" : "live is-off"} data-testid="live-status">
        ${state.online ? t("live.on") : t("live.off")}
      </span>
      <span class="spacer"></span>
      <${ApprovalsButton} state=${state} />
      <button type="button" class="quiet" data-testid="open-palette"
        onClick=${() => openOverlay("palette")}>
        ${t("palette.button")} <kbd>${keyHint("palette")}</kbd></button>
      <${ChannelHealth} state=${state} />
      <${SettingsMenu} user=${state.user} />
      <span class="me" data-testid="user-name">${state.user.name}</span>
      <button type="button" class="quiet" data-testid="sign-out" onClick=${signOut}>
        ${t("header.signOut")}
      </button>
    </header>
  `;
}

function App({ state }) {
  if (state.booting) return html`<p class="booting">${t("app.loading")}</p>`;
  if (!state.user) return html`<${Login} state=${state} />`;
  // The inbox stays mounted (hidden) behind other views, so a reply being typed survives.
  return html`
    <div class="shell">
      <${Header} state=${state} />
      <${IncidentBanner} state=${state} />
      <div class="workspace" hidden=${awayFromInbox(state)}>
        <${Queue} state=${state} />
        <${TicketPane} state=${state} />
      </div>
      ${reportsShown(state) && html`<${ReportsView} state=${state} />`}
      <${AwayView} state=${state} />
      <${Overlays} state=${state} />
      <${Toasts} toasts=${state.toasts} />
    </div>
  `;
}

const root = document.getElementById("app");
subscribe((state) => render(html`<${App} state=${state} />`, root));
setInterval(() => update({ now: Date.now() }), CLOCK_MS);
listenToKeys();
boot();
