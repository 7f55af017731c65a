// The live feed: one socket for the team rooms; events missed while offline fetched on reconnect.
import { io } from "/static/vendor/socket.io.js";
import { api } from "./api.js";

// Past this many pages of missed events, reloading the first page of tickets is cheaper.
const CATCH_UP_PAGES = 5;
const RETRY_MS = 2_000;
const ACK_MS = 5_000;
let current = null;

/**
 * Connect and call `onEvents({events, tickets})` for every change, `onResync()` when the
 * list must be reloaded from scratch, `onStatus(online)` when the connection comes or goes,
 * and `onPresence(payload)` when a teammate says what they are looking at.
 */
export function connectLive({ onEvents, onResync, onStatus, onPresence, onConnect }) {
  let lastEventId = null;
  const socket = io({ transports: ["websocket"] });

  function apply(payload) {
    for (const event of payload.events) lastEventId = Math.max(lastEventId ?? 0, event.id);
    onEvents(payload);
  }

  async function catchUp() {
    let after = lastEventId;
    for (let page = 0; page < CATCH_UP_PAGES; page++) {
      const data = await api.get("/api/events", new URLSearchParams({ after }));
      apply(data);
      if (!data.more) return;
      after = data.events[data.events.length - 1].id;
    }
    onResync();
  }

  socket.on("events", apply);
  socket.on("presence", onPresence);
  socket.on("connect", () => {
    onStatus(true);
    // Before any event we have no id to resume from; the first page is the truth then.
    const resume = lastEventId === null ? Promise.resolve(onResync()) : catchUp();
    resume.catch(() => onResync());
    onConnect();
  });
  socket.on("disconnect", (reason) => {
    onStatus(false);
    // socket.io retries by itself except when the server hung up; a restart does that too.
    if (reason === "io server disconnect") setTimeout(() => socket.connect(), RETRY_MS);
  });
  socket.on("connect_error", () => onStatus(false));

  // The browser knows at once when the network goes; the socket's heartbeat would take ~45 s.
  const goneOffline = () => socket.disconnect();
  const backOnline = () => socket.connected || socket.connect();
  window.addEventListener("offline", goneOffline);
  window.addEventListener("online", backOnline);

  // One message at a time, each after the server's answer to the previous one: the server
  // handles a connection's messages in parallel threads that share its database session.
  let chain = Promise.resolve();
  function send(name, data) {
    chain = chain.then(
      () =>
        new Promise((resolve) => {
          if (!socket.connected) return resolve();
          socket.timeout(ACK_MS).emit(name, data, () => resolve());
        }),
    );
  }

  current = {
    watch: (ticketId) => send("watch", { ticket_id: ticketId }),
    unwatch: (ticketId) => send("unwatch", { ticket_id: ticketId }),
    emit: send,
    close: () => {
      window.removeEventListener("offline", goneOffline);
      window.removeEventListener("online", backOnline);
      socket.disconnect();
      current = null;
    },
  };
  return current;
}

/** Join a ticket's room (no-op while signed out). */
export function watchTicket(ticketId) {
  if (current) current.watch(ticketId);
}

export function unwatchTicket(ticketId) {
  if (current) current.unwatch(ticketId);
}

/** Send a message on the socket if it is connected. */
export function emitLive(name, data) {
  if (current) current.emit(name, data);
}
