// The Crewship dashboard: runs, live logs and agents over the monitoring API and /ws.
// Plain JavaScript, no dependencies. Every value from the service is rendered as text
// (createTextNode / textContent), never parsed as HTML.
"use strict";

const TOKEN_KEY = "crewship.token";
const PAGE_SIZE = 50;
// How many API pages one "load" may read while an event filter skips runs; beyond that the
// user asks for more, so a rare event never turns one click into a scan of everything.
const MAX_FETCHES_PER_LOAD = 20;
const TERMINAL = new Set(["COMPLETED", "FAILED", "TIMEOUT", "CANCELLED"]);
const STATUSES = ["QUEUED", "RUNNING", "COMPLETED", "FAILED", "TIMEOUT", "CANCELLED"];

const main = document.getElementById("main");
const session = { agents: [], workspace: null };
let teardown = () => {};

// ---------------------------------------------------------------- elements, as text only

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function show(...children) {
  main.replaceChildren();
  append(main, children);
}

function fmtTime(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

function fmtDuration(run) {
  if (typeof run.duration_ms === "number") {
    const ms = run.duration_ms;
    return ms < 1000 ? `${ms} ms` : ms < 60000 ? `${(ms / 1000).toFixed(1)} s` :
      `${Math.floor(ms / 60000)} min ${Math.round((ms % 60000) / 1000)} s`;
  }
  return run.status === "RUNNING" ? "running" : "";
}

function statusBadge(status) {
  return el("span", { class: `status status-${String(status).toLowerCase()}`, "data-status": status },
    status);
}

function pretty(value) {
  return typeof value === "string" ? value : JSON.stringify(value, null, 2);
}

function copyButton(text, label = "Copy") {
  const button = el("button", { type: "button", class: "small" }, label);
  button.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(text());
      button.textContent = "Copied";
    } catch {
      button.textContent = "Select and copy";
    }
    setTimeout(() => { button.textContent = label; }, 1500);
  });
  return button;
}

function message(kind, text) {
  return el("p", { class: `msg msg-${kind}`, role: kind === "error" ? "alert" : "status" }, text);
}

// ---------------------------------------------------------------- the API

class ApiError extends Error {
  constructor(status, code, text) {
    super(text);
    this.status = status;
    this.code = code;
  }
}

async function api(path, options = {}) {
  const token = sessionStorage.getItem(TOKEN_KEY) || "";
  let res;
  try {
    res = await fetch(path, {
      method: options.method || "GET",
      headers: { Authorization: `Bearer ${token}`, Accept: "application/json" },
      cache: "no-store",
      credentials: "omit",
    });
  } catch {
    throw new ApiError(0, "unreachable", "The service could not be reached.");
  }
  let body = null;
  try { body = await res.json(); } catch { /* an empty or non-JSON answer */ }
  if (!res.ok) {
    const err = new ApiError(res.status, body?.error || `http_${res.status}`,
      body?.message || res.statusText || `HTTP ${res.status}`);
    if (res.status === 401 && !options.signingIn) {
      signOut(`Your token is no longer accepted (${err.code}): ${err.message}`);
    }
    throw err;
  }
  return { body, res };
}

// The `rel="next"` target of a Link header, resolved against the URL that was called.
function nextLink(res, called) {
  const header = res.headers.get("Link");
  const match = header && /<([^>]*)>\s*;\s*rel="?next"?/.exec(header);
  if (!match) return null;
  const url = new URL(match[1], new URL(called, location.href));
  return url.origin === location.origin ? url.pathname + url.search : null;
}

const enc = encodeURIComponent;

// ---------------------------------------------------------------- the live connection

