// The runs page: the workspace's runs, filters, pagination, live rows.

import { api, enc, nextLink } from "./api.js";
import { STATUSES, el, fmtDuration, fmtTime, message, show, statusBadge } from "./dom.js";
import { live } from "./live.js";
import { session } from "./session.js";

const PAGE_SIZE = 50;
// How many API pages one "load" may read while an event filter skips runs; beyond that the
// user asks for more, so a rare event never turns one click into a scan of everything.
const MAX_FETCHES_PER_LOAD = 20;

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

export async function showRuns(params) {
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
  session.leave = off;
  await load();
}
