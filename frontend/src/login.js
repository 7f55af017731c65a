// The sign-in form; the API's own error message is shown when it refuses.
import { signIn } from "./actions.js";
import { html } from "./html.js";
import { t } from "./i18n.js";

function submit(event) {
  event.preventDefault();
  const fields = event.currentTarget.elements;
  signIn(fields.email.value, fields.password.value);
}

export function Login({ state }) {
  return html`
    <main class="login">
      <form class="login-card" method="post" novalidate onSubmit=${submit}>
        <h1>${t("app.title")}</h1>
        <h2>${t("login.title")}</h2>
        <label>
          <span>${t("login.email")}</span>
          <input name="email" type="email" autocomplete="username" required autofocus
            data-testid="login-email" />
        </label>
        <label>
          <span>${t("login.password")}</span>
          <input name="password" type="password" autocomplete="current-password" required
            data-testid="login-password" />
        </label>
        ${state.loginError &&
        html`<p class="form-error" role="alert" data-testid="login-error">${state.loginError}</p>`}
        <button class="primary" type="submit" disabled=${state.signingIn} data-testid="login-submit">
          ${t("login.submit")}
        </button>
      </form>
    </main>
  `;
}
