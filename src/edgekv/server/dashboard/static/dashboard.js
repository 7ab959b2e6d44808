// edgekv dashboard: the little a server-rendered page cannot do alone. Loaded from this
// origin only (the Content-Security-Policy allows no inline script); everything it shows
// from the server is set as text, never as HTML.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  // A form that asks first: <form data-confirm="Delete this key?">.
  for (const form of document.querySelectorAll("form[data-confirm]")) {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  }

  // Delete a namespace only once its title is typed (the server checks it too).
  for (const form of document.querySelectorAll("form[data-typed-confirm]")) {
    const input = form.querySelector("input[data-expect]");
    const button = form.querySelector("button[type=submit]");
    const check = () => { button.disabled = input.value !== input.dataset.expect; };
    input.addEventListener("input", check);
    check();
  }

  // Typing a TTL picks "Expires in".
  for (const input of document.querySelectorAll("input[data-selects]")) {
    input.addEventListener("input", () => {
      const radio = document.getElementById(input.dataset.selects);
      if (radio && input.value) radio.checked = true;
    });
  }

  const live = document.getElementById("live");
  if (live) tail(live);
});

function tail(table) {
  const body = table.tBodies[0];
  const status = document.getElementById("live-status");
  const base = table.dataset.base;
  const events = new EventSource(table.dataset.events);
  const keep = 500;
  let seen = 0;

  events.addEventListener("open", () => {
    status.textContent = seen ? `Listening: ${seen} change${seen === 1 ? "" : "s"} so far.` : "Listening for changes…";
  });
  events.addEventListener("error", () => {
    status.textContent = "Disconnected: reconnecting…";
  });
  events.addEventListener("behind", () => {
    const row = body.insertRow(0);
    const cell = row.insertCell();
    cell.colSpan = 4;
    cell.textContent = "Some changes were missed (the feed moved past them).";
  });
  events.addEventListener("change", (event) => {
    const change = JSON.parse(event.data);
    seen += 1;
    status.textContent = `Listening: ${seen} change${seen === 1 ? "" : "s"} so far.`;
    const row = body.insertRow(0);
    row.className = "fresh";
    const when = row.insertCell();
    when.dataset.label = "Time";
    const at = new Date(change.at * 1000);
    when.textContent = at.toLocaleTimeString();
    when.title = at.toISOString();
    const what = row.insertCell();
    what.dataset.label = "What";
    what.textContent = change.action + (change.version !== undefined ? ` (v${change.version})` : "");
    what.className = "what-" + change.action.replace(/ /g, "-");
    const ns = row.insertCell();
    ns.dataset.label = "Namespace";
    ns.textContent = change.namespace || change.namespace_id;
    const key = row.insertCell();
    key.dataset.label = "Key";
    key.className = "key";
    if (change.key === null) {
      key.textContent = "—";
    } else if (change.action === "deleted") {
      key.textContent = change.key;
    } else {
      const link = document.createElement("a");
      const query = new URLSearchParams({ key: change.key });
      link.href = `${base}/namespaces/${encodeURIComponent(change.namespace_id)}/key?${query}`;
      link.textContent = change.key;
      key.appendChild(link);
    }
    while (body.rows.length > keep) body.deleteRow(body.rows.length - 1);
  });
}
