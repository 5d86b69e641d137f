// The Crewship dashboard: runs, live logs and agents over the monitoring API and /ws.
// Plain JavaScript modules, no dependencies. Every value from the service is rendered as text
// (createTextNode / textContent), never parsed as HTML.
//
// - session.js: the token and what the pages share.   - dom.js: elements from data, as text.
// - api.js: the monitoring API.   - live.js: the /ws connection, with resume.
// - runs.js, run.js, agents.js: the pages.   - app.js (this file): sign-in and routing.

import { loadAgents } from "./api.js";
import { el, message, show } from "./dom.js";
import { live } from "./live.js";
import { showAgents } from "./agents.js";
import { showRun } from "./run.js";
import { showRuns } from "./runs.js";
import { clearToken, session, setToken, token } from "./session.js";

const main = document.getElementById("main");

function signOut(reason) {
  clearToken();
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
    const value = input.value.trim();
    if (!value) return;
    setToken(value);
    status.replaceChildren(message("info", "Checking the token…"));
    try {
      await loadAgents(true);
    } catch (err) {
      clearToken();
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

async function route(reason) {
  session.leave();
  session.leave = () => {};
  const visit = ++session.visit;
  const hash = location.hash || "#/runs";
  if (!token()) { showSignIn(typeof reason === "string" ? reason : null); return; }
  document.getElementById("nav").hidden = false;
  document.getElementById("signout").hidden = false;
  if (!session.workspace && !session.agents.length) {
    try { await loadAgents(); } catch (err) { if (err.status !== 401) show(message("error", err.message)); return; }
    if (visit !== session.visit) return;
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

session.signOut = signOut;
window.addEventListener("hashchange", () => route());
route();
