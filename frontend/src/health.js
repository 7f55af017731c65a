// The channels' health in the header: quiet when all is well, loud when a channel needs a person.
import { html } from "./html.js";
import { relativeAge, t } from "./i18n.js";

const PROBLEMS = new Set(["error", "needs_reconnection", "silent"]);

export function ChannelHealth({ state }) {
  const channels = Object.values(state.channels).filter((c) => c.enabled !== false);
  if (!channels.length) return null;
  const bad = channels.filter((c) => PROBLEMS.has(c.health));
  const label = bad.length
    ? t("health.problems", { n: bad.length })
    : t("health.allOk", { n: channels.length });
  return html`
    <details class=${bad.length ? "health is-bad" : "health"} data-testid="channel-health">
      <summary data-testid="channel-health-badge">${label}</summary>
      <ul class="health-list">
        ${channels.map(
          (c) => html`
            <li key=${c.id} data-testid="channel-health-row" data-health=${c.health}>
              <span class="health-name">${c.name}</span>
              <span class=${"health-state is-" + c.health}>${t("health." + c.health)}</span>
              ${c.last_error && html`<span class="health-error">${c.last_error}</span>`}
              ${c.last_sync_at &&
              html`<span class="health-sync">
                ${t("health.lastSync", { age: relativeAge(c.last_sync_at, state.now) })}
              </span>`}
            </li>
          `,
        )}
      </ul>
    </details>
  `;
}
