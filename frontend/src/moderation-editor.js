// The rule editor: name, conditions, actions and stop flag; saving (a new rule is saved
// disabled), the 30-day dry run, and the server's refusals. Its state is `state.moderation.editor`.
import { signOut } from "./actions.js";
import { api } from "./api.js";
import { html } from "./html.js";
import { errorText, t } from "./i18n.js";
import { DryRunResult } from "./moderation-dryrun.js";
import {
  ActionRow,
  actionOut,
  actionRow,
  addRow,
  changeDraft,
  ConditionRow,
  conditionOut,
  conditionRow,
  editor,
  errorFor,
  FieldError,
  focusLater,
  invalid,
  setEditor,
} from "./moderation-rows.js";
import { state, update } from "./store.js";
import { notify } from "./toasts.js";

const DAYS = 30;
// Error fields the form can show in place; anything else goes in the form's banner.
const PLACED = /^(name|stop|conditions(\.\d+)?|actions(\.\d+)?)(\.|$)/;

function bodyOf(draft) {
  return {
    name: draft.name.trim(),
    stop: draft.stop,
    conditions: draft.conditions.map(conditionOut),
    actions: draft.actions.map(actionOut),
  };
}

// What a dry run depends on: everything but the name.
function runKey(body) {
  return JSON.stringify([body.stop, body.conditions, body.actions]);
}

function draftOf(rule) {
  if (!rule) return { name: "", stop: false, conditions: [conditionRow()], actions: [actionRow()] };
  return {
    name: rule.name,
    stop: rule.stop,
    conditions: rule.conditions.map((spec) => conditionRow(spec)),
    actions: rule.actions.map((spec) => actionRow(spec)),
  };
}

/** Open the editor on a rule, or on a new one (`null`). */
export function editRule(rule) {
  const draft = draftOf(rule);
  const savedKey = rule ? runKey(bodyOf(draft)) : null;
  const dryRun = (rule && state.moderation.rules.dryRuns[rule.id]) || null;
  const opened = {
    ruleId: rule ? rule.id : null,
    version: rule?.version,
    position: rule?.position,
    enabled: !!rule?.enabled,
    draft,
    savedKey,
    errors: {},
    formError: null,
    saving: false,
    dryRun,
    dryRunKey: dryRun ? savedKey : null,
    dryRunning: false,
  };
  update({ moderation: { ...state.moderation, editor: opened } });
  focusLater("#rule-name");
}

export function closeEditor() {
  const open = editor();
  if (!open) return;
  update({ moderation: { ...state.moderation, editor: null } });
  const row = open.ruleId && `[data-rule-id="${open.ruleId}"] [data-testid="rule-edit"]`;
  focusLater(row || "[data-testid=rule-new]");
}

function showErrors(err) {
  if (err.status === 401) return signOut();
  // The dry run of a draft names fields inside its `rule`.
  const field = err.field && err.field.replace(/^rule\./, "");
  if (err.status === 400 && field && PLACED.test(field)) {
    setEditor({ errors: { [field]: err.message }, formError: t("mod.editor.invalid") });
    focusLater("[data-testid=rule-editor] [aria-invalid=true]");
  } else setEditor({ errors: {}, formError: errorText(err) });
}

function rememberDryRun(ruleId, result) {
  const rules = state.moderation.rules;
  const dryRuns = { ...rules.dryRuns, [ruleId]: result };
  update({ moderation: { ...state.moderation, rules: { ...rules, dryRuns } } });
}

async function runDryRun() {
  const open = editor();
  const body = bodyOf(open.draft);
  const saved = open.ruleId != null && runKey(body) === open.savedKey;
  setEditor({ dryRunning: true, errors: {}, formError: null });
  try {
    const result = saved
      ? await api.post(`/api/rules/${open.ruleId}/dry-run`, { days: DAYS })
      : await api.post("/api/rules/dry-run", {
          rule: open.ruleId != null ? { ...body, position: open.position } : body,
          days: DAYS,
        });
    if (!editor()) return;
    setEditor({ dryRunning: false, dryRun: result, dryRunKey: runKey(body) });
    if (saved) rememberDryRun(open.ruleId, result);
  } catch (err) {
    setEditor({ dryRunning: false });
    showErrors(err);
  }
}

function upsert(list, saved) {
  const others = list.filter((rule) => rule.id !== saved.id);
  return [...others, saved].sort((a, b) => a.position - b.position || a.id - b.id);
}

