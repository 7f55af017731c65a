// Preact's h bound to htm's tagged templates: how every view builds its DOM, text always escaped.
import { h } from "/static/vendor/preact.js";
import htm from "/static/vendor/htm.js";

export const html = htm.bind(h);
