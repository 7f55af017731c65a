// Sentiment and language: the calm chip on rows, the ticket and each inbound message, and a CM's
// correction of a message's sentiment (PATCH /api/items/<id>).
import { api } from "./api.js";
import { closeOverlay } from "./commands.js";
import { refreshDetail } from "./detail.js";
import { ListDialog } from "./dialog.js";
import { html } from "./html.js";
import { currentLocale, errorText, t } from "./i18n.js";
import { state, update } from "./store.js";
import { notify } from "./toasts.js";
import { SENTIMENTS } from "./views.js";

// A sign as well as a colour, so the chip never speaks through colour alone.
const SIGNS = { negative: "☹", neutral: "○", positive: "☺" };

/**
 * A sentiment as a small chip: a sign and a colour, the word (only for assistive technology
 * when `compact`, as on queue rows), and whether a CM corrected it.
 */
export function SentimentChip({ sentiment, corrected, compact, testid = "sentiment" }) {
  if (!SENTIMENTS.includes(sentiment)) return null;
  const word = t(`sentiment.${sentiment}`);
  const title = t(corrected ? "sentiment.correctedTitle" : "sentiment.title", { word });
  return html`<span class=${`senti is-${sentiment}${compact ? " is-compact" : ""}`}
    data-testid=${testid} data-sentiment=${sentiment} title=${title}>
    <span class="sr-only">${t("sentiment.title", { word })}</span>
    <span class="senti-sign" aria-hidden="true">${SIGNS[sentiment]}</span>
    ${!compact && html`<span class="senti-word" aria-hidden="true">${word}</span>`}
    ${corrected && html`<span class="senti-fixed">${t("sentiment.corrected")}</span>`}
  </span>`;
}

/** The language's name in the user's language ("fr" → "français"), or the code itself. */
export function languageName(code) {
  try {
    return new Intl.DisplayNames([currentLocale()], { type: "language" }).of(code) || code;
  } catch {
    return code;
  }
}

/** A discreet two-letter language mark, named in full on hover and for screen readers. */
export function LanguageTag({ language }) {
  if (!language) return null;
  const name = t("language.title", { name: languageName(language) });
  return html`<abbr class="lang" data-testid="language" data-language=${language} title=${name}
    aria-label=${name}>${language.toUpperCase()}</abbr>`;
}

/** Record a CM's correction; the ticket's sentiment follows when it is its newest message. */
export async function correctSentiment(itemId, sentiment) {
  try {
    const fresh = await api.patch(`/api/items/${itemId}`, { sentiment });
    const detail = state.detail;
    if (detail && detail.items.some((item) => item.id === itemId)) {
      const items = detail.items.map((item) => (item.id === itemId ? { ...item, ...fresh } : item));
      update({ detail: { ...detail, items } });
      refreshDetail();
    }
    notify(t("sentiment.done", { word: t(`sentiment.${sentiment}`) }), { kind: "ok" });
    return true;
  } catch (err) {
    notify(errorText(err), { kind: "error" });
    return false;
  }
}

/** The dialog choosing a message's sentiment (Shift+S, the palette, or a click on its chip). */
export function SentimentPicker({ itemId }) {
  const item = state.detail && state.detail.items.find((entry) => entry.id === itemId);
  const options = SENTIMENTS.map((sentiment) => ({
    key: sentiment,
    label: `${SIGNS[sentiment]}  ${t(`sentiment.${sentiment}`)}`,
    search: `${t(`sentiment.${sentiment}`)} ${sentiment}`,
    checked: item && item.sentiment === sentiment,
  }));
  return html`<${ListDialog} title=${t("sentiment.pick")} placeholder=${t("sentiment.placeholder")}
    testid="sentiment-picker" options=${options} onClose=${closeOverlay}
    onPick=${(option) => {
      closeOverlay();
      correctSentiment(itemId, option.key);
    }}>
    ${item && html`<p class="dialog-quote"><strong>${item.author_name}</strong> ${item.body}</p>`}
  <//>`;
}