// One WebSocket for the page: authenticates with a frame (never the URL), subscribes to the
// workspace, and after every reconnect resumes each followed run from its last seq.
const live = {
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
    ws.onopen = () => ws.send(JSON.stringify({ type: "auth", token: sessionStorage.getItem(TOKEN_KEY) }));
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
        signOut("The live connection refused your token.");
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

// ---------------------------------------------------------------- sign-in

function signOut(reason) {
  sessionStorage.removeItem(TOKEN_KEY);
  live.stop();
  session.agents = [];
  session.workspace = null;
  if (location.hash && location.hash !== "#/") history.replaceState(null, "", "#/");
  route(reason);
}

document.getElementById("signout").addEventListener("click", () => signOut());

function showSignIn(reason) {
  document.getElementById("nav").hidden = true;
  document.getElementById("signout").hidden = true;
  const input = el("input", {
    id: "token", name: "token", type: "password", autocomplete: "off", required: true,
    spellcheck: "false", "aria-describedby": "token-help",
  });
  const status = el("div", { id: "signin-msg" }, reason ? message("error", reason) : null);
  const form = el("form", { class: "card signin", id: "signin" },
    el("h1", {}, "Sign in"),
    el("label", { for: "token" }, "Monitoring token"),
    input,
    el("p", { id: "token-help", class: "hint" },
      "A monitoring token of your workspace (the local runner prints one at start-up). " +
      "It stays in this tab's session storage and is sent only as an Authorization header."),
    el("button", { type: "submit", class: "primary" }, "Sign in"),
    status);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const token = input.value.trim();
    if (!token) return;
    sessionStorage.setItem(TOKEN_KEY, token);
    status.replaceChildren(message("info", "Checking the token…"));
    try {
      await loadAgents(true);
    } catch (err) {
      sessionStorage.removeItem(TOKEN_KEY);
      const text = err.status === 401
        ? `That token was refused (${err.code}): ${err.message}. ` +
          "Use a monitoring token of your workspace."
        : err.status === 404
          ? "This deployment serves no monitoring API (a prerequisite is missing)."
          : `Sign-in failed: ${err.message}`;
      status.replaceChildren(message("error", text));
      input.select();
      return;
    }
    if (!location.hash.startsWith("#/runs") && !location.hash.startsWith("#/agents")) {
      history.replaceState(null, "", "#/runs");
    }
    route();
  });
  show(form);
  input.focus();
}

async function loadAgents(signingIn = false) {
  const { body } = await api("/api/v1/agents", { signingIn });
  session.agents = Array.isArray(body) ? body : [];
  session.workspace = session.agents[0]?.workspace_id || null;
}

// ---------------------------------------------------------------- runs

// The workspace's runs, newest first: each agent's own listing, merged by run id (ids grow
// with time), each followed through its own Link cursor.
class RunLister {
  constructor(agentIds, status, event) {
    const query = `limit=${PAGE_SIZE}${status ? `&status=${enc(status)}` : ""}`;
    this.sources = agentIds.map((id) => ({ url: `/api/v1/agents/${enc(id)}/runs?${query}`, buf: [], done: false }));
    this.event = event;
  }
  get exhausted() { return this.sources.every((s) => s.done && s.buf.length === 0); }
  async fill(source) {
    const { body, res } = await api(source.url);
    source.buf.push(...(Array.isArray(body) ? body : []));
    const next = nextLink(res, source.url);
    if (next) source.url = next; else source.done = true;
  }
  async next(n) {
    const out = [];
    let fetches = 0;
    while (out.length < n) {
      const empty = this.sources.filter((s) => s.buf.length === 0 && !s.done);
      if (empty.length) {
        if (fetches >= MAX_FETCHES_PER_LOAD) break;
        fetches += empty.length;
        await Promise.all(empty.map((s) => this.fill(s)));
        continue;
      }
      let best = null;
      for (const s of this.sources) {
        if (s.buf.length && (!best || s.buf[0].id > best.buf[0].id)) best = s;
      }
      if (!best) break;
      const run = best.buf.shift();
      if (this.matchesEvent(run)) out.push(run);
    }
    return out;
  }
  matchesEvent(run) { return !this.event || String(run.event ?? "").includes(this.event); }
}

function runRow(run) {
  const link = el("a", { href: `#/runs/${enc(run.id)}`, class: "mono" }, run.id);
  return el("tr", { dataset: { runId: run.id } },
    el("td", {}, link),
    el("td", {}, run.agent_id),
    el("td", {}, statusBadge(run.status)),
    el("td", {}, run.event ?? ""),
    el("td", { class: "wide" }, run.source ?? ""),
    el("td", { class: "wide" }, run.auth_scheme ?? ""),
    el("td", { class: "nowrap" }, fmtTime(run.created_at)),
    el("td", { class: "wide nowrap" }, fmtDuration(run)));
}

