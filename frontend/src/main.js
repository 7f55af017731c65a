// The page: sign-in form, or the header, the live list and the open ticket side by side.
import { render } from "/static/vendor/preact.js";
import { boot, signOut } from "./actions.js";
import { ChannelHealth } from "./health.js";
import { html } from "./html.js";
import { t } from "./i18n.js";
import { Login } from "./login.js";
import { Queue } from "./queue.js";
import { subscribe, update } from "./store.js";
import { TicketPane } from "./ticket.js";

// Relative ages ("5 min ago") move on without any event.
const CLOCK_MS = 30_000;

function Header({ state }) {
  return html`
    <header class="top">
      <span class="brand">${t("app.title")}</span>
      <span class=${state.online ? "live is-on" : "live is-off"} data-testid="live-status">
        ${state.online ? t("live.on") : t("live.off")}
      </span>
      <span class="spacer"></span>
      <${ChannelHealth} state=${state} />
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
  return html`
    <div class="shell">
      <${Header} state=${state} />
      <div class="workspace">
        <${Queue} state=${state} />
        <${TicketPane} state=${state} />
      </div>
    </div>
  `;
}

const root = document.getElementById("app");
subscribe((state) => render(html`<${App} state=${state} />`, root));
setInterval(() => update({ now: Date.now() }), CLOCK_MS);
boot();
