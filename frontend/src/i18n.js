// The page's words in French and English, and dates shown in the user's language and timezone.

const STRINGS = {
  fr: {
    "app.title": "Community Inbox",
    "app.loading": "Chargement…",
    "login.title": "Connexion",
    "login.email": "E-mail",
    "login.password": "Mot de passe",
    "login.submit": "Se connecter",
    "header.signOut": "Se déconnecter",
    "live.on": "En direct",
    "live.off": "Reconnexion…",
    "health.allOk": { one: "Canal OK", other: "{n} canaux OK" },
    "health.problems": { one: "1 canal à vérifier", other: "{n} canaux à vérifier" },
    "health.ok": "OK",
    "health.error": "Erreur",
    "health.needs_reconnection": "À reconnecter",
    "health.silent": "Silencieux",
    "health.lastSync": "synchro {age}",
    "list.title": "Tickets ouverts",
    "list.empty": "Aucun ticket ouvert. Tout est traité !",
    "list.loadMore": "Charger plus",
    "list.unassigned": "non attribué",
    "list.items": { one: "{n} message", other: "{n} messages" },
    "ticket.none": "Choisissez un ticket dans la liste.",
    "ticket.take": "Prendre",
    "ticket.close": "Clore",
    "ticket.assignee": "Attribué à {name}",
    "ticket.unassigned": "Non attribué",
    "reply.placeholder": "Votre réponse publique…",
    "reply.send": "Envoyer",
    "reply.hint": "Ctrl+Entrée pour envoyer",
    "item.note": "Note interne",
    "item.reply": "Réponse",
    "item.hidden": "masqué",
    "item.deleted": "supprimé",
    "item.edited": "modifié",
    "item.open": "Voir sur la plateforme",
    "delivery.queued": "en file d'attente",
    "delivery.sending": "envoi…",
    "delivery.sent": "envoyé",
    "delivery.failed": "échec : {reason}",
    "event.assigned": "Attribué à {name}",
    "event.unassigned": "Attribution retirée",
    "event.status": "Statut : {status}",
    "event.reopened": "Rouvert par un nouveau message",
    "kind.dm": "Message",
    "kind.comment": "Commentaire",
    "kind.mention": "Mention",
    "kind.quote": "Citation",
    "kind.repost": "Partage",
    "kind.review": "Avis",
    "kind.email": "E-mail",
    "status.open": "ouvert",
    "status.pending": "en attente",
    "status.snoozed": "en pause",
    "status.closed": "clos",
    "age.now": "à l'instant",
    "error.network": "Le serveur ne répond pas. Vérifiez la connexion.",
    "error.generic": "Une erreur est survenue.",
  },
  en: {
    "app.title": "Community Inbox",
    "app.loading": "Loading…",
    "login.title": "Sign in",
    "login.email": "Email",
    "login.password": "Password",
    "login.submit": "Sign in",
    "header.signOut": "Sign out",
    "live.on": "Live",
    "live.off": "Reconnecting…",
    "health.allOk": { one: "Channel OK", other: "{n} channels OK" },
    "health.problems": { one: "1 channel needs attention", other: "{n} channels need attention" },
    "health.ok": "OK",
    "health.error": "Error",
    "health.needs_reconnection": "Needs reconnecting",
    "health.silent": "Silent",
    "health.lastSync": "synced {age}",
    "list.title": "Open tickets",
    "list.empty": "No open tickets. All done!",
    "list.loadMore": "Load more",
    "list.unassigned": "unassigned",
    "list.items": { one: "{n} message", other: "{n} messages" },
    "ticket.none": "Pick a ticket from the list.",
    "ticket.take": "Take",
    "ticket.close": "Close",
    "ticket.assignee": "Assigned to {name}",
    "ticket.unassigned": "Unassigned",
    "reply.placeholder": "Your public reply…",
    "reply.send": "Send",
    "reply.hint": "Ctrl+Enter to send",
    "item.note": "Internal note",
    "item.reply": "Reply",
    "item.hidden": "hidden",
    "item.deleted": "deleted",
    "item.edited": "edited",
    "item.open": "View on the platform",
    "delivery.queued": "queued",
    "delivery.sending": "sending…",
    "delivery.sent": "sent",
    "delivery.failed": "failed: {reason}",
    "event.assigned": "Assigned to {name}",
    "event.unassigned": "Unassigned",
    "event.status": "Status: {status}",
    "event.reopened": "Reopened by a new message",
    "kind.dm": "Message",
    "kind.comment": "Comment",
    "kind.mention": "Mention",
    "kind.quote": "Quote",
    "kind.repost": "Repost",
    "kind.review": "Review",
    "kind.email": "Email",
    "status.open": "open",
    "status.pending": "pending",
    "status.snoozed": "snoozed",
    "status.closed": "closed",
    "age.now": "just now",
    "error.network": "The server does not answer. Check the connection.",
    "error.generic": "Something went wrong.",
  },
};

let locale = pick(navigator.language);
let timeZone;

function pick(tag) {
  const base = String(tag || "").toLowerCase().split("-")[0];
  return base in STRINGS ? base : "fr";
}

/** Speak the user's language and show times in their timezone from now on. */
export function setLocale(tag, zone) {
  locale = pick(tag);
  timeZone = zone || undefined;
  document.documentElement.lang = locale;
}

/** Return the string for `key` with {placeholders} filled; `n` picks the plural form. */
export function t(key, vars = {}) {
  let text = STRINGS[locale][key] ?? STRINGS.en[key] ?? key;
  if (typeof text === "object") text = text[new Intl.PluralRules(locale).select(vars.n)] ?? text.other;
  return text.replace(/\{(\w+)\}/g, (_, name) => String(vars[name] ?? ""));
}

/** Say how long ago an ISO time was, the short way ("il y a 5 min"). */
export function relativeAge(iso, now = Date.now()) {
  const seconds = Math.round((Date.parse(iso) - now) / 1000);
  if (Math.abs(seconds) < 45) return t("age.now");
  const format = new Intl.RelativeTimeFormat(locale, { numeric: "auto", style: "short" });
  for (const [unit, size] of [["day", 86400], ["hour", 3600], ["minute", 60]]) {
    if (Math.abs(seconds) >= size || unit === "minute") {
      return format.format(Math.round(seconds / size), unit);
    }
  }
}

/** Show an ISO time as a date and time in the user's timezone. */
export function formatTime(iso) {
  const options = { dateStyle: "medium", timeStyle: "short" };
  try {
    return new Intl.DateTimeFormat(locale, { ...options, timeZone }).format(new Date(iso));
  } catch {
    return new Intl.DateTimeFormat(locale, options).format(new Date(iso));
  }
}

/** The words to show for a failed request. */
export function errorText(err) {
  if (err && err.code === "network") return t("error.network");
  return (err && err.message) || t("error.generic");
}
