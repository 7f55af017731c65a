// A rule's conditions and actions as editable rows: their shapes, their API form, their fields,
// and the server's validation error shown next to the row it names.
import { html } from "./html.js";
import { t } from "./i18n.js";
import { state, update } from "./store.js";

const LISTED = ["values"];
// What each condition type takes besides `negate`, as the API's contract says.
const CONDITION_TYPES = {
  keywords: LISTED,
  regex: ["pattern"],
  has_link: [],
  has_email: [],
  has_phone: [],
  emoji_only: [],
  language: LISTED,
  sentiment: LISTED,
  author: LISTED,
  author_vip: [],
  author_blocked: [],
  first_time_author: [],
  followers: ["min"],
  channel: LISTED,
  kind: LISTED,
  post: LISTED,
  rating: ["min", "max"],
};
const ACTION_TYPES = ["hide", "delete", "close_spam", "tag", "priority", "assign", "notify"];
const PRIORITIES = ["low", "normal", "high", "urgent"];
let rowSeq = 0;

// ---- rows and their API form -------------------------------------------------------------

export function conditionRow(spec = { type: "keywords" }) {
  const values = (spec.values || []).map(String);
  const separator = values.some((value) => value.includes(",")) ? "\n" : ", ";
  return {
    key: ++rowSeq,
    type: spec.type,
    negate: !!spec.negate,
    text: values.join(separator),
    pattern: spec.pattern ?? "",
    min: spec.min ?? "",
    max: spec.max ?? "",
  };
}

export function actionRow(spec = { type: "hide" }) {
  let target = "";
  if (spec.user_id != null) target = `user:${spec.user_id}`;
  else if (spec.team_id != null) target = `team:${spec.team_id}`;
  const value = spec.value ?? (spec.type === "priority" ? "high" : "");
  return { key: ++rowSeq, type: spec.type, value, target, userIds: spec.user_ids || [] };
}

function splitList(text) {
  return text
    .split(/[\n,]/)
    .map((part) => part.trim())
    .filter(Boolean);
}

// Numbers go as numbers; anything else as typed, so the server can say what is wrong with it.
function numberOrText(text) {
  const trimmed = String(text).trim();
  return /^-?\d+$/.test(trimmed) ? Number(trimmed) : trimmed;
}

export function conditionOut(row) {
  const takes = CONDITION_TYPES[row.type];
  const out = { type: row.type, negate: row.negate };
  if (takes.includes("values")) {
    const values = splitList(row.text);
    out.values = row.type === "channel" ? values.map(numberOrText) : values;
  }
  if (takes.includes("pattern")) out.pattern = row.pattern;
  for (const name of ["min", "max"]) {
    if (takes.includes(name) && String(row[name]).trim() !== "") {
      out[name] = numberOrText(row[name]);
    }
  }
  return out;
}

export function actionOut(row) {
  const out = { type: row.type };
  if (row.type === "tag" || row.type === "priority") out.value = row.value.trim();
  if (row.type === "assign") {
    const [kind, id] = row.target.split(":");
    if (kind === "user") out.user_id = Number(id);
    if (kind === "team") out.team_id = Number(id);
  }
  if (row.type === "notify") out.user_ids = row.userIds;
  return out;
}

// ---- changing the draft -------------------------------------------------------------------

export function editor() {
  return state.moderation && state.moderation.editor;
}

export function setEditor(changes) {
  if (!editor()) return;
  update({ moderation: { ...state.moderation, editor: { ...editor(), ...changes } } });
}

export function focusLater(selector) {
  setTimeout(() => document.querySelector(selector)?.focus());
}

/** Change the draft; the error shown for the changed part (`path`) goes. */
export function changeDraft(changes, path) {
  const errors = Object.fromEntries(
    Object.entries(editor().errors).filter(([field]) => !`${field}.`.startsWith(`${path}.`)),
  );
  setEditor({ draft: { ...editor().draft, ...changes }, errors });
}

function changeRow(list, index, changes) {
  const rows = editor().draft[list].map((row, at) => (at === index ? { ...row, ...changes } : row));
  changeDraft({ [list]: rows }, `${list}.${index}`);
}

