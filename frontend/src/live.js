// The live feed: one socket for the team rooms; events missed while offline fetched on reconnect.
import { io } from "/static/vendor/socket.io.js";
import { api } from "./api.js";

// Past this many pages of missed events, reloading the first page of tickets is cheaper.
const CATCH_UP_PAGES = 5;
const RETRY_MS = 2_000;

/**
 * Connect and call `onEvents({events, tickets})` for every change, `onResync()` when the
 * list must be reloaded from scratch, and `onStatus(online)` when the connection comes or goes.
 */
export function connectLive({ onEvents, onResync, onStatus }) {
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
  socket.on("connect", () => {
    onStatus(true);
    // Before any event we have no id to resume from; the first page is the truth then.
    const resume = lastEventId === null ? Promise.resolve(onResync()) : catchUp();
    resume.catch(() => onResync());
  });
  socket.on("disconnect", (reason) => {
    onStatus(false);
    // socket.io retries by itself except when the server hung up; a restart does that too.
    if (reason === "io server disconnect") setTimeout(() => socket.connect(), RETRY_MS);
  });
  socket.on("connect_error", () => onStatus(false));

  return {
    watch: (ticketId) => socket.emit("watch", { ticket_id: ticketId }),
    unwatch: (ticketId) => socket.emit("unwatch", { ticket_id: ticketId }),
    close: () => socket.disconnect(),
  };
}