async function save(event) {
  event.preventDefault();
  const open = editor();
  if (open.saving) return;
  const body = bodyOf(open.draft);
  setEditor({ saving: true, errors: {}, formError: null });
  try {
    const saved =
      open.ruleId == null
        ? await api.post("/api/rules", body)
        : await api.patch(`/api/rules/${open.ruleId}`, { ...body, version: open.version });
    const rules = state.moderation.rules;
    // The dry run stays with the rule only if it was run on exactly what was saved.
    const { [saved.id]: _, ...dryRuns } = rules.dryRuns;
    if (open.dryRun && open.dryRunKey === runKey(body)) dryRuns[saved.id] = open.dryRun;
    const list = upsert(rules.list, saved);
    const moderation = { ...state.moderation, editor: null, rules: { ...rules, list, dryRuns } };
    update({ moderation });
    const said = open.ruleId == null ? "mod.rules.savedNew" : "mod.rules.saved";
    notify(t(said, { name: saved.name }), { kind: "ok" });
    focusLater(`[data-rule-id="${saved.id}"] [data-testid="rule-switch"]`);
  } catch (err) {
    setEditor({ saving: false });
    showErrors(err);
  }
}

function RowList({ list, draft, errors }) {
  const Row = list === "conditions" ? ConditionRow : ActionRow;
  const add = list === "conditions" ? "condition-add" : "action-add";
  const label = list === "conditions" ? "mod.editor.addCondition" : "mod.editor.addAction";
  return html`
    <fieldset class="rule-part">
      <legend>${t(`mod.editor.${list}`)}</legend>
      <${FieldError} error=${errorFor(errors, list, true)} id=${`${list}-error`} />
      <ol class="edit-rows">
        ${draft[list].map(
          (row, index) =>
            html`<${Row} key=${row.key} row=${row} index=${index} errors=${errors} />`,
        )}
      </ol>
      <button type="button" class="small" data-testid=${add} onClick=${() => addRow(list)}>
        + ${t(label)}</button>
    </fieldset>
  `;
}

function Buttons({ open, creating }) {
  const saveLabel = creating ? "mod.editor.saveNew" : "mod.editor.save";
  return html`
    <div class="editor-actions">
      <button type="button" data-testid="rule-dry-run" disabled=${open.dryRunning}
        onClick=${runDryRun}>
        ${open.dryRunning ? t("mod.editor.dryRunning") : t("mod.editor.dryRun")}</button>
      <button type="submit" class="primary" data-testid="rule-save" disabled=${open.saving}>
        ${open.saving ? t("mod.editor.saving") : t(saveLabel)}</button>
    </div>
  `;
}

export function RuleEditor({ moderation }) {
  const open = moderation.editor;
  const { draft, errors } = open;
  const creating = open.ruleId == null;
  const nameError = errorFor(errors, "name");
  const stale = !!open.dryRun && open.dryRunKey !== runKey(bodyOf(draft));
  return html`
    <form class="rule-editor" data-testid="rule-editor" onSubmit=${save} novalidate
      aria-labelledby="rule-editor-title">
      <div class="review-bar">
        <h3 id="rule-editor-title">${t(creating ? "mod.editor.new" : "mod.editor.edit")}</h3>
        <span class="spacer"></span>
        <button type="button" class="quiet" data-testid="rule-cancel" onClick=${closeEditor}>
          ${t("mod.editor.cancel")}</button>
      </div>
      <p class="hint">${t(open.enabled ? "mod.editor.liveNote" : "mod.editor.newNote")}</p>
      ${open.formError &&
      html`<p class="form-error banner" role="alert" data-testid="rule-form-error">
        ${open.formError}</p>`}
      <label class="mod-field name-field"><span>${t("mod.editor.name")}</span>
        <input id="rule-name" value=${draft.name} maxlength="120" data-testid="rule-name-input"
          onInput=${(event) => changeDraft({ name: event.currentTarget.value }, "name")}
          ...${invalid(nameError, "rule-name-error")} /></label>
      <${FieldError} error=${nameError} id="rule-name-error" />
      <${RowList} list="conditions" draft=${draft} errors=${errors} />
      <${RowList} list="actions" draft=${draft} errors=${errors} />
      <label class="toggle stop-field"><input type="checkbox" checked=${draft.stop}
        data-testid="rule-stop-input"
        onChange=${(event) => changeDraft({ stop: event.currentTarget.checked }, "stop")} />
        ${t("mod.editor.stop")}</label>
      <${FieldError} error=${errorFor(errors, "stop")} id="stop-error" />
      <${Buttons} open=${open} creating=${creating} />
      ${open.dryRun && html`<${DryRunResult} result=${open.dryRun} stale=${stale} />`}
    </form>
  `;
}
