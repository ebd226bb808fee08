// BillingWatch dashboard: plain JavaScript, no external requests. The key lives in sessionStorage only.
"use strict";
(() => {
  const main = document.getElementById("main");
  const nav = document.getElementById("nav");
  const store = window.sessionStorage;
  const SEVERITIES = ["low", "medium", "high", "critical"];

  const key = () => store.getItem("bw.key");
  const role = () => store.getItem("bw.role");

  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs)) {
      if (value === undefined || value === null || value === false) continue;
      if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
      else if (name === "text") node.textContent = value;
      else node.setAttribute(name, value === true ? "" : value);
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  class ApiError extends Error {
    constructor(status, problem) { super(problem?.detail || problem?.title || `HTTP ${status}`); this.status = status; }
  }

  async function api(path, options = {}) {
    const response = await fetch(path, {
      method: options.method || "GET",
      headers: { "Authorization": `Bearer ${options.key || key()}`, ...(options.body ? { "Content-Type": "application/json" } : {}) },
      body: options.body ? JSON.stringify(options.body) : undefined,
    });
    if (response.status === 401 && !options.key) { signOut(); throw new ApiError(401, { detail: "Signed out: the key is no longer valid." }); }
    const text = await response.text();
    const data = text ? JSON.parse(text) : null;
    if (!response.ok) throw new ApiError(response.status, data);
    return data;
  }

  const when = (iso) => iso ? new Date(iso).toLocaleString() : "—";
  const money = (minor, currency) => `${(minor / 100).toLocaleString(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 2 })} ${currency.toUpperCase()}`;
  const severity = (s) => el("span", { class: `sev ${s}`, text: s });
  const alertBox = (kind, message) => el("p", { class: kind, role: kind === "error" ? "alert" : "status", text: message });

  // Every navigation bumps this; a page whose data arrives after the user moved on must not draw over the new one.
  let current = 0;

  function render(token, title, ...content) {
    if (token !== current) return;
    main.replaceChildren(el("h1", { text: title }), ...content.filter((c) => c !== null && c !== undefined));
    document.title = `${title} · BillingWatch`;
    main.focus();
  }

  function signOut() {
    store.removeItem("bw.key");
    store.removeItem("bw.role");
    location.hash = "#/signin";
  }

  // ---------------------------------------------------------------- sign in
  function signIn() {
    const token = current;
    nav.hidden = true;
    const input = el("input", { id: "key", type: "password", autocomplete: "off", required: true, "aria-describedby": "key-help" });
    const message = el("div");
    const form = el("form", { class: "panel", onsubmit: async (e) => {
      e.preventDefault();
      const candidate = input.value.trim();
      message.replaceChildren();
      try {
        if (candidate.startsWith("bwadmin_")) { await api("/api/v1/tenants", { key: candidate }); store.setItem("bw.role", "admin"); }
        else { await api("/api/v1/detectors", { key: candidate }); store.setItem("bw.role", "tenant"); }
        store.setItem("bw.key", candidate);
        location.hash = role() === "admin" ? "#/admin" : "#/overview";
      } catch (err) {
        message.replaceChildren(alertBox("error", err.status === 401 || err.status === 403 ? "That key was not accepted." : err.message));
      }
    } },
      el("label", { for: "key" }, "API key or admin key", input),
      el("p", { id: "key-help", class: "muted", text: "Your tenant's API key (bwk_…) or the deployment's admin key (bwadmin_…). It is kept in this browser tab only." }),
      el("button", { type: "submit", text: "Sign in" }),
      message);
    render(token, "Sign in", form);
    input.focus();
  }

  // ---------------------------------------------------------------- charts (inline SVG)
  function barChart(points, value, label) {
    const width = 600, height = 160, pad = 22;
    const max = Math.max(1, ...points.map(value));
    const w = (width - pad) / Math.max(1, points.length);
    const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
    svg.setAttribute("class", "chart");
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", label);
    points.forEach((p, i) => {
      const h = (value(p) / max) * (height - pad);
      const rect = document.createElementNS(svg.namespaceURI, "rect");
      rect.setAttribute("class", "bar");
      rect.setAttribute("x", String(pad + i * w + 1));
      rect.setAttribute("y", String(height - pad - h));
      rect.setAttribute("width", String(Math.max(1, w - 2)));
      rect.setAttribute("height", String(h));
      const tip = document.createElementNS(svg.namespaceURI, "title");
      tip.textContent = `${when(p.start)}: ${value(p)}`;
      rect.append(tip);
      svg.append(rect);
    });
    const top = document.createElementNS(svg.namespaceURI, "text");
    top.setAttribute("x", "0"); top.setAttribute("y", "10"); top.textContent = String(max);
    svg.append(top);
    return svg;
  }

  function lineChart(points, value, label) {
    const width = 600, height = 160, pad = 22;
    const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
    svg.setAttribute("class", "chart");
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", label);
    const step = (width - pad) / Math.max(1, points.length - 1);
    const path = points.map((p, i) => `${i === 0 ? "M" : "L"}${(pad + i * step).toFixed(1)},${(height - pad - value(p) * (height - pad)).toFixed(1)}`).join(" ");
    const line = document.createElementNS(svg.namespaceURI, "path");
    line.setAttribute("class", "line");
    line.setAttribute("d", path || "M0,0");
    svg.append(line);
    const top = document.createElementNS(svg.namespaceURI, "text");
    top.setAttribute("x", "0"); top.setAttribute("y", "10"); top.textContent = "100%";
    svg.append(top);
    return svg;
  }

  // ---------------------------------------------------------------- overview
  async function overview(params) {
    const token = current;
    const windowName = params.get("window") || "24h";
    const mode = params.get("mode") || "all";
    const livemode = mode === "all" ? "" : `&livemode=${mode === "live"}`;
    const controls = el("form", { class: "controls", onchange: (e) => {
      const form = e.currentTarget;
      location.hash = `#/overview?window=${form.window.value}&mode=${form.mode.value}`;
    } },
      el("label", {}, "Period", el("select", { name: "window" }, ...["24h", "7d", "30d"].map((w) => el("option", { value: w, selected: w === windowName }, w === "24h" ? "Last 24 hours" : w === "7d" ? "Last 7 days" : "Last 30 days")))),
      el("label", {}, "Mode", el("select", { name: "mode" }, ...[["all", "Live and test"], ["live", "Live"], ["test", "Test"]].map(([v, t]) => el("option", { value: v, selected: v === mode }, t)))));
    render(token, "Overview", controls, el("p", { class: "muted", text: "Loading…" }));
    const [metrics, series, open, sync] = await Promise.all([
      api(`/api/v1/metrics?window=${windowName}${livemode}`),
      api(`/api/v1/metrics/series?window=${windowName}${livemode}`),
      api(`/api/v1/anomalies?status=open&limit=500${livemode}`),
      api("/api/v1/stripe-sync"),
    ]);
    if (metrics.events.total === 0 && open.items.length === 0) {
      const me = await api("/api/v1/tenant");
      render(token, "Overview", controls, el("div", { class: "panel empty", id: "empty" },
        el("p", { text: "No events yet in this period. Here is how to connect Stripe:" }),
        el("p", {}, "1. In the Stripe Dashboard (Developers → Webhooks → Add endpoint) enter this URL: ", el("span", { class: "secret", id: "webhook-url", text: me.webhookUrl })),
        el("p", { text: me.hasWebhookSecret
          ? "2. The endpoint's signing secret is already set; events appear here within seconds of the first delivery."
          : "2. Copy the endpoint's signing secret (whsec_…) and ask your BillingWatch admin to set it (PUT /api/v1/tenants/{id}/webhook-secret)." }),
        el("p", {}, "Or ", el("a", { href: "#/stripe", text: "connect a restricted Stripe key" }), " to backfill the last 30 days and reconcile missed webhooks.")));
      return;
    }

    const bySeverity = Object.fromEntries(SEVERITIES.map((s) => [s, open.items.filter((a) => a.severity === s).length]));
    const webhookIssues = open.items.filter((a) => ["webhook_lag", "webhook_silence", "webhook_gap", "endpoint_health"].includes(a.detector));
    const endpointText = !sync.connected ? "" : sync.endpoint ? ` · endpoint ${sync.endpoint.status.replaceAll("_", " ")}` : " · endpoint not checked";
    const revenue = Object.entries(metrics.revenue);
    const cards = el("div", { class: "cards" },
      el("div", { class: "card" }, el("div", { class: "label", text: "Events" }), el("div", { class: "value", text: metrics.events.total.toLocaleString() })),
      el("div", { class: "card" }, el("div", { class: "label", text: "Charges" }), el("div", { class: "value", text: (metrics.charges.succeeded + metrics.charges.failed).toLocaleString() })),
      el("div", { class: "card" }, el("div", { class: "label", text: "Charge failure rate" }), el("div", { class: "value", text: `${(metrics.charges.failureRate * 100).toFixed(1)} %` })),
      el("div", { class: "card" }, el("div", { class: "label", text: "Revenue" }), el("div", { class: "value", text: revenue.length ? revenue.map(([c, v]) => money(v, c)).join(" · ") : "—" })),
      el("div", { class: "card" }, el("div", { class: "label", text: "Open anomalies" }), el("div", { class: "value" }, ...SEVERITIES.filter((s) => bySeverity[s]).map((s) => el("span", {}, severity(s), ` ${bySeverity[s]} `)), open.items.length ? null : "none")),
      el("div", { class: "card" }, el("div", { class: "label", text: "Last event received" }), el("div", { class: "value", text: when(metrics.lastEventAt) })),
      el("div", { class: "card", id: "webhook-health" }, el("div", { class: "label", text: "Webhook health" }),
        el("div", { class: "value" }, el("a", { href: "#/stripe", text: (webhookIssues.length ? `${webhookIssues.length} open issue(s)` : "healthy") + endpointText }))));

    const currencies = [...new Set(series.buckets.flatMap((b) => Object.keys(b.revenue)))].sort();
    const revenueTable = el("table", {},
      el("thead", {}, el("tr", {}, el("th", { text: series.bucketSeconds === 3600 ? "Hour" : "Day" }), ...currencies.map((c) => el("th", { text: c.toUpperCase() })))),
      el("tbody", {}, ...series.buckets.filter((b) => Object.keys(b.revenue).length).map((b) =>
        el("tr", {}, el("td", { text: series.bucketSeconds === 3600 ? when(b.start) : new Date(b.start).toLocaleDateString(undefined, { timeZone: "UTC" }) }), ...currencies.map((c) => el("td", { text: b.revenue[c] ? money(b.revenue[c], c) : "—" }))))));
    render(token, "Overview", controls, cards,
      el("div", { class: "row" },
        el("section", { class: "panel" }, el("h2", { text: "Event volume" }), barChart(series.buckets, (b) => b.events, "Events per period")),
        el("section", { class: "panel" }, el("h2", { text: "Charge failure rate" }), lineChart(series.buckets, (b) => b.failureRate, "Charge failure rate per period"))),
      el("section", { class: "panel" }, el("h2", { text: "Card revenue by currency" }), currencies.length ? revenueTable : el("p", { class: "muted", text: "No succeeded charges in this period." })));
  }

  // ---------------------------------------------------------------- anomalies
  async function anomalies(params) {
    const token = current;
    const detectors = await api("/api/v1/detectors");
    const filters = ["detector", "severity", "status", "since"].map((f) => [f, params.get(f) || ""]);
    const query = filters.filter(([, v]) => v).map(([k, v]) => `&${k}=${encodeURIComponent(v)}`).join("");
    const form = el("form", { class: "controls", onsubmit: (e) => {
      e.preventDefault();
      const data = new FormData(e.currentTarget);
      location.hash = "#/anomalies?" + [...data.entries()].filter(([, v]) => v).map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join("&");
    } },
      el("label", {}, "Detector", el("select", { name: "detector" }, el("option", { value: "", text: "Any" }), ...detectors.map((d) => el("option", { value: d.name, selected: d.name === params.get("detector") }, d.name)))),
      el("label", {}, "Severity", el("select", { name: "severity" }, el("option", { value: "", text: "Any" }), ...SEVERITIES.map((s) => el("option", { value: s, selected: s === params.get("severity") }, s)))),
      el("label", {}, "Status", el("select", { name: "status" }, el("option", { value: "", text: "Any" }), ...["open", "acknowledged", "resolved", "false_positive"].map((s) => el("option", { value: s, selected: s === params.get("status") }, s)))),
      el("label", {}, "Since", el("input", { type: "date", name: "since", value: params.get("since") || "" })),
      el("button", { type: "submit", text: "Filter" }));
    const row = (a) => el("tr", {},
      el("td", { text: when(a.detectedAt) }), el("td", {}, severity(a.severity)), el("td", { text: a.detector }),
      el("td", {}, el("a", { href: `#/anomaly/${a.id}`, text: a.title })), el("td", { text: a.status, "data-status": a.id }), el("td", { class: "hide-sm", text: a.livemode ? "live" : "test" }));
    const page = await api(`/api/v1/anomalies?limit=100${query}`);
    const rows = el("tbody", {}, ...page.items.map(row));
    let cursor = page.nextCursor;
    const more = el("button", { type: "button", class: "secondary", hidden: !cursor, text: "Load more", onclick: async () => {
      const next = await api(`/api/v1/anomalies?limit=100${query}&cursor=${encodeURIComponent(cursor)}`);
      rows.append(...next.items.map(row));
      cursor = next.nextCursor;
      more.hidden = !cursor;
    } });
    const body = page.items.length
      ? el("div", {}, el("table", {},
          el("thead", {}, el("tr", {}, el("th", { text: "Detected" }), el("th", { text: "Severity" }), el("th", { text: "Detector" }), el("th", { text: "Title" }), el("th", { text: "Status" }), el("th", { class: "hide-sm", text: "Mode" }))),
          rows), more)
      : el("p", { class: "empty", text: "No anomalies match. That is good news." });
    render(token, "Anomalies", form, el("div", { class: "panel" }, body));
  }

  async function anomaly(id) {
    const token = current;
    const a = await api(`/api/v1/anomalies/${encodeURIComponent(id)}`);
    const note = el("textarea", { id: "note", rows: 2, placeholder: "What did you find? (optional)" });
    const message = el("div");
    const act = (action, label, done) => el("button", { type: "button", class: "secondary", onclick: async () => {
      try {
        await api(`/api/v1/anomalies/${encodeURIComponent(id)}/${action}`, { method: "POST", body: { note: note.value || undefined, by: "dashboard" } });
        await anomaly(id);
        main.prepend(alertBox("success", `Marked ${done}.`));
      } catch (err) { message.replaceChildren(alertBox("error", err.message)); }
    } }, label);
    const payload = el("pre", { hidden: true, id: "payload" });
    const events = el("ul", {}, ...a.eventIds.map((eventId) => el("li", {}, el("a", { href: "#", onclick: async (e) => {
      e.preventDefault();
      const ev = await api(`/api/v1/events/${encodeURIComponent(eventId)}?livemode=${a.livemode}`);
      payload.hidden = false;
      payload.textContent = JSON.stringify(ev, null, 2);
    } }, eventId))));
    render(token, a.title,
      el("div", { class: "panel" },
        el("p", {}, severity(a.severity), ` ${a.detector} · ${a.livemode ? "live" : "test"} mode · status `, el("strong", { id: "status", text: a.status })),
        el("p", { text: a.message }),
        el("p", { class: "muted", text: `Detected ${when(a.detectedAt)} · window ${when(a.windowStart)} – ${when(a.windowEnd)} · subject ${a.subject}` }),
        el("p", { class: "muted", id: "episode", text: `${a.occurrences ?? 1} occurrence${(a.occurrences ?? 1) === 1 ? "" : "s"} in this episode · last changed ${when(a.updatedAt ?? a.raisedAt)}` }),
        a.statusNote ? el("p", { text: `Note: ${a.statusNote} (${a.statusChangedBy}, ${when(a.statusChangedAt)})` }) : null,
        el("label", { for: "note" }, "Note", note),
        el("div", { class: "controls" }, act("acknowledge", "Acknowledge", "acknowledged"), act("resolve", "Resolve", "resolved"), act("false-positive", "False positive", "a false positive")),
        message),
      el("section", { class: "panel" }, el("h2", { text: "Evidence" }), el("pre", { text: JSON.stringify(a.evidence, null, 2) })),
      el("section", { class: "panel" }, el("h2", { text: `Events (${a.eventIds.length})` }), events, payload),
      el("p", {}, el("a", { href: "#/anomalies", text: "← All anomalies" })));
  }

  // ---------------------------------------------------------------- detectors
  async function detectors() {
    const token = current;
    const list = await api("/api/v1/detectors");
    const rows = list.map((d) => {
      const message = el("span", { "aria-live": "polite" });
      const enabled = el("input", { type: "checkbox", checked: d.enabled, "aria-label": `${d.name} enabled` });
      const inputs = Object.entries(d.settings).map(([name, value]) => el("label", {}, name, el("input", { type: "number", step: "any", name, value: String(value), "data-detector": d.name })));
      const readSettings = () => {
        const settings = {};
        for (const label of inputs) {
          const input = label.querySelector("input");
          if (input.value === "" || Number.isNaN(Number(input.value))) { message.replaceChildren(alertBox("error", `${input.name} must be a number.`)); return null; }
          settings[input.name] = Number(input.value);
        }
        return settings;
      };
      const save = el("button", { type: "button", text: "Save", onclick: async () => {
        message.replaceChildren();
        const settings = readSettings();
        if (!settings) return;
        try {
          await api(`/api/v1/detectors/${d.name}`, { method: "PUT", body: { enabled: enabled.checked, settings } });
          message.replaceChildren(alertBox("success", "Saved."));
        } catch (err) { message.replaceChildren(alertBox("error", err.message)); }
      } });
      // Backtest before you tune: what these settings would have raised over the stored events, changing nothing.
      const tryOut = el("button", { type: "button", class: "secondary", text: "Try on the last 30 days", onclick: async () => {
        message.replaceChildren();
        const settings = readSettings();
        if (!settings) return;
        message.replaceChildren(el("span", { class: "muted", text: "Replaying the last 30 days…" }));
        try {
          const result = await api(`/api/v1/detectors/${d.name}/backtest`, { method: "POST", body: { settings, days: 30 } });
          const noun = (n, one, many) => `${n} ${n === 1 ? one : many}`;
          const text = `These settings would have raised ${noun(result.alerts, "alert", "alerts")} and ${noun(result.notices, "digest notice", "digest notices")} in the last 30 days (${result.eventsFolded} events replayed).`;
          message.replaceChildren(alertBox("success", text));
        } catch (err) { message.replaceChildren(alertBox("error", err.message)); }
      } });
      return el("section", { class: "panel", id: `detector-${d.name}` },
        el("h2", { text: d.name }), el("p", { class: "muted", text: d.description }),
        el("label", { class: "inline" }, el("span", {}, enabled, " enabled")),
        el("div", { class: "controls" }, ...inputs, save, tryOut), message);
    });
    render(token, "Detectors", ...rows);
  }

  // ---------------------------------------------------------------- alerts
  async function alerts() {
    const token = current;
    const [channels, deliveries, kinds] = await Promise.all([api("/api/v1/alert-channels"), api("/api/v1/alert-deliveries?limit=100"), api("/api/v1/alert-channel-kinds")]);
    const message = el("div");
    const form = el("form", { class: "controls", onsubmit: async (e) => {
      e.preventDefault();
      const data = Object.fromEntries(new FormData(e.currentTarget).entries());
      try {
        const created = await api("/api/v1/alert-channels", { method: "POST", body: data });
        await alerts();
        if (created.signingSecret) main.prepend(el("p", {}, "Signing secret (shown once): ", el("span", { class: "secret", text: created.signingSecret })));
      } catch (err) { message.replaceChildren(alertBox("error", err.message)); }
    } },
      el("label", {}, "Kind", el("select", { name: "kind" }, ...kinds.items.map((k) => el("option", { value: k.name, title: k.target }, k.name)))),
      el("label", {}, "Name", el("input", { name: "name", required: true })),
      el("label", {}, "URL or e-mail", el("input", { name: "target", required: true })),
      el("label", {}, "Minimum severity", el("select", { name: "minSeverity" }, ...SEVERITIES.map((s) => el("option", { value: s }, s)))),
      el("button", { type: "submit", text: "Add channel" }));
    const table = channels.items.length
      ? el("table", {}, el("thead", {}, el("tr", {}, el("th", { text: "Name" }), el("th", { text: "Kind" }), el("th", { class: "hide-sm", text: "Target" }), el("th", { text: "Min. severity" }), el("th", { text: "" }))),
          el("tbody", {}, ...channels.items.map((c) => {
            const result = el("span");
            return el("tr", {}, el("td", { text: c.name }), el("td", { text: c.kind }), el("td", { class: "hide-sm", text: c.target }), el("td", { text: c.minSeverity }),
              el("td", {}, el("button", { type: "button", class: "secondary", text: "Send test", onclick: async () => {
                const r = await api(`/api/v1/alert-channels/${c.id}/test`, { method: "POST" });
                result.replaceChildren(alertBox(r.delivered ? "success" : "error", r.delivered ? " delivered" : ` failed: ${r.error}`));
              } }), result));
          })))
      : el("p", { class: "empty", text: "No channels yet: anomalies are only visible here until you add one." });
    const log = el("table", {}, el("thead", {}, el("tr", {}, el("th", { text: "Created" }), el("th", { text: "Status" }), el("th", { text: "Attempts" }), el("th", { class: "hide-sm", text: "Last result" }), el("th", { class: "hide-sm", text: "Next attempt" }))),
      el("tbody", {}, ...deliveries.items.map((d) => el("tr", {}, el("td", { text: when(d.createdAt) }), el("td", { text: d.status }), el("td", { text: d.attempts }),
        el("td", { class: "hide-sm", text: d.lastError || (d.lastStatusCode ? `HTTP ${d.lastStatusCode}` : "—") }), el("td", { class: "hide-sm", text: when(d.nextAttemptAt) })))));
    render(token, "Alerts", el("section", { class: "panel" }, el("h2", { text: "Channels" }), table, form, message),
      el("section", { class: "panel" }, el("h2", { text: "Deliveries" }), deliveries.items.length ? log : el("p", { class: "muted", text: "Nothing sent yet." })));
  }

  // ---------------------------------------------------------------- revenue
  const MOVEMENTS = [["new", "New", "#16a34a"], ["expansion", "Expansion", "#2563eb"], ["reactivation", "Reactivation", "#7c3aed"], ["contraction", "Contraction", "#f59e0b"], ["churn", "Churn", "#dc2626"]];
  const percent = (v) => v === null || v === undefined ? "—" : `${(v * 100).toFixed(1)} %`;

  // MRR as a line and its movements as bars on one dated axis: hover shows every value in the legend, a
  // click on a legend entry hides that series, dragging across the chart zooms, a double click zooms out.
  function mrrChart(target, series, currency) {
    const xs = series.points.map((p) => Date.parse(p.start) / 1000);
    const fmt = (u, v) => v === null || v === undefined ? "—" : money(v, currency);
    const bars = window.uPlot.paths.bars({ size: [0.7, 40], gap: 1 });
    const width = Math.max(280, Math.min(1100, target.clientWidth || 600));
    return new window.uPlot({
      width, height: 300,
      scales: { x: { time: true } },
      axes: [{}, { values: (u, vals) => vals.map((v) => (v / 100).toLocaleString()), size: 70 }],
      series: [
        { label: "Date", value: (u, v) => v === null ? "—" : new Date(v * 1000).toLocaleDateString() },
        { label: "MRR", stroke: "#111827", width: 2, value: fmt },
        ...MOVEMENTS.map(([key, label, color]) => ({ label, stroke: color, fill: color, paths: bars, points: { show: false }, value: fmt })),
      ],
    }, [xs, series.points.map((p) => p.mrr), ...MOVEMENTS.map(([key]) => series.points.map((p) => p[key]))], target);
  }

  async function revenue(params) {
    const token = current;
    const interval = params.get("interval") || "day";
    let mode = params.get("mode") || "live";
    const controls = el("form", { class: "controls", onchange: (e) => {
      const form = e.currentTarget;
      location.hash = `#/revenue?interval=${form.interval.value}&mode=${form.mode.value}`;
    } },
      el("label", {}, "Points", el("select", { name: "interval" }, ...[["day", "Daily, 90 days"], ["week", "Weekly, 1 year"], ["month", "Monthly, 2 years"]].map(([v, t]) => el("option", { value: v, selected: v === interval }, t)))),
      el("label", {}, "Mode", el("select", { name: "mode" }, ...[["live", "Live"], ["test", "Test"]].map(([v, t]) => el("option", { value: v, selected: v === mode }, t)))));
    render(token, "Revenue", controls, el("p", { class: "muted", text: "Loading…" }));
    const days = { day: 90, week: 364, month: 730 }[interval] || 90;
    const from = new Date(Date.now() - days * 86400000).toISOString();
    const load = (m) => api(`/api/v1/metrics/mrr?interval=${interval}&from=${from}&livemode=${m === "live"}`);
    let data = await load(mode);
    let note = null;
    if (!params.get("mode") && data.currencies.length === 0) {
      const test = await load("test");
      if (test.currencies.length) { data = test; mode = "test"; note = alertBox("status", "No live subscriptions yet: showing test mode."); controls.mode.value = "test"; }
    }
    if (data.currencies.length === 0) {
      render(token, "Revenue", controls, el("p", { class: "empty", text: "No subscription revenue in this period. MRR comes from subscription events (or from seeding with a connected Stripe key)." }));
      return;
    }
    const sections = data.currencies.map((c) => {
      const s = c.summary;
      const cur = c.currency;
      const chart = el("div", { class: "mrr-chart", role: "img", "aria-label": `MRR and its movements in ${cur.toUpperCase()}, one point per ${interval}` });
      const table = el("table", { class: "movements" },
        el("caption", { text: `Movements in ${cur.toUpperCase()} over the period` }),
        el("thead", {}, el("tr", {}, el("th", { text: "Movement" }), el("th", { text: "Amount a month" }))),
        el("tbody", {}, ...[["Starting MRR", s.startMrr], ...MOVEMENTS.map(([k, label]) => [label, s[k]]), ["Existing (already paying when first seen)", s.existing], ["Net new MRR", s.netNewMrr], ["Ending MRR", s.endMrr]]
          .map(([label, v]) => el("tr", {}, el("td", { text: label }), el("td", { text: money(v, cur) })))));
      return { chart, c, section: el("section", { class: "panel", id: `mrr-${cur}` },
        el("h2", { text: `MRR · ${cur.toUpperCase()}` }),
        el("div", { class: "cards" },
          el("div", { class: "card" }, el("div", { class: "label", text: "MRR" }), el("div", { class: "value", text: money(s.endMrr, cur) })),
          el("div", { class: "card" }, el("div", { class: "label", text: "Net new MRR" }), el("div", { class: "value", text: money(s.netNewMrr, cur) })),
          el("div", { class: "card" }, el("div", { class: "label", text: "Subscribers" }), el("div", { class: "value", text: s.endSubscribers.toLocaleString() })),
          el("div", { class: "card" }, el("div", { class: "label", text: "ARPU" }), el("div", { class: "value", text: s.arpu === null ? "—" : money(s.arpu, cur) })),
          el("div", { class: "card" }, el("div", { class: "label", text: "Customer churn" }), el("div", { class: "value", text: percent(s.customerChurnRate) })),
          el("div", { class: "card" }, el("div", { class: "label", text: "Net revenue churn" }), el("div", { class: "value", text: percent(s.netRevenueChurnRate) }))),
        chart, table) };
    });
    render(token, "Revenue", controls, note, el("p", { class: "muted", text: "Amounts per currency, never converted. Definitions: docs/METRICS.md." }), ...sections.map((x) => x.section));
    if (token === current) for (const { chart, c } of sections) mrrChart(chart, c, c.currency);
  }

  // ---------------------------------------------------------------- Stripe sync
  const jobState = (job) => job.error && !["completed", "failed"].includes(job.state) ? `${job.state} (${job.error})` : job.state;

  function jobProgress(job, label) {
    const percent = Math.round(job.progress * 100);
    return el("div", { class: "job" },
      el("label", { for: `progress-${job.kind}` }, `${label}: ${jobState(job)}`),
      el("progress", { id: `progress-${job.kind}`, max: 100, value: percent, "aria-valuetext": `${percent} %` }, `${percent} %`),
      el("p", { class: "muted", text: `${job.listed.toLocaleString()} listed · ${job.alreadyStored.toLocaleString()} already here · ${job.imported.toLocaleString()} imported · events from ${when(job.from)} to ${when(job.until)}` }),
      job.state === "failed" ? alertBox("error", job.error || "Failed.") : null);
  }

  async function stripeSync() {
    const token = current;
    const sync = await api("/api/v1/stripe-sync");
    const message = el("div");
    const act = async (path, options) => {
      try { await api(path, options); await stripeSync(); }
      catch (err) { message.replaceChildren(alertBox("error", err.message)); }
    };
    if (!sync.connected) {
      const form = el("form", { class: "controls", onsubmit: (e) => {
        e.preventDefault();
        act("/api/v1/stripe-connection", { method: "PUT", body: { apiKey: e.currentTarget.apiKey.value.trim() } });
      } },
        el("label", {}, "Restricted key", el("input", { name: "apiKey", type: "password", autocomplete: "off", required: true, placeholder: "rk_live_…", pattern: "rk_(live|test)_.+" })),
        el("button", { type: "submit", text: "Connect" }));
      render(token, "Stripe", el("section", { class: "panel" },
        el("p", { text: "With a restricted, read-only Stripe key BillingWatch backfills up to 30 days of events and reconciles every few minutes: events whose webhooks never arrived are imported, and you are told how many were missed." }),
        el("p", { text: "In Stripe: Developers → API keys → Create restricted key, with Read on Events (required), Webhook Endpoints and Subscriptions, and nothing else." }),
        form, message));
      return;
    }

    const running = [sync.backfill, sync.reconcile.current, sync.subscriptionSeed].some((j) => j && !["completed", "failed"].includes(j.state));
    const backfillForm = el("form", { class: "controls", onsubmit: (e) => {
      e.preventDefault();
      act("/api/v1/stripe-sync/backfill", { method: "POST", body: { days: Number(e.currentTarget.days.value) } });
    } },
      el("label", {}, "Days", el("select", { name: "days" }, ...[1, 7, 30].map((d) => el("option", { value: d, selected: d === 30 }, d)))),
      el("button", { type: "submit", text: "Backfill", disabled: sync.backfill && !["completed", "failed"].includes(sync.backfill.state) }));
    const endpoint = sync.endpoint;
    render(token, "Stripe",
      el("section", { class: "panel", id: "stripe-connection" }, el("h2", { text: "Connection" }),
        el("p", {}, "Key ", el("span", { class: "secret", text: sync.key }), ` · ${sync.livemode ? "live" : "test"} mode · ${sync.status.replaceAll("_", " ")} · connected ${when(sync.connectedAt)}`),
        sync.missingPermissions.length ? alertBox("error", `Missing permissions: ${sync.missingPermissions.join(", ")}`) : null,
        sync.lastError ? alertBox("error", sync.lastError) : null,
        el("button", { type: "button", class: "secondary", text: "Disconnect", onclick: () => act("/api/v1/stripe-connection", { method: "DELETE" }) })),
      el("section", { class: "panel", id: "stripe-endpoint" }, el("h2", { text: "Webhook endpoint" }),
        endpoint
          ? el("p", { text: `${endpoint.status.replaceAll("_", " ")}${endpoint.endpointId ? ` (${endpoint.endpointId})` : ""}${endpoint.missingTypes.length ? ` · not sent: ${endpoint.missingTypes.join(", ")}` : ""} · checked ${when(endpoint.checkedAt)}` })
          : el("p", { class: "muted", text: "Not checked yet (needs Read on Webhook Endpoints)." })),
      el("section", { class: "panel", id: "stripe-reconcile" }, el("h2", { text: "Reconciliation" }),
        el("p", { text: `Last: ${when(sync.reconcile.lastCompletedAt)} · missed then: ${sync.reconcile.lastMissing} · missed in total: ${sync.reconcile.totalMissing} · next: ${when(sync.reconcile.nextAt)}` }),
        sync.reconcile.current ? jobProgress(sync.reconcile.current, "Running") : null,
        el("button", { type: "button", class: "secondary", text: "Reconcile now", disabled: !!sync.reconcile.current, onclick: () => act("/api/v1/stripe-sync/reconcile", { method: "POST" }) })),
      el("section", { class: "panel", id: "stripe-backfill" }, el("h2", { text: "Backfill" }),
        sync.backfill ? jobProgress(sync.backfill, "Last backfill") : el("p", { class: "muted", text: "No backfill yet." }),
        backfillForm),
      message);
    // Long work shows its progress: refresh while something runs, for as long as this page is shown.
    if (running) setTimeout(() => { if (token === current) stripeSync().catch(() => {}); }, 2000);
  }

  // ---------------------------------------------------------------- admin
  async function admin() {
    const token = current;
    const tenants = await api("/api/v1/tenants");
    const result = el("div");
    const form = el("form", { class: "controls", onsubmit: async (e) => {
      e.preventDefault();
      const name = e.currentTarget.name.value.trim();
      try {
        const t = await api("/api/v1/tenants", { method: "POST", body: { name } });
        await admin();
        const copy = (text) => el("button", { type: "button", class: "secondary", text: "Copy", onclick: () => navigator.clipboard?.writeText(text) });
        main.prepend(el("div", { class: "panel", id: "created" },
          el("p", { class: "success", text: `Created ${t.name}. The API key is shown only now.` }),
          el("p", {}, "Webhook URL: ", el("span", { class: "secret", id: "created-url", text: t.webhookUrl }), " ", copy(t.webhookUrl)),
          el("p", {}, "API key: ", el("span", { class: "secret", id: "created-key", text: t.apiKey }), " ", copy(t.apiKey))));
      } catch (err) { result.replaceChildren(alertBox("error", err.message)); }
    } }, el("label", {}, "New tenant name", el("input", { name: "name", required: true, maxlength: 200 })), el("button", { type: "submit", text: "Create tenant" }));
    const table = tenants.items.length
      ? el("table", {}, el("thead", {}, el("tr", {}, el("th", { text: "Name" }), el("th", { class: "hide-sm", text: "Id" }), el("th", { text: "Webhook URL" }), el("th", { class: "hide-sm", text: "Created" }))),
          el("tbody", {}, ...tenants.items.map((t) => el("tr", {}, el("td", { text: t.name }), el("td", { class: "hide-sm", text: t.id }), el("td", { class: "secret", text: t.webhookUrl }), el("td", { class: "hide-sm", text: when(t.createdAt) })))))
      : el("p", { class: "empty", text: "No tenants yet. Create one for each Stripe account." });
    render(token, "Tenants", el("div", { class: "panel" }, form, result), el("div", { class: "panel" }, table));
  }

  // ---------------------------------------------------------------- routing
  async function route() {
    current++;
    const token = current;
    const [path, query] = (location.hash.slice(1) || "/").split("?");
    const params = new URLSearchParams(query || "");
    if (!key()) { signIn(); return; }
    nav.hidden = false;
    for (const link of nav.querySelectorAll("a")) {
      link.hidden = link.dataset.role !== role();
      link.classList.toggle("active", path.startsWith(link.getAttribute("href").slice(1)));
    }
    try {
      if (role() === "admin") { await admin(); return; }
      if (path.startsWith("/anomaly/")) await anomaly(decodeURIComponent(path.slice("/anomaly/".length)));
      else if (path === "/anomalies") await anomalies(params);
      else if (path === "/detectors") await detectors();
      else if (path === "/alerts") await alerts();
      else if (path === "/stripe") await stripeSync();
      else if (path === "/revenue") await revenue(params);
      else await overview(params);
    } catch (err) {
      render(token, "Something went wrong", alertBox("error", err.message));
    }
  }

  document.getElementById("signout").addEventListener("click", signOut);
  window.addEventListener("hashchange", route);
  route();
})();
