// The dashboard's only script. Pages work without it; with it, figures update in place by polling the
// dashboard's JSON, and cancelling asks in a dialog instead of on a page of its own.
"use strict";

(function () {
  const POLL_MILLISECONDS = 1000;
  // The list keeps looking for new imports, more slowly while none of those shown is running.
  const IDLE_POLL_MILLISECONDS = 5000;
  // The chart costs the server more than the figures: it is fetched on every fifth poll, and at the end.
  const CHART_EVERY = 5;
  const main = document.querySelector("main[data-poll]");

  // -- the confirmation dialog ----------------------------------------------------------------------
  document.querySelectorAll("[data-open-dialog]").forEach((opener) => {
    const dialog = document.getElementById(opener.dataset.openDialog);
    if (!dialog || typeof dialog.showModal !== "function") {
      return; // the link leads to the confirmation page instead
    }
    opener.addEventListener("click", (event) => {
      event.preventDefault();
      dialog.showModal();
    });
    dialog.querySelectorAll("[data-close-dialog]").forEach((button) => {
      button.addEventListener("click", () => dialog.close());
    });
  });

  if (!main) {
    return;
  }

  // -- updating figures in place --------------------------------------------------------------------
  const numberFormat = new Intl.NumberFormat("en-US");
  const liveState = main.querySelector("[data-live-state]");
  const announcer = main.querySelector("[data-announcer]");

  function fieldsOf(item) {
    const fields = Object.assign({}, item);
    for (const total of item.totals || []) {
      fields["totals." + total.entity] = total.written;
    }
    return fields;
  }

  function apply(root, item) {
    const fields = fieldsOf(item);
    root.querySelectorAll("[data-field]").forEach((element) => {
      const name = element.dataset.field;
      if (!(name in fields)) {
        return;
      }
      const value = fields[name];
      if (element instanceof HTMLProgressElement) {
        element.value = value;
        element.textContent = value + "%";
        element.setAttribute("aria-valuetext", item.progressValueText);
      } else {
        element.textContent = typeof value === "number" ? numberFormat.format(value) : String(value);
      }
    });
    root.querySelectorAll("[data-status-badge]").forEach((badge) => {
      badge.className = "badge status-" + item.status;
    });
    root.querySelectorAll("[data-show-when]").forEach((element) => {
      element.hidden = element.dataset.showWhen !== item.status;
    });
    root.dataset.status = item.status;
  }

  function announce(text) {
    if (announcer) {
      announcer.textContent = text;
    }
  }

  function showState(text) {
    if (liveState) {
      liveState.textContent = text;
    }
  }

  class SignedOut extends Error {}

  async function getJson(url) {
    const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
    if (response.status === 401) {
      throw new SignedOut("signed out");
    }
    if (!response.ok) {
      let message = "HTTP " + response.status;
      try {
        message = (await response.json()).message || message;
      } catch (ignored) {
        // not the error envelope
      }
      throw new Error(message);
    }
    return response.json();
  }

  // Replace a part of the page with the same part of the page as the server renders it now.
  async function refreshPart(selector) {
    const response = await fetch(window.location.href, { headers: { Accept: "text/html" } });
    if (!response.ok) {
      throw new Error("HTTP " + response.status);
    }
    const fresh = new DOMParser().parseFromString(await response.text(), "text/html").querySelector(selector);
    const current = document.querySelector(selector);
    if (fresh && current) {
      current.replaceWith(document.importNode(fresh, true));
    }
  }

  // -- the list of imports --------------------------------------------------------------------------
  async function pollImports() {
    const data = await getJson(main.dataset.poll);
    const rows = new Map();
    main.querySelectorAll("tr[data-id]").forEach((row) => rows.set(row.dataset.id, row));
    const sameRows = data.items.length === rows.size && data.items.every((item) => rows.has(item.id));
    if (!sameRows) {
      await refreshPart("#imports");
      return POLL_MILLISECONDS;
    }
    for (const item of data.items) {
      const row = rows.get(item.id);
      const before = row.dataset.status;
      apply(row, item);
      if (before !== item.status) {
        announce(item.name + " is " + item.statusLabel + ".");
      }
    }
    return data.items.some((item) => item.active) ? POLL_MILLISECONDS : IDLE_POLL_MILLISECONDS;
  }

  // -- one import -----------------------------------------------------------------------------------
  let polls = 0;

  async function pollImport() {
    polls += 1;
    let data = await getJson(main.dataset.poll + (polls % CHART_EVERY === 0 ? "?chart=true" : ""));
    if (!data.item.active && data.chartHtml === null) {
      data = await getJson(main.dataset.poll + "?chart=true");
    }
    const before = main.dataset.status;
    apply(main, data.item);
    const chart = main.querySelector("[data-chart]");
    if (chart && data.chartHtml !== null) {
      chart.innerHTML = data.chartHtml;
    }
    if (before !== data.item.status) {
      announce("The import is " + data.item.statusLabel + ".");
      if (!data.item.active) {
        await refreshPart("#failures");
      }
    }
    return data.item.active ? POLL_MILLISECONDS : 0;
  }

  const poll = main.dataset.page === "import" ? pollImport : pollImports;

  async function tick() {
    if (document.hidden) {
      document.addEventListener("visibilitychange", tick, { once: true });
      return;
    }
    // Milliseconds until the next look; 0 when the figures are final.
    let again = POLL_MILLISECONDS;
    try {
      again = await poll();
      showState(again ? "Live: updated " + new Date().toLocaleTimeString() : "Final figures.");
    } catch (error) {
      if (error instanceof SignedOut) {
        showState("Your session has ended: sign in again to see live figures.");
        return;
      }
      showState("Live updates paused: " + error.message + ". Retrying…");
    }
    if (again) {
      window.setTimeout(tick, again);
    }
  }

  if (main.dataset.page !== "import" || main.dataset.status === "started" || main.dataset.status === "importing") {
    window.setTimeout(tick, POLL_MILLISECONDS);
  } else {
    showState("Final figures.");
  }
})();
