// The live connection to /ws.

import { session, token } from "./session.js";

// One WebSocket for the page: authenticates with a frame (never the URL), subscribes to the
// workspace, and after every reconnect resumes each followed run from its last seq.
export const live = {
  ws: null, ready: false, attempts: 0, timer: null, stopped: true,
  handlers: new Set(), follows: new Map(),
  button: document.getElementById("live"),

  start() {
    this.stopped = false;
    this.button.hidden = false;
    if (!this.ws) this.connect();
  },
  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    const ws = this.ws;
    this.ws = null;
    this.ready = false;
    if (ws) ws.close();
    this.button.hidden = true;
  },
  status(text, state) {
    this.button.textContent = text;
    this.button.dataset.state = state;
  },
  connect() {
    if (!session.workspace) { this.status("no live updates", "off"); return; }
    const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`;
    const ws = new WebSocket(url);
    this.ws = ws;
    this.ready = false;
    this.status("connecting", "connecting");
    ws.onopen = () => ws.send(JSON.stringify({ type: "auth", token: token() }));
    ws.onmessage = (event) => {
      if (this.ws !== ws) return;
      let frame;
      try { frame = JSON.parse(event.data); } catch { return; }
      if (frame.type === "authenticated") {
        this.ready = true;
        this.attempts = 0;
        this.status("live", "live");
        this.send({ type: "subscribe", channel: `workspace:${session.workspace}` });
        for (const [runId, after] of this.follows) this.resume(runId, after());
        return;
      }
      if (frame.type === "error" && frame.payload?.message === "unauthenticated") {
        session.signOut("The live connection refused your token.");
        return;
      }
      for (const handler of this.handlers) handler(frame);
    };
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.ready = false;
      if (this.stopped) return;
      const delay = Math.min(10000, 500 * 2 ** this.attempts++);
      this.status("reconnecting", "off");
      this.timer = setTimeout(() => this.connect(), delay);
    };
  },
  // Drops the connection and opens a new one at once (the header button).
  reconnect() {
    clearTimeout(this.timer);
    const ws = this.ws;
    this.ws = null;
    if (ws) ws.close();
    this.attempts = 0;
    if (!this.stopped) this.connect();
  },
  send(frame) {
    if (this.ws && this.ready) this.ws.send(JSON.stringify(frame));
  },
  resume(runId, after) {
    this.send({ type: "subscribe", channel: `workspace:${session.workspace}`, run_id: runId, after });
  },
  // Follows a run's log: `after()` says the last seq shown, asked again at every reconnect.
  follow(runId, after) {
    this.follows.set(runId, after);
    this.resume(runId, after());
  },
  unfollow(runId) { this.follows.delete(runId); },
  on(handler) {
    this.handlers.add(handler);
    return () => this.handlers.delete(handler);
  },
};
live.button.addEventListener("click", () => live.reconnect());
