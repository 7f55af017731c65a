// A keyboard-first list dialog: type to filter (fuzzy), arrows to move, Enter to choose, Escape to
// leave. The command palette and every picker (snooze, tags, priority, assignee…) are one of these.
import { Component, createRef } from "/static/vendor/preact.js";
import { html } from "./html.js";
import { t } from "./i18n.js";

const MAX_SHOWN = 60;

/** Close a dialog when the press lands on the dimmed backdrop itself. */
export function onBackdrop(close) {
  return (event) => event.target === event.currentTarget && close();
}

function fold(text) {
  return String(text)
    .normalize("NFD")
    .replace(/\p{Diacritic}/gu, "")
    .toLowerCase();
}

/**
 * How well `query` matches `text` as a subsequence (0: not at all). Letters in a row and
 * letters starting a word count more; a shorter text wins a tie.
 */
export function fuzzyScore(query, text) {
  const wanted = fold(query).replace(/\s+/g, "");
  const haystack = fold(text);
  if (!wanted) return 1;
  let score = 0;
  let from = 0;
  let previous = -2;
  for (const char of wanted) {
    const at = haystack.indexOf(char, from);
    if (at < 0) return 0;
    score += 1;
    if (at === previous + 1) score += 3;
    if (at === 0 || /[^\p{L}\p{N}]/u.test(haystack[at - 1])) score += 2;
    previous = at;
    from = at + 1;
  }
  return score - haystack.length / 1000;
}

/** The options matching a query, best first (all of them, in order, for an empty query). */
export function filterOptions(options, query) {
  if (!query.trim()) return options;
  return options
    .map((option) => [fuzzyScore(query, option.search || option.label), option])
    .filter(([score]) => score > 0)
    .sort((a, b) => b[0] - a[0])
    .map(([, option]) => option);
}

/**
 * Props: title, placeholder, options [{key, label, hint?, detail?, group?, checked?, search?}],
 * onPick(option, query), onClose(), create(query) → an extra option or null, testid, footer.
 */
export class ListDialog extends Component {
  state = { query: "", index: 0 };
  input = createRef();
  list = createRef();

  componentDidMount() {
    this.input.current.focus();
  }

  componentDidUpdate() {
    const active = this.list.current && this.list.current.querySelector(".is-active");
    if (active) active.scrollIntoView({ block: "nearest" });
  }

  shown() {
    const { options, create } = this.props;
    const query = this.state.query.trim();
    let shown = filterOptions(options, query);
    const extra = create && query ? create(query) : null;
    if (extra) shown = [...shown, extra];
    return shown.slice(0, MAX_SHOWN);
  }

  pick(option) {
    if (option) this.props.onPick(option, this.state.query.trim());
  }

  onKeyDown = (event) => {
    const shown = this.shown();
    const { index } = this.state;
    const move = { ArrowDown: 1, ArrowUp: -1, Tab: event.shiftKey ? -1 : 1 }[event.key];
    if (move && shown.length) {
      this.setState({ index: (index + move + shown.length) % shown.length });
    } else if (event.key === "Enter") {
      this.pick(shown[Math.min(index, shown.length - 1)]);
    } else if (event.key === "Escape") {
      this.props.onClose();
    } else return;
    event.preventDefault();
    event.stopPropagation();
  };

  onInput = (event) => this.setState({ query: event.currentTarget.value, index: 0 });

  render({ title, placeholder, testid, footer, onClose, children }, { query, index }) {
    const shown = this.shown();
    return html`
      <div class="overlay" onMouseDown=${onBackdrop(onClose)}>
        <div class="dialog list-dialog" role="dialog" aria-modal="true" aria-label=${title}
          data-testid=${testid}>
          <h2 class="dialog-title">${title}</h2>
          <input ref=${this.input} class="dialog-input" value=${query} placeholder=${placeholder}
            aria-label=${placeholder} data-testid=${`${testid}-input`} autocomplete="off"
            onInput=${this.onInput} onKeyDown=${this.onKeyDown} />
          ${children}
          <ul class="dialog-options" role="listbox" ref=${this.list}>
            ${shown.map(
              (option, i) => html`<li key=${option.key} role="option"
                aria-selected=${i === index ? "true" : "false"} data-testid=${`${testid}-option`}
                data-key=${option.key} class=${i === index ? "is-active" : ""}
                onMouseMove=${() => i !== index && this.setState({ index: i })}
                onClick=${() => this.pick(option)}>
                <span class="option-check" aria-hidden="true">${option.checked ? "✓" : ""}</span>
                <span class="option-text">
                  <span class="option-label">${option.label}</span>
                  ${option.detail && html`<span class="option-detail">${option.detail}</span>`}
                </span>
                ${option.group && html`<span class="option-group">${option.group}</span>`}
                ${option.hint && html`<kbd>${option.hint}</kbd>`}
              </li>`,
            )}
            ${shown.length === 0 && html`<li class="option-none">${t("dialog.none")}</li>`}
          </ul>
          <p class="dialog-foot">${footer || t("dialog.keys")}</p>
        </div>
      </div>
    `;
  }
}