async function showRuns(params) {
  const agent = params.get("agent") || "";
  const status = params.get("status") || "";
  const event = params.get("event") || "";
  const agentSelect = el("select", { id: "f-agent", name: "agent" },
    el("option", { value: "" }, "All agents"),
    session.agents.map((a) => el("option", { value: a.id, selected: a.id === agent }, a.id)));
  const statusSelect = el("select", { id: "f-status", name: "status" },
    el("option", { value: "" }, "Any status"),
    STATUSES.map((s) => el("option", { value: s, selected: s === status }, s)));
  const eventInput = el("input", { id: "f-event", name: "event", value: event, placeholder: "e.g. push" });
  const filters = el("form", { class: "filters", id: "filters" },
    el("label", {}, "Agent", agentSelect),
    el("label", {}, "Status", statusSelect),
    el("label", {}, "Event contains", eventInput),
    el("button", { type: "submit" }, "Apply"));
  filters.addEventListener("submit", (e) => {
    e.preventDefault();
    const q = new URLSearchParams();
    if (agentSelect.value) q.set("agent", agentSelect.value);
    if (statusSelect.value) q.set("status", statusSelect.value);
    if (eventInput.value.trim()) q.set("event", eventInput.value.trim());
    location.hash = `#/runs${q.size ? `?${q}` : ""}`;
  });
  const tbody = el("tbody", { id: "runs" });
  const table = el("div", { class: "scroll" }, el("table", { class: "runs" },
    el("thead", {}, el("tr", {},
      ["Run", "Agent", "Status", "Event", "Source", "Auth", "Created", "Duration"].map((t, i) =>
        el("th", { scope: "col", class: i === 4 || i === 5 || i === 7 ? "wide" : null }, t)))),
    tbody));
  const note = el("div", { id: "runs-msg" });
  const more = el("button", { type: "button", id: "more", hidden: true }, "Load older runs");
  show(el("h1", {}, "Runs"), filters, table, note, more);

  const agentIds = agent ? [agent] : session.agents.map((a) => a.id);
  const lister = new RunLister(agentIds, status, event);
  const rows = new Map();
  const matches = (run) => (!agent || run.agent_id === agent) && (!status || run.status === status) &&
    lister.matchesEvent(run);
  const put = (run, live) => {
    const old = rows.get(run.id);
    if (old) { const row = runRow(run); old.replaceWith(row); rows.set(run.id, row); return; }
    if (!matches(run)) return;
    // A live run older than everything shown would come again on a later page: leave it there.
    const last = tbody.lastElementChild?.dataset.runId;
    if (live && last && run.id < last && !lister.exhausted) return;
    const row = runRow(run);
    rows.set(run.id, row);
    note.replaceChildren();
    const after = [...tbody.children].find((r) => r.dataset.runId < run.id);
    tbody.insertBefore(row, after || null);
  };
  const load = async () => {
    more.disabled = true;
    try {
      const page = await lister.next(PAGE_SIZE);
      page.forEach((run) => put(run, false));
      note.replaceChildren(rows.size ? "" :
        message("info", session.agents.length ? "No runs match." : "This workspace has no agents yet."));
    } catch (err) {
      note.replaceChildren(message("error", `Could not list runs: ${err.message}`));
    }
    more.hidden = lister.exhausted;
    more.disabled = false;
  };
  more.addEventListener("click", load);
  const off = live.on((frame) => {
    if (["run.started", "run.completed", "run.failed"].includes(frame.type) && frame.payload?.id) {
      put(frame.payload, true);
    }
  });
  teardown = off;
  await load();
}

// ---------------------------------------------------------------- one run

const RECORD_FIELDS = [
  ["status", "Status"], ["agent_id", "Agent"], ["event", "Event"], ["source", "Source"],
  ["auth_scheme", "Auth scheme"], ["delivery_id", "Delivery id"], ["trigger_type", "Trigger"],
  ["created_at", "Created"], ["started_at", "Started"], ["finished_at", "Finished"],
  ["duration_ms", "Duration"], ["deadline_at", "Deadline"], ["attempt", "Attempt"],
  ["exit_code", "Exit code"], ["error_message", "Error"], ["result", "Result"],
  ["usage", "Usage"], ["sources", "Sources"], ["chat_id", "Chat"],
];

