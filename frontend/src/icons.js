// Small pictures drawn in place (no external assets): a mark per platform, initials per person.
import { html } from "./html.js";

// Platform name and its mark: a glyph drawn here, or a monogram on the platform's colour.
const PLATFORMS = {
  x: ["X", "X"],
  facebook: ["Facebook", "f"],
  instagram: ["Instagram", "ig"],
  whatsapp: ["WhatsApp", "wa"],
  youtube: ["YouTube", "play"],
  tiktok: ["TikTok", "♪"],
  linkedin: ["LinkedIn", "in"],
  google_reviews: ["Google", "G"],
  play_store: ["Google Play", "play"],
  app_store: ["App Store", "A"],
  mastodon: ["Mastodon", "M"],
  email: ["E-mail", "mail"],
  rss: ["RSS", "feed"],
  webhook: ["Webhook", "{}"],
  demo: ["Demo", "D"],
};

const GLYPHS = {
  play: html`<path d="M7 5.5v9l7.5-4.5z" class="glyph" />`,
  mail: html`<path d="M4.5 6.5h11v7h-11z M4.5 6.5l5.5 4.2 5.5-4.2" class="glyph-line" />`,
  feed: html`<circle cx="6.5" cy="13.5" r="1.4" class="glyph" />
    <path d="M5.5 9.2a5.3 5.3 0 0 1 5.3 5.3 M5.5 5.8a8.7 8.7 0 0 1 8.7 8.7" class="glyph-line" />`,
};

/** The platform name of a channel type ("x" → "X"). */
export function platformName(type) {
  return (PLATFORMS[type] || [type])[0];
}

/** A channel's mark: the platform's colour and sign, with the channel's name on hover. */
export function ChannelIcon({ channel, type }) {
  const kind = channel ? channel.type : type || "unknown";
  const [label, mark] = PLATFORMS[kind] || [kind, "?"];
  const title = channel ? `${label} · ${channel.name}` : label;
  return html`
    <svg class=${`ch-icon ch-${kind}`} viewBox="0 0 20 20" width="18" height="18" role="img"
      aria-label=${title} data-testid="channel-icon" data-type=${kind}>
      <title>${title}</title>
      <rect x="0.5" y="0.5" width="19" height="19" rx="5" class="ch-ground" />
      ${GLYPHS[mark] ||
      html`<text x="10" y="14.2" text-anchor="middle" class="ch-mark">${mark}</text>`}
    </svg>
  `;
}

/** Up to two initials of a name ("Léa Moreau" → "LM"). */
export function initials(name) {
  const words = String(name || "?")
    .replace(/[^\p{L}\p{N} ]/gu, " ")
    .trim()
    .split(/\s+/);
  const letters = words.length > 1 ? words[0][0] + words[words.length - 1][0] : words[0].slice(0, 2);
  return (letters || "?").toUpperCase();
}

/** A round badge with a person's initials, its colour fixed by their id. */
export function Avatar({ id, name, title, state, testid = "avatar" }) {
  const classes = ["avatar", `av-${Math.abs(Number(id) || 0) % 8}`, state && `is-${state}`];
  return html`<span class=${classes.filter(Boolean).join(" ")} title=${title || name}
    aria-label=${title || name} data-testid=${testid} data-user-id=${id}>${initials(name)}</span>`;
}
