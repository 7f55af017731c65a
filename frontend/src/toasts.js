// Short messages at the foot of the screen, and the undo window: what `z` can still take back.
import { Component } from "/static/vendor/preact.js";
import { html } from "./html.js";
import { errorText, t } from "./i18n.js";
import { state, update } from "./store.js";

const TTL_MS = 4_000;
const ERROR_TTL_MS = 8_000;
const MAX_TOASTS = 3;
const TICK_MS = 250;
let seq = 0;
const undoable = []; // {toastId, until, cancel, done}, the latest last

function show(toast, ttl) {
  state.toasts = [...state.toasts, toast].slice(-MAX_TOASTS);
  update();
  if (ttl) setTimeout(() => dismiss(toast.id), ttl);
  return toast.id;
}

/** Say something briefly; `action` ({label, run}) adds a button. */
export function notify(text, { kind = "info", ttl, action } = {}) {
  return show({ id: ++seq, kind, text, action }, ttl ?? (kind === "error" ? ERROR_TTL_MS : TTL_MS));
}

export function dismiss(toastId) {
  if (state.toasts.some((toast) => toast.id === toastId)) {
    update({ toasts: state.toasts.filter((toast) => toast.id !== toastId) });
  }
}

/**
 * Offer `z` for an action until `until` (ms): the toast counts down with `labelKey` ({n} the
 * seconds left), `cancel()` takes the action back, then `done` is said.
 */
export function offerUndo({ labelKey, until, cancel, done }) {
  const toastId = show({ id: ++seq, kind: "undo", labelKey, until });
  const entry = { toastId, until, cancel, done };
  undoable.push(entry);
  setTimeout(
    () => {
      const at = undoable.indexOf(entry);
      if (at >= 0) undoable.splice(at, 1);
      dismiss(toastId);
    },
    Math.max(0, until - Date.now()),
  );
}

/** Take back the latest action still inside its undo window (`z`). */
export async function undoLast() {
  const now = Date.now();
  for (let i = undoable.length - 1; i >= 0; i--) if (undoable[i].until <= now) undoable.splice(i, 1);
  const entry = undoable.pop();
  if (!entry) {
    notify(t("undo.nothing"));
    return;
  }
  dismiss(entry.toastId);
  try {
    await entry.cancel();
    notify(entry.done, { kind: "ok" });
  } catch (err) {
    notify(err.status === 409 ? t("undo.tooLate") : errorText(err), { kind: "error" });
  }
}

// Counts its own seconds down, so the rest of the page does not re-render four times a second.
class UndoToast extends Component {
  componentDidMount() {
    this.timer = setInterval(() => this.forceUpdate(), TICK_MS);
  }

  componentWillUnmount() {
    clearInterval(this.timer);
  }

  render({ toast }) {
    const seconds = Math.max(0, Math.ceil((toast.until - Date.now()) / 1000));
    return html`<div class="toast is-undo" data-testid="toast" data-kind="undo">
      ${t(toast.labelKey, { n: seconds })}</div>`;
  }
}

export function Toasts({ toasts }) {
  return html`
    <div class="toasts" role="status" aria-live="polite">
      ${toasts.map((toast) =>
        toast.kind === "undo"
          ? html`<${UndoToast} key=${toast.id} toast=${toast} />`
          : html`<div key=${toast.id} class=${`toast is-${toast.kind}`} data-testid="toast"
              data-kind=${toast.kind} role=${toast.kind === "error" ? "alert" : undefined}>
              <span>${toast.text}</span>
              ${toast.action &&
              html`<button type="button" class="quiet" onClick=${() => {
                dismiss(toast.id);
                toast.action.run();
              }}>${toast.action.label}</button>`}
            </div>`,
      )}
    </div>
  `;
}