function recordList(run) {
  const dl = el("dl", { class: "fields", id: "record" });
  for (const [key, label] of RECORD_FIELDS) {
    const value = run[key];
    if (value === undefined || value === null || value === "") continue;
    let shown;
    if (key === "status") shown = statusBadge(value);
    else if (key === "duration_ms") shown = fmtDuration(run);
    else if (key.endsWith("_at")) shown = el("time", { datetime: value, title: value }, fmtTime(value));
    else if (typeof value === "object") shown = el("pre", {}, pretty(value));
    else shown = String(value);
    const wide = typeof value === "object" || key === "error_message";
    dl.append(el("div", { class: wide ? "field wide-field" : "field" },
      el("dt", {}, label), el("dd", { dataset: { field: key } }, shown)));
  }
  return dl;
}

async function showRun(id) {
  let run;
  try {
    ({ body: run } = await api(`/api/v1/runs/${enc(id)}`));
  } catch (err) {
    show(el("h1", {}, "Run"), message("error", err.status === 404 ? "No such run in this workspace." : err.message),
      el("a", { href: "#/runs" }, "Back to runs"));
    return;
  }
  const title = el("h1", {}, "Run ", el("span", { class: "mono" }, run.id));
  const actions = el("div", { class: "actions" });
  const notice = el("div", { id: "run-msg" });
  const record = el("section", { "aria-label": "Record" });
  const follow = el("input", { type: "checkbox", id: "follow", checked: true });
  const logStatus = el("span", { id: "log-status", class: "hint" });
  const log = el("ol", { class: "log", id: "log", "aria-live": "polite", tabindex: "0", "aria-label": "Log" });
  show(el("p", {}, el("a", { href: "#/runs" }, "← Runs")), title, actions, notice, record,
    el("h2", {}, "Payload"), el("pre", { class: "payload", id: "payload", tabindex: "0" }, pretty(run.payload ?? null)),
    el("div", { class: "log-head" }, el("h2", {}, "Log"), logStatus,
      el("label", { class: "inline" }, follow, " follow")),
    log);

  let lastSeq = 0;
  const pending = new Map();
  let gapTimer = null;
  let done = false;

  const render = () => {
    record.replaceChildren(recordList(run));
    actions.replaceChildren();
    if (!TERMINAL.has(run.status)) actions.append(cancelButton());
    logStatus.textContent = TERMINAL.has(run.status) ? "" : "following live";
  };
  const cancelButton = () => {
    const button = el("button", { type: "button", id: "cancel", class: "danger" }, "Cancel run");
    button.addEventListener("click", async () => {
      button.disabled = true;
      try {
        const { body, res } = await api(`/api/v1/runs/${enc(run.id)}/cancel`, { method: "POST" });
        notice.replaceChildren(message("info", res.status === 202
          ? "Cancellation requested: the run is being stopped." : "The run was cancelled."));
        update(body);
      } catch (err) {
        notice.replaceChildren(message("error", `Could not cancel: ${err.message}`));
        button.disabled = false;
      }
    });
    return button;
  };
  const line = (entry) => el("li", { class: `line stream-${entry.stream}`, dataset: { seq: entry.seq, stream: entry.stream } },
    el("span", { class: "seq" }, entry.seq),
    el("span", { class: "ts" }, fmtTime(entry.ts).slice(11)),
    el("span", { class: "stream" }, entry.stream),
    el("span", { class: "content" }, entry.content ?? ""));
  // Lines are shown strictly in seq order, each once; a line ahead of a gap waits until the
  // gap is filled (from the socket, or from the logs API if the socket does not fill it).
  const add = (entry) => {
    if (entry.seq <= lastSeq) return;
    if (entry.seq > lastSeq + 1) {
      pending.set(entry.seq, entry);
      if (!gapTimer) gapTimer = setTimeout(() => { gapTimer = null; drain(); }, 1500);
      return;
    }
    const items = [line(entry)];
    lastSeq = entry.seq;
    while (pending.has(lastSeq + 1)) {
      items.push(line(pending.get(lastSeq + 1)));
      pending.delete(lastSeq + 1);
      lastSeq += 1;
    }
    for (const s of pending.keys()) if (s <= lastSeq) pending.delete(s);
    log.append(...items);
    if (follow.checked) log.scrollTop = log.scrollHeight;
  };
  let draining = null;
  const drain = () => {
    draining ??= (async () => {
      try {
        for (;;) {
          const { body } = await api(`/api/v1/agents/${enc(run.agent_id)}/logs?run_id=${enc(run.id)}&after=${lastSeq}&limit=1000`);
          const entries = Array.isArray(body) ? body : [];
          entries.forEach(add);
          if (entries.length < 1000) break;
        }
      } catch (err) {
        notice.replaceChildren(message("error", `Could not read the log: ${err.message}`));
      } finally {
        draining = null;
      }
    })();
    return draining;
  };
  const update = (next) => {
    if (!next || next.id !== run.id) return;
    run = next;
    render();
    if (TERMINAL.has(run.status) && !done) {
      done = true;
      live.unfollow(run.id);
      drain();
    }
  };
  const off = live.on((frame) => {
    const p = frame.payload;
    if (frame.type === "agent.log" && p?.run_id === run.id) add(p);
    else if (["run.started", "run.completed", "run.failed"].includes(frame.type)) update(p);
  });
  teardown = () => { off(); live.unfollow(run.id); clearTimeout(gapTimer); };
  render();
  await drain();
  if (!TERMINAL.has(run.status)) live.follow(run.id, () => lastSeq);
}

