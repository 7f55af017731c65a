// The box under the timeline: a public reply or an internal note (with @mentions), canned replies,
// drafts kept per ticket, "typing" said to teammates, the guard against answering twice, and on
// an incident's tickets its holding replies (and, in crisis mode, the word that replies wait).
import { Component, createRef } from "/static/vendor/preact.js";
import { html } from "./html.js";
import { t } from "./i18n.js";
import { typing } from "./presence.js";
import { newestSeenId, sendNote, sendReply } from "./sending.js";
import { state, update } from "./store.js";

const drafts = new Map(); // ticket id -> {text, mode, base}
const MENTION_AT_CARET = /(^|\s)@([\p{L}\p{N}._-]*)$/u;
const MAX_SUGGESTIONS = 5;
const HOLDING_KEYS = 9; // holding replies 1 to 9 have a key
let active = null;
let pending = null;

/** Put the cursor in the box (opening `mode`), optionally adding text (a canned reply). */
export function focusComposer(mode, text) {
  if (active && active.props.ticketId === state.selectedId) active.take(mode, text);
  else pending = { mode, text };
}

/** Send what the box holds (Ctrl+Enter from outside it). */
export function sendFromComposer() {
  if (active) active.send();
}

function handleOf(user) {
  return user.email.split("@")[0];
}

function fold(text) {
  return text
    .normalize("NFD")
    .replace(/\p{Diacritic}/gu, "")
    .toLowerCase();
}

function suggestions(query) {
  const wanted = fold(query);
  return Object.values(state.users)
    .filter((user) => user.id !== state.user.id)
    .filter((user) => fold(handleOf(user)).startsWith(wanted) || fold(user.name).includes(wanted))
    .slice(0, MAX_SUGGESTIONS);
}

export class Composer extends Component {
  box = createRef();
  state = { mode: "reply", mention: null }; // mention: {query, index}
  // The newest message when this draft began: a teammate's reply after it asks us to look first.
  base = null;

  componentDidMount() {
    active = this;
    const draft = drafts.get(this.props.ticketId);
    if (draft) {
      this.box.current.value = draft.text;
      this.base = draft.base;
      this.setState({ mode: draft.mode });
    }
    if (pending) {
      this.take(pending.mode, pending.text);
      pending = null;
    }
  }

  componentWillUnmount() {
    const text = this.box.current ? this.box.current.value : "";
    if (text.trim()) drafts.set(this.props.ticketId, { text, mode: this.state.mode, base: this.base });
    else drafts.delete(this.props.ticketId);
    if (active === this) active = null;
  }

  take(mode, text) {
    const el = this.box.current;
    if (mode) this.setState({ mode });
    if (text != null) {
      el.value = el.value.trim() ? `${el.value.trimEnd()}\n\n${text}` : text;
      this.drafted();
      typing();
    }
    el.focus();
    el.setSelectionRange(el.value.length, el.value.length);
  }

  send = async ({ force = false } = {}) => {
    const el = this.box.current;
    const { ticketId } = this.props;
    const seen = force ? null : this.base;
    const outcome =
      this.state.mode === "note"
        ? await sendNote(ticketId, el.value)
        : await sendReply(ticketId, el.value, { seen });
    if (outcome !== "sent") return;
    el.value = "";
    this.base = null;
    drafts.delete(ticketId);
    this.setState({ mention: null });
    el.blur(); // back to single-key shortcuts
  };

  cancelCollision = () => {
    update({ collision: null });
    this.base = newestSeenId(); // they have looked now
    this.box.current.focus();
  };

  /** Note when a draft begins (and forget it when the box is emptied). */
  drafted() {
    const empty = !this.box.current.value.trim();
    if (empty) this.base = null;
    else if (this.base == null) this.base = newestSeenId();
  }

  onInput = () => {
    typing();
    this.drafted();
    const el = this.box.current;
    const match = MENTION_AT_CARET.exec(el.value.slice(0, el.selectionStart));
    const mention = this.state.mode === "note" && match ? { query: match[2], index: 0 } : null;
    this.setState({ mention });
  };

  pickMention(user) {
    const el = this.box.current;
    const typed = el.value.slice(0, el.selectionStart);
    const before = typed.replace(MENTION_AT_CARET, `$1@${handleOf(user)} `);
    el.value = before + el.value.slice(el.selectionStart);
    el.setSelectionRange(before.length, before.length);
    this.setState({ mention: null });
    el.focus();
  }

