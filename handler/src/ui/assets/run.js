// One run: its record, payload and log, following live while it runs; cancellation.

import { api, enc } from "./api.js";
import { TERMINAL, el, fmtDuration, fmtTime, message, pretty, show, statusBadge } from "./dom.js";
import { live } from "./live.js";
import { session } from "./session.js";

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

export async function showRun(id) {
  const visit = session.visit;
  let run;
  try {
    ({ body: run } = await api(`/api/v1/runs/${enc(id)}`));
  } catch (err) {
    if (visit === session.visit) show(el("h1", {}, "Run"), message("error", err.status === 404 ? "No such run in this workspace." : err.message),
      el("a", { href: "#/runs" }, "Back to runs"));
    return;
  }
  if (visit !== session.visit) return;
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
  session.leave = () => { off(); live.unfollow(run.id); clearTimeout(gapTimer); };
  render();
  await drain();
  if (visit === session.visit && !TERMINAL.has(run.status)) live.follow(run.id, () => lastSeq);
}
