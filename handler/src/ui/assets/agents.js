// The agents page: webhook URLs, signing examples, secret rotation.

import { api, enc, loadAgents } from "./api.js";
import { copyButton, el, fmtTime, message, pretty, show } from "./dom.js";
import { session } from "./session.js";

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

export async function showAgents() {
  const visit = session.visit;
  try {
    await loadAgents();
  } catch (err) {
    if (visit === session.visit) show(el("h1", {}, "Agents"), message("error", `Could not list agents: ${err.message}`));
    return;
  }
  if (visit !== session.visit) return;
  show(el("h1", {}, "Agents"),
    session.agents.length ? session.agents.map(agentCard) : message("info", "This workspace has no agents yet."));
}
