// The rules, for managers and admins: their order, on/off (with the dry run's figures before
// turning one on), deletion, and the editor. Their state lives in `state.moderation.rules`.
import { Component, createRef } from "/static/vendor/preact.js";
import { signOut } from "./actions.js";
import { api } from "./api.js";
import { onBackdrop } from "./dialog.js";
import { html } from "./html.js";
import { errorText, t } from "./i18n.js";
import { DryRunCounts, describeRule } from "./moderation-dryrun.js";
import { editRule, RuleEditor } from "./moderation-editor.js";
import { state, update } from "./store.js";
import { notify } from "./toasts.js";

const POSITION_STEP = 10;
let loadSeq = 0;

export function emptyRules() {
  return {
    list: [],
    loading: false,
    error: null,
    teams: [],
    dryRuns: {}, // rule id -> the dry run of its current version
    confirm: null, // {kind: "enable" | "delete", id, running, error}
    busy: false,
  };
}

function rules() {
  return state.moderation && state.moderation.rules;
}

export function setRules(changes) {
  if (!rules()) return;
  update({ moderation: { ...state.moderation, rules: { ...rules(), ...changes } } });
}

function failed(err) {
  if (err.status === 401) signOut();
  return errorText(err);
}

/** Fetch the rules in their order, and the teams a rule may assign to. */
export async function loadRules() {
  if (!rules()) return;
  const seq = ++loadSeq;
  setRules({ loading: true, error: null });
  try {
    const [answer, teams] = await Promise.all([api.get("/api/rules"), api.get("/api/teams")]);
    if (seq === loadSeq) setRules({ list: answer.rules, teams, loading: false });
  } catch (err) {
    if (seq === loadSeq) setRules({ loading: false, error: failed(err) });
  }
}

function ruleById(id) {
  return rules().list.find((rule) => rule.id === id);
}

function replaceRule(fresh) {
  setRules({ list: rules().list.map((rule) => (rule.id === fresh.id ? fresh : rule)) });
}

/** A write refused as stale (409) reloads the list; other refusals are said. */
function refused(err) {
  if (err.status === 409) {
    notify(t("mod.rules.stale"), { kind: "error" });
    loadRules();
  } else notify(failed(err), { kind: "error" });
}

/** Swap a rule with its neighbour, then write the positions that changed. */
async function moveRule(id, delta) {
  const list = [...rules().list];
  const at = list.findIndex((rule) => rule.id === id);
  const to = at + delta;
  if (at < 0 || to < 0 || to >= list.length || rules().busy) return;
  [list[at], list[to]] = [list[to], list[at]];
  setRules({ list, busy: true });
  try {
    for (const [index, rule] of list.entries()) {
      const position = (index + 1) * POSITION_STEP;
      if (rule.position === position) continue;
      replaceRule(await api.patch(`/api/rules/${rule.id}`, { position, version: rule.version }));
    }
  } catch (err) {
    refused(err);
  } finally {
    setRules({ busy: false });
  }
  focusLater(`[data-rule-id="${id}"] [data-move="${delta > 0 ? "down" : "up"}"]`);
}

function focusLater(selector) {
  setTimeout(() => document.querySelector(selector)?.focus());
}

async function setEnabled(id, enabled) {
  const rule = ruleById(id);
  if (!rule) return;
  setRules({ busy: true });
  try {
    const fresh = await api.patch(`/api/rules/${id}`, { enabled, version: rule.version });
    replaceRule(fresh);
    notify(t(enabled ? "mod.rules.enabled" : "mod.rules.disabled", { name: fresh.name }), {
      kind: "ok",
    });
  } catch (err) {
    refused(err);
  } finally {
    setRules({ busy: false });
  }
}

function onSwitch(rule) {
  // Turning a rule on is the step that matters: it asks first, with the dry run's figures.
  if (rule.enabled) setEnabled(rule.id, false);
  else setRules({ confirm: { kind: "enable", id: rule.id } });
}

export function closeConfirm() {
  const confirm = rules() && rules().confirm;
  if (!confirm) return;
  setRules({ confirm: null });
  focusLater(`[data-rule-id="${confirm.id}"] [data-testid="rule-switch"]`);
}

async function confirmed() {
  const { kind, id } = rules().confirm;
  const rule = ruleById(id);
  setRules({ confirm: null });
  if (kind === "enable") {
    await setEnabled(id, true);
    return focusLater(`[data-rule-id="${id}"] [data-testid="rule-switch"]`);
  }
  focusLater("[data-testid=rule-new]");
  try {
    await api.delete(`/api/rules/${id}`);
    const { [id]: _, ...dryRuns } = rules().dryRuns;
    setRules({ list: rules().list.filter((entry) => entry.id !== id), dryRuns });
    notify(t("mod.rules.deleted", { name: rule ? rule.name : "" }), { kind: "ok" });
  } catch (err) {
    refused(err);
  }
}

async function dryRunSaved(id) {
  setRules({ confirm: { ...rules().confirm, running: true, error: null } });
  try {
    const result = await api.post(`/api/rules/${id}/dry-run`, { days: 30 });
    setRules({ dryRuns: { ...rules().dryRuns, [id]: result } });
    if (rules().confirm) setRules({ confirm: { ...rules().confirm, running: false } });
  } catch (err) {
    const error = failed(err);
    if (rules() && rules().confirm) {
      setRules({ confirm: { ...rules().confirm, running: false, error } });
    }
  }
}

class Confirm extends Component {
  yes = createRef();