  mentionKey(event) {
    const found = suggestions(this.state.mention.query);
    if (!found.length) return false;
    const index = this.state.mention.index;
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      const step = event.key === "ArrowDown" ? 1 : found.length - 1;
      this.setState({ mention: { ...this.state.mention, index: (index + step) % found.length } });
    } else if (event.key === "Enter" || event.key === "Tab") {
      this.pickMention(found[Math.min(index, found.length - 1)]);
    } else if (event.key === "Escape") {
      this.setState({ mention: null });
    } else return false;
    return true;
  }

  onKeyDown = (event) => {
    const mod = event.ctrlKey || event.metaKey;
    if (this.state.mention && !mod && this.mentionKey(event)) {
      event.preventDefault();
    } else if (event.key === "Enter" && mod) {
      event.preventDefault();
      this.send({ force: !!this.props.collision });
    } else if (event.key === "Escape") {
      event.preventDefault();
      if (this.props.collision) this.cancelCollision();
      else this.box.current.blur();
    }
  };

  setMode(mode) {
    this.setState({ mode, mention: null });
    this.box.current.focus();
  }

  render({ sending, error, collision, onCanned, incident, agent }, { mode, mention }) {
    const found = mention ? suggestions(mention.query) : [];
    const placeholder = t(mode === "note" ? "note.placeholder" : "reply.placeholder");
    const waits = mode === "reply" && agent && incident && incident.crisis;
    return html`
      <form class=${`reply is-${mode}`} onSubmit=${(event) => {
        event.preventDefault();
        this.send({ force: !!collision });
      }}>
        <div class="composer-tabs" role="tablist">
          <button type="button" role="tab" aria-selected=${mode === "reply"}
            class=${mode === "reply" ? "tab is-current" : "tab"} data-testid="composer-reply"
            onClick=${() => this.setMode("reply")}>${t("composer.reply")} <kbd>r</kbd></button>
          <button type="button" role="tab" aria-selected=${mode === "note"}
            class=${mode === "note" ? "tab is-current" : "tab"} data-testid="composer-note"
            onClick=${() => this.setMode("note")}>${t("composer.note")} <kbd>n</kbd></button>
          <span class="spacer"></span>
          ${mode === "reply" &&
          html`<button type="button" class="quiet" data-testid="open-canned" onClick=${onCanned}>
            ${t("canned.button")} <kbd>c</kbd></button>`}
        </div>
        ${collision && html`<${Collision} collision=${collision} onCancel=${this.cancelCollision}
          onSend=${() => this.send({ force: true })} />`}
        ${mode === "reply" && incident &&
        html`<${CrisisBar} incident=${incident} agent=${agent}
          onPick=${(text) => this.take("reply", text)} />`}
        <textarea ref=${this.box} rows="3" placeholder=${placeholder} aria-label=${placeholder}
          data-testid="reply-box" data-mode=${mode} onKeyDown=${this.onKeyDown}
          onInput=${this.onInput}></textarea>
        ${found.length > 0 &&
        html`<ul class="mentions" role="listbox" data-testid="mention-list">
          ${found.map(
            (user, i) => html`<li key=${user.id} role="option" aria-selected=${i === mention.index}
              class=${i === mention.index ? "is-active" : ""} onMouseDown=${(event) => {
                event.preventDefault();
                this.pickMention(user);
              }}><strong>@${handleOf(user)}</strong> ${user.name}</li>`,
          )}
        </ul>`}
        <div class="reply-bar">
          ${error && html`<span class="form-error" role="alert">${error}</span>`}
          <span class="hint">${t(mode === "note" ? "note.hint" : "reply.hint")}</span>
          <button type="submit" class="primary" disabled=${sending} data-testid="send-reply">
            ${t(mode === "note" ? "note.send" : waits ? "crisis.send" : "reply.send")}
          </button>
        </div>
      </form>
    `;
  }
}

/** An incident's ticket: its holding replies one key or click away; in crisis, who decides. */
function CrisisBar({ incident, agent, onPick }) {
  const replies = incident.holding_replies || [];
  if (!incident.crisis && !replies.length) return null;
  return html`
    <div class=${incident.crisis ? "crisis-bar is-crisis" : "crisis-bar"} data-testid="crisis-bar">
      ${incident.crisis &&
      html`<p class="crisis-note" data-testid="crisis-note">
        <strong>${t("crisis.chip")}</strong>
        ${" "}${t(agent ? "crisis.agentNote" : "crisis.leadNote")}</p>`}
      ${replies.length > 0 &&
      html`<div class="holding-replies" role="group" aria-label=${t("holding.title")}>
        <span class="hint">${t("holding.offer")}</span>
        ${replies.map(
          (text, i) => html`<button type="button" key=${i} class="holding small"
            data-testid="holding-reply" title=${text} onClick=${() => onPick(text)}>
            ${i < HOLDING_KEYS && html`<kbd>${i + 1}</kbd>`}<span>${text}</span></button>`,
        )}
      </div>`}
    </div>
  `;
}

function Collision({ collision, onCancel, onSend }) {
  return html`
    <div class="collision" role="alert" data-testid="collision">
      <p class="collision-title">${t("collision.title")}</p>
      <ul>
        ${collision.items.map(
          (item) => html`<li key=${item.id}><strong>${item.author_name}</strong>
            <span class="collision-body">${item.body}</span></li>`,
        )}
      </ul>
      <div class="collision-actions">
        <button type="button" class="primary" data-testid="collision-send" onClick=${onSend}>
          ${t("collision.send")}</button>
        <button type="button" data-testid="collision-cancel" onClick=${onCancel}>
          ${t("collision.cancel")}</button>
        <span class="hint">${t("collision.hint")}</span>
      </div>
    </div>
  `;
}