export function addRow(list) {
  const row = list === "conditions" ? conditionRow() : actionRow();
  changeDraft({ [list]: [...editor().draft[list], row] }, list);
  focusLater(`[data-row-key="${row.key}"] select`);
}

function removeRow(list, index) {
  const rows = editor().draft[list].filter((_, at) => at !== index);
  // Errors name rows by index: once one goes, the others' would point at the wrong row.
  setEditor({ draft: { ...editor().draft, [list]: rows }, errors: {} });
  focusLater(`[data-testid=${list === "conditions" ? "condition-add" : "action-add"}]`);
}

// ---- errors -------------------------------------------------------------------------------

/** The error naming `path` (or, unless `exact`, a field inside it). */
export function errorFor(errors, path, exact = false) {
  const found = Object.keys(errors).find(
    (field) => field === path || (!exact && field.startsWith(`${path}.`)),
  );
  return found ? { field: found, message: errors[found] } : null;
}

export function FieldError({ error, id }) {
  if (!error) return null;
  return html`<p class="form-error field-error" id=${id} role="alert" data-testid="field-error"
    data-field=${error.field}>${error.message}</p>`;
}

export function invalid(error, id) {
  return error ? { "aria-invalid": "true", "aria-describedby": id } : {};
}

// ---- conditions ---------------------------------------------------------------------------

function ValueFields({ row, index, error, errorId }) {
  const takes = CONDITION_TYPES[row.type];
  const set = (name) => (event) =>
    changeRow("conditions", index, { [name]: event.currentTarget.value });
  if (takes.includes("values")) {
    const channels = Object.values(state.channels).map((c) => `${c.id} = ${c.name}`);
    const hintId = `condition-hint-${row.key}`;
    return html`<div class="mod-field mod-grow">
      <label for=${`condition-values-${row.key}`}>${t("mod.editor.values")}</label>
      <textarea id=${`condition-values-${row.key}`} rows="2" value=${row.text}
        data-testid="condition-values" onInput=${set("text")} aria-describedby=${hintId}
        ...${invalid(error, `${errorId} ${hintId}`)}></textarea>
      <small class="hint" id=${hintId}>
        ${t(`mod.hint.${row.type}`, { list: channels.join(", ") })}</small>
    </div>`;
  }
  if (takes.includes("pattern")) {
    return html`<label class="mod-field mod-grow"><span>${t("mod.editor.pattern")}</span>
      <input value=${row.pattern} data-testid="condition-pattern" spellcheck="false"
        onInput=${set("pattern")} ...${invalid(error, errorId)} /></label>`;
  }
  if (!takes.length) {
    return html`<span class="hint mod-grow">${t("mod.editor.nothing")}</span>`;
  }
  return takes.map(
    (name) => html`<label key=${name} class="mod-field"><span>${t(`mod.editor.${name}`)}</span>
      <input inputmode="numeric" value=${row[name]} data-testid=${`condition-${name}`}
        onInput=${set(name)} ...${invalid(error, errorId)} /></label>`,
  );
}

export function ConditionRow({ row, index, errors }) {
  const n = index + 1;
  const error = errorFor(errors, `conditions.${index}`);
  const errorId = `condition-error-${row.key}`;
  const change = (changes) => changeRow("conditions", index, changes);
  return html`
    <li class="edit-row" data-testid="condition-row" data-row-key=${row.key}>
      <div class="edit-line">
        <label class="mod-field"><span>${t("mod.editor.condition", { n })}</span>
          <select value=${row.type} data-testid="condition-type"
            aria-label=${t("mod.editor.conditionType", { n })}
            onChange=${(event) => change({ type: event.currentTarget.value })}>
            ${Object.keys(CONDITION_TYPES).map(
              (type) => html`<option key=${type} value=${type}>${t(`mod.cond.${type}`)}</option>`,
            )}
          </select>
        </label>
        <${ValueFields} row=${row} index=${index} error=${error} errorId=${errorId} />
        <label class="toggle negate"><input type="checkbox" checked=${row.negate}
          data-testid="condition-negate"
          onChange=${(event) => change({ negate: event.currentTarget.checked })} />
          ${t("mod.editor.negate")}</label>
        <button type="button" class="quiet small" data-testid="condition-remove"
          aria-label=${t("mod.editor.removeCondition", { n })}
          onClick=${() => removeRow("conditions", index)}>✕</button>
      </div>
      <${FieldError} error=${error} id=${errorId} />
    </li>
  `;
}

