// Who is on which ticket: our own "viewing / typing" said on the socket and repeated, and the
// teammates' heard from it. The server keeps nothing, so silence past a while means gone.
import { emitLive } from "./live.js";
import { state, update } from "./store.js";

const REPEAT_MS = 10_000;
const EXPIRE_MS = 25_000;
const TYPING_IDLE_MS = 4_000;
const SWEEP_MS = 2_000;

let mine = null; // {ticketId, state}
let repeat = null;
let typingIdle = null;
let sweeper = null;

window.addEventListener("pagehide", () => hold(null));

function say() {
  if (mine) emitLive("presence", { ticket_id: mine.ticketId, state: mine.state });
}

function hold(ticketId, presenceState) {
  if (mine && mine.ticketId !== ticketId) {
    emitLive("presence", { ticket_id: mine.ticketId, state: "left" });
  }
  mine = ticketId ? { ticketId, state: presenceState } : null;
  clearInterval(repeat);
  repeat = mine ? setInterval(say, REPEAT_MS) : null;
  say();
}

/** Say we are looking at this ticket now (null: at none). */
export function viewing(ticketId) {
  clearTimeout(typingIdle);
  if (!mine || mine.ticketId !== ticketId || mine.state !== "viewing") hold(ticketId, "viewing");
}

/** Say we are typing in the open ticket; back to viewing after a pause. */
export function typing() {
  if (!mine) return;
  if (mine.state !== "typing") hold(mine.ticketId, "typing");
  clearTimeout(typingIdle);
  typingIdle = setTimeout(() => mine && hold(mine.ticketId, "viewing"), TYPING_IDLE_MS);
}

/** Repeat our presence (after a reconnection, or for a teammate who just arrived). */
export function repeatPresence() {
  say();
}

/** Take in a teammate's presence message. */
export function heard(payload) {
  if (!state.user || !payload || payload.user_id === state.user.id) return;
  const ticketId = payload.ticket_id;
  const people = state.presence.get(ticketId) || new Map();
  const isNew = !people.has(payload.user_id);
  if (payload.state === "left") people.delete(payload.user_id);
  else people.set(payload.user_id, { name: payload.name, state: payload.state, at: Date.now() });
  if (people.size) state.presence.set(ticketId, people);
  else state.presence.delete(ticketId);
  // Someone new on our ticket has not heard us yet: answer now rather than at the next repeat.
  if (isNew && payload.state !== "left" && mine && mine.ticketId === ticketId) say();
  update();
}

function sweep() {
  const cutoff = Date.now() - EXPIRE_MS;
  let changed = false;
  for (const [ticketId, people] of state.presence) {
    for (const [userId, entry] of people) {
      if (entry.at < cutoff) {
        people.delete(userId);
        changed = true;
      }
    }
    if (!people.size) state.presence.delete(ticketId);
  }
  if (changed) update();
}

/** Start forgetting silent teammates; stop saying anything when signed out. */
export function startPresence() {
  if (!sweeper) sweeper = setInterval(sweep, SWEEP_MS);
}

export function stopPresence() {
  hold(null);
  clearInterval(sweeper);
  sweeper = null;
}

/** The teammates on a ticket, typing ones first: [{id, name, state}]. */
export function peopleOn(ticketId) {
  const people = state.presence.get(ticketId);
  if (!people) return [];
  return [...people]
    .map(([id, entry]) => ({ id, ...entry }))
    .sort((a, b) => (a.state === "typing" ? 0 : 1) - (b.state === "typing" ? 0 : 1) || a.id - b.id);
}