// ---------------------------------------------------------------- agents

function examples(agent, url) {
  const body = '{"event":"test","source":"dashboard","data":{}}';
  const curl = [
    "read -rsp 'Webhook secret: ' SECRET; echo   # kept out of the shell history",
    `URL='${url}'`,
    `BODY='${body}'`,
    agent.require_timestamp ? "TS=$(date +%s)" : null,
    `SIG=$(printf %s "${agent.require_timestamp ? "$TS." : ""}$BODY" | openssl dgst -sha256 -hmac "$SECRET" | sed 's/^.*= //')`,
    `curl -sS -X POST "$URL" -H 'Content-Type: application/json' \\`,
    agent.require_timestamp ? `  -H "X-Timestamp: $TS" \\` : null,
    `  -H "X-Signature: $SIG" --data-binary "$BODY"`,
  ].filter(Boolean).join("\n");
  const cli = "# $SECRET as above; CREWSHIP_TOKEN (a monitoring token) lets --wait follow the run\n" +
    `CREWSHIP_WEBHOOK_SECRET="$SECRET" CREWSHIP_TOKEN="$TOKEN" local-runner trigger --url '${location.origin}' \\\n` +
    `  --agent '${agent.id}' --crew '${agent.crew_id}' --event test --wait`;
  return { curl, cli };
}

