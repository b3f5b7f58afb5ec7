// tunewise dashboard: keeps the server-rendered pages live. No framework, no build step.
// Text from the server goes into the page through textContent only (never innerHTML).
(function () {
  "use strict";
  const body = document.body;
  const page = body.dataset.page;
  const study = body.dataset.study;
  const STATES = ["completed", "stopped", "failed", "running", "queued"];
  const PLOT_CONFIG = { responsive: true, displaylogo: false };
  const api = (path) => "/api/studies/" + encodeURIComponent(study) + path;

  async function getJSON(url) {
    const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (!response.ok) throw new Error(url + ": HTTP " + response.status);
    return response.json();
  }

  // Like Python's "%.6g".
  function fmt(value) {
    if (value === null || value === undefined) return "";
    if (typeof value !== "number") return String(value);
    if (Number.isInteger(value) && Math.abs(value) < 1e6) return String(value);
    const abs = Math.abs(value);
    if (abs !== 0 && (abs < 1e-4 || abs >= 1e6)) return value.toExponential(5).replace(/\.?0+e/, "e");
    return String(Number(value.toPrecision(6)));
  }

  function live(on) {
    const badge = document.getElementById("live");
    if (badge) {
      badge.hidden = false;
      badge.textContent = on ? "live" : "reconnecting";
      badge.className = on ? "live" : "live off";
    }
  }

  function draw(id, figure) {
    const div = document.getElementById(id);
    if (div && window.Plotly) window.Plotly.react(div, figure.data, figure.layout, PLOT_CONFIG);
  }

  function cell(row, text, className) {
    const td = row.insertCell();
    if (className) td.className = className;
    td.textContent = text;
    return td;
  }

  function chip(state) {
    const span = document.createElement("span");
    span.className = "chip state-" + state;
    span.textContent = state;
    return span;
  }

  // The studies page ----------------------------------------------------------------------
  function studiesPage() {
    async function refresh() {
      try {
        const data = await getJSON("/api/studies");
        const rows = document.querySelectorAll("#studies tbody tr");
        if (rows.length !== data.studies.length) { window.location.reload(); return; }
        for (const s of data.studies) {
          const row = document.querySelector('#studies tr[data-name="' + CSS.escape(s.name) + '"]');
          if (!row) { window.location.reload(); return; }
          const state = row.querySelector('[data-field="state"]');
          state.textContent = s.state;
          state.className = "chip state-" + s.state;
          for (const name of STATES) row.querySelector('[data-field="' + name + '"]').textContent = s.counts[name];
          row.querySelector('[data-field="best"]').textContent = s.best ? fmt(s.best.value) : "";
          row.querySelector('[data-field="reason"]').textContent = s.reason || "";
        }
        live(true);
      } catch (error) {
        live(false);
      }
    }
    setInterval(refresh, 2000);
  }

  // A study's page --------------------------------------------------------------------------
  function studyPage() {
    const inline = document.getElementById("figures-data");
    if (inline) {  // a self-contained report: everything is in the page
      const figures = JSON.parse(inline.textContent);
      for (const kind of Object.keys(figures)) draw("fig-" + kind, figures[kind]);
      localSort(document.getElementById("trials"));
      return;
    }
    const view = { sort: "number", order: "asc", offset: 0, limit: 50 };
    const form = document.getElementById("filters");
    let lastCounts = null;
    let lastRefresh = 0;
    let timer = null;
    let running = 0;

    function loadFigures(kinds) {
      for (const div of document.querySelectorAll(".figure[data-kind]")) {
        const kind = div.dataset.kind;
        if (kinds && !kinds.includes(kind)) continue;
        getJSON(api("/figures/" + kind)).then((figure) => draw(div.id, figure)).catch(() => live(false));
      }
    }

    let tableRequest = 0;  // answers to older requests (an earlier sort) are dropped

    async function loadTable() {
      const mine = ++tableRequest;
      const query = new URLSearchParams({ sort: view.sort, order: view.order, offset: view.offset, limit: view.limit });
      const fields = new FormData(form);
      if (fields.get("state")) query.append("state", fields.get("state"));
      for (const name of ["min_value", "max_value"]) if (fields.get(name)) query.set(name, fields.get(name));
      view.limit = Number(fields.get("limit") || 50);
      query.set("limit", view.limit);
      const data = await getJSON(api("/trials?" + query));
      if (mine !== tableRequest) return;
      const tbody = document.querySelector("#trials tbody");
      const fresh = document.createElement("tbody");
      for (const t of data.trials) {
        const row = fresh.insertRow();
        const link = document.createElement("a");
        link.href = "/studies/" + encodeURIComponent(study) + "/trials/" + t.trial;
        link.textContent = "#" + t.trial;
        cell(row, "").appendChild(link);
        cell(row, "").appendChild(chip(t.state));
        cell(row, fmt(t.value), "num");
        for (const p of data.params) cell(row, fmt(t.params[p]), "num");
        for (const m of data.metrics || []) cell(row, fmt(t.metrics[m]), "num");
        if (data.flags) {
          const judged = t.feasible === null || t.feasible === undefined;
          const shown = (judged ? "" : t.feasible ? "yes" : "no") + (t.on_front ? " ★" : "");
          cell(row, shown, t.feasible === false ? "infeasible" : "");
        }
        cell(row, fmt(t.duration_s), "num");
        cell(row, String(t.attempt), "num");
        cell(row, t.failure_kind || "");
      }
      tbody.replaceWith(fresh);
      const last = Math.min(view.offset + data.trials.length, data.total);
      document.getElementById("page-info").textContent =
        (data.total ? (view.offset + 1) + "–" + last : "0") + " of " + data.total + " trials";
      document.getElementById("prev").disabled = view.offset === 0;
      document.getElementById("next").disabled = last >= data.total;
      for (const th of document.querySelectorAll("#trials th[data-sort]")) {
        th.classList.toggle("asc", th.dataset.sort === view.sort && view.order === "asc");
        th.classList.toggle("desc", th.dataset.sort === view.sort && view.order === "desc");
      }
    }

    function refresh() {
      timer = null;
      lastRefresh = Date.now();
      loadFigures();
      loadTable().catch(() => live(false));
    }

    function scheduleRefresh() {  // at most one refresh every 3 s, however fast trials finish
      if (timer) return;
      timer = setTimeout(refresh, Math.max(0, 3000 - (Date.now() - lastRefresh)));
    }

    function onSummary(s) {
      live(true);
      document.getElementById("trial-count").textContent = s.total;
      for (const name of STATES) {
        const el = document.querySelector('[data-count="' + name + '"]');
        if (el) el.textContent = s.counts[name] + " " + name;
      }
      const state = document.getElementById("study-state");
      state.textContent = s.state;
      state.className = "chip state-" + s.state;
      document.getElementById("study-reason").textContent = s.reason || "";
      const cost = document.getElementById("cost");  // a study with a cost budget
      if (cost && s.cost) cost.textContent = "Cost: " + s.cost.text;
      const best = document.getElementById("best");
      if (s.best) {
        best.textContent = "Best: ";
        const b = document.createElement("b");
        b.textContent = fmt(s.best.value);
        const link = document.createElement("a");
        link.href = "/studies/" + encodeURIComponent(study) + "/trials/" + s.best.trial;
        link.textContent = "trial #" + s.best.trial;
        best.append(b, " in ", link);
      } else if (s.front) {  // several objectives: the size of the feasible Pareto front
        best.textContent = "Pareto front: ";
        const b = document.createElement("b");
        b.textContent = String(s.front);
        best.append(b, s.front === 1 ? " trial" : " trials", " (feasible, no other better on every objective)");
      }
      const done = s.counts.completed + s.counts.stopped + s.counts.failed;
      if (s.max_trials) document.getElementById("progress-bar").style.width = Math.min(100, 100 * done / s.max_trials) + "%";
      running = s.counts.running;
      const key = JSON.stringify(s.counts);
      if (lastCounts !== null && key !== lastCounts) scheduleRefresh();
      lastCounts = key;
    }

    for (const th of document.querySelectorAll("#trials th[data-sort]")) {
      th.addEventListener("click", () => {
        view.order = view.sort === th.dataset.sort && view.order === "asc" ? "desc" : "asc";
        view.sort = th.dataset.sort;
        view.offset = 0;
        loadTable().catch(() => live(false));
      });
    }
    form.addEventListener("change", () => { view.offset = 0; loadTable().catch(() => live(false)); });
    form.addEventListener("submit", (event) => event.preventDefault());
    document.getElementById("prev").addEventListener("click", () => {
      view.offset = Math.max(0, view.offset - view.limit);
      loadTable().catch(() => live(false));
    });
    document.getElementById("next").addEventListener("click", () => {
      view.offset += view.limit;
      loadTable().catch(() => live(false));
    });
    const events = new EventSource(api("/events"));
    events.addEventListener("summary", (event) => onSummary(JSON.parse(event.data)));
    events.addEventListener("error", () => live(false));
    setInterval(() => { if (running > 0) loadFigures(["curves"]); }, 5000);  // reports move on
    loadFigures();
    loadTable().catch(() => live(false));
  }

  // Client-side sorting of a static table (the report).
  function localSort(table) {
    if (!table) return;
    table.querySelectorAll("th").forEach((th, index) => {
      th.addEventListener("click", () => {
        const tbody = table.tBodies[0];
        const ascending = !th.classList.contains("asc");
        table.querySelectorAll("th").forEach((h) => h.classList.remove("asc", "desc"));
        th.classList.add(ascending ? "asc" : "desc");
        const key = (row) => {
          const text = row.cells[index].textContent.replace(/^#/, "").trim();
          const number = Number(text);
          return text !== "" && !Number.isNaN(number) ? number : text;
        };
        const rows = Array.from(tbody.rows).sort((a, b) => {
          const x = key(a), y = key(b);
          const order = typeof x === typeof y ? (x < y ? -1 : x > y ? 1 : 0) : typeof x === "number" ? -1 : 1;
          return ascending ? order : -order;
        });
        tbody.append(...rows);
      });
    });
  }

  // A trial's page ----------------------------------------------------------------------------
  function trialPage() {
    const number = body.dataset.trial;
    const source = document.getElementById("reports-data");
    function drawCurve(metric, reports) {
      const points = reports.filter((r) => metric in r.values);
      if (!points.length) return;
      draw("fig-trial-curve", {
        data: [{ type: "scatter", mode: "lines+markers", x: points.map((r) => r.step), y: points.map((r) => r.values[metric]) }],
        layout: { title: { text: "Learning curve: " + metric }, height: 320, xaxis: { title: { text: "step" } }, yaxis: { title: { text: metric } } },
      });
    }
    const initial = JSON.parse(source.textContent);
    drawCurve(initial.metric, initial.reports);
    const state = document.getElementById("trial-state").textContent;
    if (state !== "running" && state !== "queued") return;
    const poll = setInterval(async () => {
      try {
        const trial = await getJSON(api("/trials/" + number));
        live(true);
        drawCurve(initial.metric, trial.reports);
        for (const stream of ["stdout", "stderr"]) {
          getJSON(api("/trials/" + number + "/logs/" + stream))
            .then((tail) => { document.getElementById("log-" + stream).textContent = tail.text; })
            .catch(() => {});
        }
        if (trial.state !== "running" && trial.state !== "queued") {
          clearInterval(poll);
          window.location.reload();
        }
      } catch (error) {
        live(false);
      }
    }, 2000);
  }

  if (page === "studies") studiesPage();
  else if (page === "study") studyPage();
  else if (page === "trial") trialPage();
})();
