// What a rule says and what it would have done: its one-line summary, and a dry run's counts,
// samples and authors (bodies and names from outside, always shown as text).
import { html } from "./html.js";
import { formatTime, t } from "./i18n.js";
import { state } from "./store.js";

function formatCount(n) {
  return new Intl.NumberFormat(document.documentElement.lang || "fr").format(n);
}

function conditionText(spec) {
  const label = t(`mod.cond.${spec.type}`);
  let detail = "";
  if (spec.values) detail = spec.values.join(", ");
  else if (spec.pattern) detail = `/${spec.pattern}/`;
  else if (spec.min != null || spec.max != null) {
    detail = [spec.min != null && `≥ ${spec.min}`, spec.max != null && `≤ ${spec.max}`]
      .filter(Boolean)
      .join(", ");
  }
  const text = detail ? `${label} (${detail})` : label;
  return spec.negate ? t("mod.summary.not", { text }) : text;
}

function actionText(spec) {
  const label = t(`mod.act.${spec.type}`);
  if (spec.type === "priority") return `${label} (${t(`priority.${spec.value}`)})`;
  return spec.value ? `${label} (${spec.value})` : label;
}

/** A rule in one line: its conditions, then what it does. */
export function describeRule(rule) {
  const conditions = (rule.conditions || []).map(conditionText).join(t("mod.summary.and"));
  return `${conditions} → ${(rule.actions || []).map(actionText).join(", ")}`;
}

/** How many items a dry run matched, and each action's count. */
export function DryRunCounts({ result }) {
  const actions = Object.entries(result.actions || {});
  return html`
    <div class="dry-counts" data-testid="dry-run-counts">
      <p data-testid="dry-run-matched">
        ${result.matched
          ? t("mod.dry.matched", { n: result.matched, scanned: formatCount(result.scanned) })
          : t("mod.dry.none")}
      </p>
      ${actions.length > 0 &&
      html`<ul class="dry-actions" aria-label=${t("mod.dry.counts")}>
        ${actions.map(
          ([action, n]) => html`<li key=${action} data-testid="dry-run-count" data-action=${action}>
            <span>${t(`mod.act.${action}`)}</span> <strong>${formatCount(n)}</strong></li>`,
        )}
      </ul>`}
    </div>
  `;
}

function Sample({ sample }) {
  const channel = state.channels[sample.channel_id];
  return html`
    <li class="dry-sample" data-testid="dry-run-sample">
      <div class="hit-head">
        <span class="hit-author">${sample.author_name || t("mod.review.unknownAuthor")}</span>
        <span class="hit-channel">${channel ? channel.name : ""}</span>
        <time class="hit-age" datetime=${sample.created_at}>${formatTime(sample.created_at)}</time>
      </div>
      <p class="hit-body">${sample.body}</p>
      <span class="tags">
        ${sample.actions.map((a) => html`<span key=${a} class="tag">${t(`mod.act.${a}`)}</span>`)}
      </span>
    </li>
  `;
}

function Authors({ result }) {
  const authors = result.authors || [];
  if (!authors.length) return null;
  return html`
    <h4 data-testid="dry-run-authors-total">
      ${t("mod.dry.authors", { n: result.authors_total })}</h4>
    <ul class="dry-authors">
      ${authors.map(
        (author, i) => html`<li key=${i} data-testid="dry-run-author">
          <span>${author.name}</span> <strong>${formatCount(author.count)}</strong></li>`,
      )}
    </ul>
  `;
}

/** The whole answer of a dry run, under the editor; `stale` when the draft changed since. */
export function DryRunResult({ result, stale }) {
  const samples = result.samples || [];
  return html`
    <section class="dry-run" data-testid="dry-run" aria-labelledby="dry-run-title">
      <h3 id="dry-run-title">${t("mod.dry.title", { days: result.days })}</h3>
      ${stale && html`<p class="form-error" data-testid="dry-run-stale">${t("mod.dry.stale")}</p>`}
      <${DryRunCounts} result=${result} />
      ${samples.length > 0 &&
      html`<h4>${t("mod.dry.samples")}</h4>
        <ol class="dry-samples">
          ${samples.map((sample) => html`<${Sample} key=${sample.item_id} sample=${sample} />`)}
        </ol>`}
      <${Authors} result=${result} />
    </section>
  `;
}