// ---- actions ------------------------------------------------------------------------------

function people() {
  return Object.values(state.users).sort((a, b) => a.name.localeCompare(b.name));
}

function AssignPicker({ row, index, error, errorId }) {
  const teams = state.moderation.rules.teams;
  return html`<label class="mod-field mod-grow"><span>${t("mod.editor.assignTo")}</span>
    <select value=${row.target} data-testid="action-assign" ...${invalid(error, errorId)}
      onChange=${(event) => changeRow("actions", index, { target: event.currentTarget.value })}>
      <option value="">${t("mod.editor.pick")}</option>
      <optgroup label=${t("mod.editor.people")}>
        ${people().map(
          (user) => html`<option key=${user.id} value=${`user:${user.id}`}>${user.name}</option>`,
        )}
      </optgroup>
      <optgroup label=${t("mod.editor.teams")}>
        ${teams.map(
          (team) => html`<option key=${team.id} value=${`team:${team.id}`}>${team.name}</option>`,
        )}
      </optgroup>
    </select></label>`;
}

function NotifyPicker({ row, index }) {
  const toggle = (id, on) => {
    const userIds = on ? [...row.userIds, id] : row.userIds.filter((known) => known !== id);
    changeRow("actions", index, { userIds });
  };
  return html`<fieldset class="mod-field mod-grow notify-people">
    <legend>${t("mod.editor.notifyWho")}</legend>
    ${people().map(
      (user) => html`<label key=${user.id} class="toggle"><input type="checkbox"
        checked=${row.userIds.includes(user.id)} data-testid="action-notify-user"
        onChange=${(event) => toggle(user.id, event.currentTarget.checked)} />${user.name}</label>`,
    )}
    <small class="hint">${t("mod.editor.notifyAll")}</small>
  </fieldset>`;
}

function ActionFields({ row, index, error, errorId }) {
  const setValue = (event) => changeRow("actions", index, { value: event.currentTarget.value });
  if (row.type === "tag") {
    return html`<label class="mod-field mod-grow"><span>${t("mod.editor.tag")}</span>
      <input value=${row.value} data-testid="action-value" onInput=${setValue}
        ...${invalid(error, errorId)} /></label>`;
  }
  if (row.type === "priority") {
    return html`<label class="mod-field mod-grow">
      <span>${t("mod.editor.priority")}</span>
      <select value=${row.value} data-testid="action-value" onChange=${setValue}>
        ${PRIORITIES.map((p) => html`<option key=${p} value=${p}>${t(`priority.${p}`)}</option>`)}
      </select></label>`;
  }
  const props = { row, index, error, errorId };
  if (row.type === "assign") return html`<${AssignPicker} ...${props} />`;
  if (row.type === "notify") return html`<${NotifyPicker} ...${props} />`;
  return html`<span class="hint mod-grow">${t("mod.editor.nothing")}</span>`;
}

export function ActionRow({ row, index, errors }) {
  const n = index + 1;
  const error = errorFor(errors, `actions.${index}`);
  const errorId = `action-error-${row.key}`;
  const setType = (event) => {
    const type = event.currentTarget.value;
    changeRow("actions", index, { type, value: type === "priority" ? "high" : "" });
  };
  return html`
    <li class="edit-row" data-testid="action-row" data-row-key=${row.key}>
      <div class="edit-line">
        <label class="mod-field"><span>${t("mod.editor.action", { n })}</span>
          <select value=${row.type} data-testid="action-type" onChange=${setType}
            aria-label=${t("mod.editor.actionType", { n })}>
            ${ACTION_TYPES.map(
              (type) => html`<option key=${type} value=${type}>${t(`mod.act.${type}`)}</option>`,
            )}
          </select>
        </label>
        <${ActionFields} row=${row} index=${index} error=${error} errorId=${errorId} />
        <button type="button" class="quiet small" data-testid="action-remove"
          aria-label=${t("mod.editor.removeAction", { n })}
          onClick=${() => removeRow("actions", index)}>✕</button>
      </div>
      <${FieldError} error=${error} id=${errorId} />
    </li>
  `;
}