function agentCard(agent) {
  const url = location.origin + agent.webhook_path;
  const { curl, cli } = examples(agent, url);
  const secretBox = el("div", { class: "secret-box" });
  const rotate = el("button", { type: "button", class: "rotate" }, "Rotate secret…");
  const confirmBox = el("span", { class: "confirm", hidden: true },
    "The old secret keeps verifying for the grace period. ",
    el("button", { type: "button", class: "danger rotate-confirm" }, "Rotate now"),
    el("button", { type: "button", class: "rotate-keep" }, "Keep"));
  rotate.addEventListener("click", () => { confirmBox.hidden = false; rotate.hidden = true; confirmBox.querySelector("button").focus(); });
  confirmBox.querySelector(".rotate-keep").addEventListener("click", () => { confirmBox.hidden = true; rotate.hidden = false; rotate.focus(); });
  confirmBox.querySelector(".rotate-confirm").addEventListener("click", async (e) => {
    e.target.disabled = true;
    try {
      const { body } = await api(`/api/v1/agents/${enc(agent.id)}/webhook-secret/rotate`, { method: "POST" });
      const secret = el("code", { class: "secret" }, body.webhook_secret);
      secretBox.replaceChildren(el("div", { class: "card warn", role: "status" },
        el("strong", {}, "New webhook secret — shown this once, store it now:"),
        el("div", { class: "row" }, secret, copyButton(() => body.webhook_secret)),
        el("p", { class: "hint" }, `Rotated at ${fmtTime(body.rotated_at)}; the previous secret verifies until ${fmtTime(body.previous_valid_until)}.`)));
      secretBox.scrollIntoView({ block: "nearest" });
    } catch (err) {
      secretBox.replaceChildren(message("error", `Could not rotate: ${err.message}`));
    }
    e.target.disabled = false;
    confirmBox.hidden = true;
    rotate.hidden = false;
  });
  const facts = [
    ["Agent id", agent.id], ["Crew", agent.crew_id], ["Adapter", agent.adapter],
    ["Model", agent.model], ["Signature", agent.require_timestamp
      ? "X-Signature + X-Timestamp (timestamp required)"
      : "X-Signature, X-Signature + X-Timestamp, X-Hub-Signature-256 (GitHub), Standard Webhooks"],
    ["Sources", agent.sources ? pretty(agent.sources) : null],
    ["Auth policy", agent.auth ? pretty(agent.auth) : null],
    ["Rate limit", agent.rate_limit_per_min ? `${agent.rate_limit_per_min} / min` : null],
    ["Concurrency", agent.max_concurrent_runs], ["Queue limit", agent.max_queued_runs],
    ["Timeout", agent.timeout_secs ? `${agent.timeout_secs} s` : null],
    ["Secret", agent.webhook_secret_set ? "set" : "not set"],
    ["Previous secret valid until", agent.previous_secret_valid_until ? fmtTime(agent.previous_secret_valid_until) : null],
  ];
  const dl = el("dl", { class: "record" });
  for (const [k, v] of facts) if (v !== undefined && v !== null && v !== "") dl.append(el("dt", {}, k), el("dd", {}, String(v)));
  return el("section", { class: "card agent", dataset: { agentId: agent.id }, "aria-label": agent.name || agent.id },
    el("h2", {}, agent.name || agent.id, " ", el("a", { href: `#/runs?agent=${enc(agent.id)}`, class: "small-link" }, "runs")),
    el("div", { class: "row" }, el("code", { class: "webhook-url" }, url), copyButton(() => url)),
    dl,
    el("h3", {}, "Sign a request with curl and openssl"),
    el("pre", { tabindex: "0" }, curl), copyButton(() => curl),
    el("h3", {}, "Or with the local runner"),
    el("pre", { tabindex: "0" }, cli), copyButton(() => cli),
    el("div", { class: "row" }, rotate, confirmBox),
    secretBox);
}

async function showAgents() {
  try {
    await loadAgents();
  } catch (err) {
    show(el("h1", {}, "Agents"), message("error", `Could not list agents: ${err.message}`));
    return;
  }
  show(el("h1", {}, "Agents"),
    session.agents.length ? session.agents.map(agentCard) : message("info", "This workspace has no agents yet."));
}

// ---------------------------------------------------------------- routing

async function route(reason) {
  teardown();
  teardown = () => {};
  const hash = location.hash || "#/runs";
  if (!sessionStorage.getItem(TOKEN_KEY)) { showSignIn(typeof reason === "string" ? reason : null); return; }
  document.getElementById("nav").hidden = false;
  document.getElementById("signout").hidden = false;
  if (!session.workspace && !session.agents.length) {
    try { await loadAgents(); } catch (err) { if (err.status !== 401) show(message("error", err.message)); return; }
  }
  live.start();
  const page = hash.startsWith("#/agents") ? "agents" : "runs";
  for (const a of document.querySelectorAll("#nav a")) {
    if (a.dataset.page === page) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
  }
  window.scrollTo(0, 0);
  const runMatch = /^#\/runs\/([^/?]+)$/.exec(hash);
  if (runMatch) await showRun(decodeURIComponent(runMatch[1]));
  else if (page === "agents") await showAgents();
  else await showRuns(new URLSearchParams(hash.split("?")[1] || ""));
  main.focus({ preventScroll: true });
}

window.addEventListener("hashchange", () => route());
route();
