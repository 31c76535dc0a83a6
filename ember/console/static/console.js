// Ember console: invoke without a page reload, and follow a function's log lines.
// Both enhance plain forms and links that work without this script.
"use strict";

function text(el, value) { el.textContent = value; }

function invokeForm(form) {
  const out = document.getElementById("invoke-result");
  const tail = document.getElementById("invoke-log");
  const status = document.getElementById("invoke-status");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const payload = form.elements["payload"].value;
    try { JSON.parse(payload || "{}"); } catch (err) {
      text(status, "The payload is not JSON: " + err.message);
      status.className = "bad";
      form.elements["payload"].focus();
      return;
    }
    text(status, "Invoking…");
    status.className = "muted";
    const response = await fetch(form.action, {
      method: "POST",
      headers: {"Content-Type": "application/json", "Accept": "application/json"},
      body: JSON.stringify({payload: payload, qualifier: form.elements["qualifier"].value}),
    });
    const answer = await response.json();
    if (!response.ok) {
      text(status, answer.message || ("HTTP " + response.status));
      status.className = "bad";
      return;
    }
    text(status, answer.FunctionError
      ? "Failed (" + answer.FunctionError + ") on version " + answer.ExecutedVersion
      : "Succeeded on version " + answer.ExecutedVersion);
    status.className = answer.FunctionError ? "bad" : "ok";
    text(out, answer.Payload);
    text(tail, answer.LogTail);
  });
}

function liveLogs(box) {
  const pre = document.getElementById("live-log-lines");
  const toggle = document.getElementById("live-log-toggle");
  let since = Date.now() - 5 * 60 * 1000;
  let timer = null;
  const seen = new Set();
  async function poll() {
    const response = await fetch(box.dataset.source + "?since=" + since,
                                 {headers: {"Accept": "application/json"}});
    if (response.ok) {
      const answer = await response.json();
      for (const ev of answer.events) {
        if (seen.has(ev.id)) continue;
        seen.add(ev.id);
        pre.append(new Date(ev.timestamp).toISOString() + "  " + ev.message.trimEnd() + "\n");
        since = Math.max(since, ev.timestamp);
      }
      pre.scrollTop = pre.scrollHeight;
    }
    timer = setTimeout(poll, 2000);
  }
  toggle.addEventListener("click", () => {
    if (timer === null) {
      if (seen.size === 0) text(pre, "");  // the page's own lines come back with ids
      poll();
      text(toggle, "Stop following");
    } else {
      clearTimeout(timer);
      timer = null;
      text(toggle, "Follow logs");
    }
    toggle.setAttribute("aria-pressed", String(timer !== null));
  });
  toggle.hidden = false;
}

document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("invoke-form");
  if (form) invokeForm(form);
  const box = document.getElementById("live-logs");
  if (box) liveLogs(box);
});