  componentDidMount() {
    this.yes.current.focus();
  }

  render({ confirm, rule, dryRun }) {
    const enabling = confirm.kind === "enable";
    const title = t(enabling ? "mod.confirm.enableTitle" : "mod.confirm.deleteTitle", {
      name: rule.name,
    });
    return html`
      <div class="overlay" onMouseDown=${onBackdrop(closeConfirm)}>
        <div class="dialog mod-confirm" role="alertdialog" aria-modal="true"
          aria-labelledby="mod-confirm-title" data-testid="rule-confirm">
          <h2 class="dialog-title" id="mod-confirm-title">${title}</h2>
          ${enabling &&
          dryRun &&
          html`<p class="hint">${t("mod.dry.title", { days: dryRun.days })}</p>
            <${DryRunCounts} result=${dryRun} />`}
          ${enabling &&
          !dryRun &&
          html`<p data-testid="confirm-no-dry-run">${t("mod.confirm.noDryRun")}</p>
            <p><button type="button" class="small" data-testid="confirm-dry-run"
              disabled=${confirm.running} onClick=${() => dryRunSaved(rule.id)}>
              ${confirm.running ? t("mod.editor.dryRunning") : t("mod.confirm.runDryRun")}
            </button></p>`}
          ${confirm.error && html`<p class="form-error" role="alert">${confirm.error}</p>`}
          <p>${t(enabling ? "mod.confirm.enableBody" : "mod.confirm.deleteBody")}</p>
          <div class="dialog-actions">
            <button type="button" class=${enabling ? "primary" : "danger"} ref=${this.yes}
              data-testid="rule-confirm-yes" onClick=${confirmed}>
              ${t(enabling ? "mod.confirm.enable" : "mod.confirm.delete")}</button>
            <button type="button" data-testid="rule-confirm-no" onClick=${closeConfirm}>
              ${t("mod.confirm.cancel")}</button>
          </div>
        </div>
      </div>
    `;
  }
}

function RuleRow({ rule, index, count, busy }) {
  const name = rule.name;
  return html`
    <li class=${rule.enabled ? "rule is-on" : "rule"} data-testid="rule-row" data-rule-id=${rule.id}
      data-enabled=${rule.enabled ? "true" : "false"}>
      <span class="rule-index">${index + 1}</span>
      <div class="rule-main">
        <strong class="rule-name" data-testid="rule-name">${name}</strong>
        <span class="rule-summary">${describeRule(rule)}</span>
      </div>
      ${rule.stop &&
      html`<span class="badge" data-testid="rule-stop">${t("mod.rules.stop")}</span>`}
      <button type="button" role="switch" class="switch"
        aria-checked=${rule.enabled ? "true" : "false"}
        aria-label=${t("mod.rules.switch", { name })} data-testid="rule-switch" disabled=${busy}
        onClick=${() => onSwitch(rule)}>
        <span class="switch-knob" aria-hidden="true"></span>
        ${t(rule.enabled ? "mod.rules.on" : "mod.rules.off")}
      </button>
      <span class="rule-moves">
        <button type="button" class="small" data-move="up" aria-label=${t("mod.rules.up", { name })}
          disabled=${busy || index === 0} onClick=${() => moveRule(rule.id, -1)}>↑</button>
        <button type="button" class="small" data-move="down"
          aria-label=${t("mod.rules.down", { name })}
          disabled=${busy || index === count - 1} onClick=${() => moveRule(rule.id, 1)}>↓</button>
      </span>
      <button type="button" class="small" data-testid="rule-edit"
        aria-label=${t("mod.rules.editLabel", { name })} onClick=${() => editRule(rule)}>
        ${t("mod.rules.edit")}</button>
      <button type="button" class="small quiet" data-testid="rule-delete"
        aria-label=${t("mod.rules.deleteLabel", { name })}
        onClick=${() => setRules({ confirm: { kind: "delete", id: rule.id } })}>
        ${t("mod.rules.delete")}</button>
    </li>
  `;
}

export function RulesPanel({ moderation }) {
  const { list, loading, error, confirm, busy, dryRuns } = moderation.rules;
  if (moderation.editor) return html`<${RuleEditor} moderation=${moderation} />`;
  const confirming = confirm && list.find((rule) => rule.id === confirm.id);
  return html`
    <section class="rules-panel" data-testid="rules-panel"
      aria-busy=${loading ? "true" : "false"}>
      <div class="review-bar">
        <p class="review-intro">${t("mod.rules.intro")}</p>
        <span class="spacer"></span>
        <button type="button" class="primary" data-testid="rule-new"
          onClick=${() => editRule(null)}>
          ${t("mod.rules.new")}</button>
      </div>
      ${error &&
      html`<p class="form-error banner" role="alert" data-testid="rules-error">${error}</p>`}
      ${loading &&
      !list.length &&
      html`<p class="mod-loading" role="status">${t("mod.loading")}</p>`}
      ${!loading && !error && !list.length && html`<p class="empty">${t("mod.rules.empty")}</p>`}
      <ol class="rule-list" aria-label=${t("mod.rules.list")}>
        ${list.map(
          (rule, index) => html`<${RuleRow} key=${rule.id} rule=${rule} index=${index}
            count=${list.length} busy=${busy} />`,
        )}
      </ol>
      ${confirming &&
      html`<${Confirm} confirm=${confirm} rule=${confirming} dryRun=${dryRuns[confirming.id]} />`}
    </section>
  `;
}
