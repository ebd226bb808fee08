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
    charts = [];
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

  // ---------------------------------------------------------------- charts (uPlot, vendored)
  // Every chart has dated axes, a y scale, values on hover in its legend, legend entries that hide a series
  // (by click or by keyboard), drag-to-zoom and double-click to zoom out. Incidents are shaded spans: a
  // click on one opens its anomaly, and the same incidents are listed as links under the chart.
  const SPAN_COLORS = { low: "rgba(91,100,117,0.14)", medium: "rgba(151,90,22,0.18)", high: "rgba(156,66,33,0.2)", critical: "rgba(197,48,48,0.22)" };
  let charts = [];

  function spansPlugin(spans) {
    return {
      hooks: {
        drawClear: [(u) => {
          const ctx = u.ctx;
          ctx.save();
          for (const s of spans) {
            let x0 = u.valToPos(s.from, "x", true), x1 = u.valToPos(s.to, "x", true);
            x0 = Math.max(u.bbox.left, x0); x1 = Math.min(u.bbox.left + u.bbox.width, Math.max(x1, x0 + 4 * devicePixelRatio));
            if (x1 <= u.bbox.left || x0 >= u.bbox.left + u.bbox.width) continue;
            ctx.fillStyle = SPAN_COLORS[s.severity] || SPAN_COLORS.medium;
            ctx.fillRect(x0, u.bbox.top, x1 - x0, u.bbox.height);
          }
          ctx.restore();
        }],
        ready: [(u) => {
          let downX = 0;
          // The span drawn under the pointer (the narrowest of several, so a short incident drawn over a long
          // one can be reached), else the nearest within 6 px; never a neighbour over the one under the pointer.
          const at = (e) => {
            const x = u.posToVal(e.offsetX, "x"), px = u.posToVal(1, "x") - u.posToVal(0, "x");
            let best = null, bestDistance = Infinity, bestWidth = Infinity;
            for (const s of spans) {
              const to = Math.max(s.to, s.from + 4 * px);
              const distance = x < s.from ? s.from - x : x > to ? x - to : 0;
              const width = to - s.from;
              if (distance <= 6 * px && (distance < bestDistance || (distance === bestDistance && width < bestWidth))) {
                best = s; bestDistance = distance; bestWidth = width;
              }
            }
            return best;
          };
          u.over.addEventListener("mousedown", (e) => { downX = e.clientX; });
          u.over.addEventListener("mousemove", (e) => { const s = at(e); u.over.style.cursor = s ? "pointer" : ""; u.over.title = s ? s.title : ""; });
          u.over.addEventListener("click", (e) => { const s = at(e); if (s && Math.abs(e.clientX - downX) < 4) location.hash = `#/anomaly/${encodeURIComponent(s.id)}`; });
        }],
      },
    };
  }

  // The legend's entries become buttons a keyboard can reach: Enter or Space hides or shows the series.
  function keyboardLegend(u) {
    u.root.querySelectorAll(".u-legend .u-series").forEach((row, i) => {
      if (i === 0) return;
      const label = row.querySelector(".u-label");
      row.setAttribute("tabindex", "0");
      row.setAttribute("role", "button");
      const sync = () => row.setAttribute("aria-pressed", String(u.series[i].show));
      sync();
      row.setAttribute("aria-label", `Show ${label ? label.textContent : "series"}`);
      row.addEventListener("keydown", (e) => {
        if (e.key !== "Enter" && e.key !== " ") return;
        e.preventDefault();
        u.setSeries(i, { show: !u.series[i].show });
        sync();
      });
      row.addEventListener("click", () => setTimeout(sync));
    });
  }

  /**
   * A dated chart in target: xs in unix seconds, series [{label, values, kind: line|bars|band-high|band-low, color, format}],
   * spans of incidents. With bucket (seconds), each x is the start of a period: it is drawn at the period's middle and the
   * axis runs to the end of the last period, so an incident late in the current period is on the chart.
   */
  function timeChart(target, { label, xs, series, spans = [], yFormat = (v) => v.toLocaleString(), height = 240, dateOnly = false, bucket = 0 }) {
    const width = Math.max(260, Math.min(1100, target.clientWidth || 600));
    const half = bucket / 2;
    const first = xs[0], last = xs[xs.length - 1];
    // Padded with empty points at the start of the first period and the end of the last (bars are sized by the closest points: half a period).
    const pad = bucket > 0 && xs.length > 0;
    const bars = window.uPlot.paths.bars({ size: [pad ? 1.4 : 0.7, 60], gap: 1 });
    const bandIndex = series.findIndex((s) => s.kind === "band-high");
    const u = new window.uPlot({
      width, height,
      scales: { x: { time: true } },
      axes: [{}, { values: (self, vals) => vals.map(yFormat), size: 70 },
        ...(series.some((x) => x.scale) ? [{ scale: series.find((x) => x.scale).scale, side: 1, values: (self, vals) => vals.map(yFormat), size: 70, grid: { show: false } }] : [])],
      cursor: { drag: { x: true, y: false } },
      bands: bandIndex > 0 ? [{ series: [bandIndex + 1, bandIndex + 2], fill: "rgba(47,133,90,0.14)" }] : [],
      plugins: [spansPlugin(spans)],
      series: [
        { label: "Time", value: (self, v) => v === null ? "—" : dateOnly ? new Date((v - half) * 1000).toLocaleDateString(undefined, { timeZone: "UTC" }) : new Date((v - half) * 1000).toLocaleString() },
        ...series.map((s) => ({
          label: s.label,
          scale: s.scale || "y",
          stroke: s.kind.startsWith("band") ? "rgba(47,133,90,0.55)" : s.color,
          width: s.kind.startsWith("band") ? 1 : 2,
          dash: s.kind.startsWith("band") ? [4, 4] : undefined,
          fill: s.kind === "bars" ? s.color : undefined,
          paths: s.kind === "bars" ? bars : undefined,
          points: { show: s.kind === "line" && xs.length < 40 },
          // A stacked series draws its running total and shows its own value.
          value: (self, v, si, idx) => {
            const own = s.own && idx !== null && idx !== undefined ? s.own[idx - (pad ? 1 : 0)] : v;
            return own === null || own === undefined ? "—" : (s.format || yFormat)(own);
          },
          spanGaps: false,
        })),
      ],
    }, pad ? [[first, ...xs.map((x) => x + half), last + bucket], ...series.map((s) => [null, ...s.values, null])] : [xs, ...series.map((s) => s.values)], target);
    target.chart = u;
    u.ctx.canvas.setAttribute("role", "img");
    u.ctx.canvas.setAttribute("aria-label", label);
    keyboardLegend(u);
    charts.push({ u, target });
    return u;
  }

  window.addEventListener("resize", () => {
    for (const { u, target } of charts) if (target.isConnected) u.setSize({ width: Math.max(260, Math.min(1100, target.clientWidth)), height: u.height });
  });

  const incidentSpans = (items) => items.filter((a) => a.severity !== "low").map((a) => ({
    id: a.id, severity: a.severity, title: `${a.title} (${a.severity})`,
    from: Date.parse(a.windowStart) / 1000, to: Date.parse(a.windowEnd) / 1000,
  }));

  function incidentList(items, empty) {
    const shown = items.filter((a) => a.severity !== "low");
    if (!shown.length) return el("p", { class: "muted", text: empty });
    return el("ul", { class: "incidents" }, ...shown.slice(0, 20).map((a) => el("li", {}, severity(a.severity), " ",
      el("a", { href: `#/anomaly/${encodeURIComponent(a.id)}`, text: a.title, "data-from": a.windowStart }), el("span", { class: "muted", text: ` · ${when(a.windowStart)} – ${when(a.windowEnd)} · ${a.status}` }))),
      shown.length > 20 ? el("li", {}, el("a", { href: "#/anomalies", text: `and ${shown.length - 20} more…` })) : null);
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
    const since = series.buckets.length ? series.buckets[0].start : new Date().toISOString();
    const incidents = await api(`/api/v1/anomalies?since=${encodeURIComponent(since)}&limit=500${livemode}`);

    const bySeverity = Object.fromEntries(SEVERITIES.map((s) => [s, open.items.filter((a) => a.severity === s).length]));
    const webhookIssues = open.items.filter((a) => ["webhook_lag", "webhook_silence", "webhook_gap", "endpoint_health"].includes(a.detector));
    const endpointText = !sync.connected ? "" : sync.endpoint ? ` · endpoint ${sync.endpoint.status.replaceAll("_", " ")}` : " · endpoint not checked";
    const revenue = Object.entries(metrics.revenue);
    const cards = el("div", { class: "cards" },
      el("div", { class: "card" }, el("div", { class: "label", text: "Events" }), el("div", { class: "value", text: metrics.events.total.toLocaleString() })),
      el("div", { class: "card" }, el("div", { class: "label", text: "Charges" }), el("div", { class: "value", text: (metrics.charges.succeeded + metrics.charges.failed).toLocaleString() })),
      el("div", { class: "card" }, el("div", { class: "label", text: "Charge failure rate" }), el("div", { class: "value", text: `${(metrics.charges.failureRate * 100).toFixed(1)} %` }),
        series.baseline?.failureRate !== null && series.baseline?.failureRate !== undefined ? el("div", { class: "muted", text: `usually ${(series.baseline.failureRate * 100).toFixed(1)} %` }) : null),
      el("div", { class: "card" }, el("div", { class: "label", text: "Revenue" }), el("div", { class: "value", text: revenue.length ? revenue.map(([c, v]) => money(v, c)).join(" · ") : "—" })),
      el("div", { class: "card" }, el("div", { class: "label", text: "Open anomalies" }), el("div", { class: "value" }, ...SEVERITIES.filter((s) => bySeverity[s]).map((s) => el("span", {}, severity(s), ` ${bySeverity[s]} `)), open.items.length ? null : "none")),
      el("div", { class: "card" }, el("div", { class: "label", text: "Last event received" }), el("div", { class: "value", text: when(metrics.lastEventAt) })),
      el("div", { class: "card", id: "webhook-health" }, el("div", { class: "label", text: "Webhook health" }),
        el("div", { class: "value" }, el("a", { href: "#/webhooks", text: (webhookIssues.length ? `${webhookIssues.length} open issue(s)` : "healthy") + endpointText }))));

    const hourly = series.bucketSeconds === 3600;
    const xs = series.buckets.map((b) => Date.parse(b.start) / 1000);
    const spans = incidentSpans(incidents.items);
    const currencies = [...new Set(series.buckets.flatMap((b) => Object.keys(b.revenue)))].sort();
    const volume = el("div", { class: "chart-slot", id: "chart-volume" });
    const failures = el("div", { class: "chart-slot", id: "chart-failures" });
    const revenueChart = el("div", { class: "chart-slot", id: "chart-revenue" });
    const revenueTable = el("table", {},
      el("caption", { class: "muted", text: "Card revenue per period" }),
      el("thead", {}, el("tr", {}, el("th", { text: hourly ? "Hour" : "Day" }), ...currencies.map((c) => el("th", { text: c.toUpperCase() })))),
      el("tbody", {}, ...series.buckets.filter((b) => Object.keys(b.revenue).length).map((b) =>
        el("tr", {}, el("td", { text: hourly ? when(b.start) : new Date(b.start).toLocaleDateString(undefined, { timeZone: "UTC" }) }), ...currencies.map((c) => el("td", { text: b.revenue[c] ? money(b.revenue[c], c) : "—" }))))));
    const base = series.baseline;
    render(token, "Overview", controls, cards,
      el("section", { class: "panel" }, el("h2", { text: "Event volume" }), volume),
      el("section", { class: "panel" }, el("h2", { text: "Charge failure rate" }),
        el("p", { class: "muted", text: base?.failureRate !== null && base?.failureRate !== undefined
          ? `The green band is where each point's failure rate falls 99 % of the time at the usual rate (${(base.failureRate * 100).toFixed(1)} % over ${base.charges.toLocaleString()} charges in the week before).`
          : "No band yet: it needs 100 charges in the week before the period." }),
        failures),
      el("section", { class: "panel" }, el("h2", { text: "Card revenue by currency" }),
        currencies.length ? el("div", {}, revenueChart, el("details", {}, el("summary", { text: "Revenue as a table" }), revenueTable)) : el("p", { class: "muted", text: "No succeeded charges in this period." })),
      el("section", { class: "panel", id: "incidents" }, el("h2", { text: "Incidents in this period" }),
        el("p", { class: "muted", text: "Shaded on the charts above; click a shaded span or a link to open it." }),
        incidentList(incidents.items, "No incidents in this period.")));
    if (token !== current) return;
    const pct = (v) => `${(v * 100).toFixed(1)} %`;
    timeChart(volume, { label: `Events per ${hourly ? "hour" : "day"}`, xs, spans, dateOnly: !hourly, bucket: series.bucketSeconds,
      series: [{ label: "Events", kind: "bars", color: "#3451b2", values: series.buckets.map((b) => b.events) }] });
    timeChart(failures, { label: `Charge failure rate per ${hourly ? "hour" : "day"} against its expected band`, xs, spans, dateOnly: !hourly, yFormat: pct, bucket: series.bucketSeconds,
      series: [
        { label: "Failure rate", kind: "line", color: "#c53030", values: series.buckets.map((b) => b.chargesSucceeded + b.chargesFailed ? b.failureRate : null) },
        { label: "Expected high", kind: "band-high", values: series.buckets.map((b) => b.expectedFailureRateHigh ?? null) },
        { label: "Expected low", kind: "band-low", values: series.buckets.map((b) => b.expectedFailureRateLow ?? null) },
      ] });
    if (currencies.length) {
      const palette = ["#2f855a", "#3451b2", "#975a16", "#7c3aed", "#c53030", "#0e7490"];
      timeChart(revenueChart, { label: `Card revenue per ${hourly ? "hour" : "day"} by currency`, xs, spans, dateOnly: !hourly, yFormat: (v) => (v / 100).toLocaleString(), bucket: series.bucketSeconds,
        series: currencies.map((c, i) => ({ label: c.toUpperCase(), kind: "line", color: palette[i % palette.length], values: series.buckets.map((b) => b.revenue[c] ?? 0), format: (v) => money(v, c) })) });
    }
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

  // ---------------------------------------------------------------- an anomaly, explained
  const words = (key) => key.replace(/([a-z0-9])([A-Z])/g, "$1 $2").replaceAll("_", " ").replace(/^./, (c) => c.toUpperCase());
  const MONEY_KEYS = /amount|revenue|shortfall|mrr|recurring|moneyAtRisk|lost|refunded/i;

  function oneIn(p) {
    if (p <= 0) return "never by chance at the usual rate";
    if (p < 1e-12) return "less than once in a trillion by chance";
    const n = 1 / p;
    const scale = [[1e12, "trillion"], [1e9, "billion"], [1e6, "million"], [1e3, "thousand"]].find(([v]) => n >= v);
    return `about once in ${scale ? `${(n / scale[0]).toLocaleString(undefined, { maximumFractionDigits: 1 })} ${scale[1]}` : Math.round(n).toLocaleString()} by chance`;
  }

  function moneyMap(value, currency) {
    if (value && typeof value === "object") return Object.entries(value).map(([c, v]) => typeof v === "number" ? money(v, c) : `${c}: ${v}`).join(" · ") || "none";
    return typeof value === "number" && currency ? money(value, currency) : String(value);
  }

  function describeValue(key, value, currency) {
    if (value === null || value === undefined) return "—";
    if (MONEY_KEYS.test(key) && (typeof value === "object" || currency)) return moneyMap(value, currency);
    if (typeof value === "number") {
      if (/rate|ratio|share|threshold/i.test(key) && value <= 1 && !/excess/i.test(key)) return `${(value * 100).toLocaleString(undefined, { maximumFractionDigits: 2 })} %`;
      if (/pValue/.test(key)) return `${value.toPrecision(3)} (${oneIn(value)})`;
      return value.toLocaleString(undefined, { maximumFractionDigits: 2 });
    }
    if (Array.isArray(value)) return value.length > 12 ? `${value.slice(0, 12).join(", ")} and ${value.length - 12} more` : value.map((v) => typeof v === "object" ? JSON.stringify(v) : v).join(", ") || "none";
    return String(value);
  }

  function evidenceList(evidence, currency) {
    const rows = Object.entries(evidence || {}).filter(([k]) => k !== "impact" && k !== "pValue");
    return el("dl", { class: "facts" }, ...rows.flatMap(([k, v]) => v && typeof v === "object" && !Array.isArray(v) && !MONEY_KEYS.test(k)
      ? [el("dt", { text: words(k) }), el("dd", {}, evidenceList(v, v.currency || currency))]
      : [el("dt", { text: words(k) }), el("dd", { text: describeValue(k, v, currency) })]));
  }

  // Observed against expected, how unusual, and what it costs: the three questions a reader asks first.
  function evidenceSummary(a) {
    const e = a.evidence || {};
    const currency = e.currency;
    const lines = [];
    if (e.impact) {
      const i = e.impact;
      lines.push(`Observed ${i.observed.toLocaleString()} where about ${i.expected.toLocaleString()} were expected (${i.excessRatio.toLocaleString()} × the usual).`);
      if (i.customersAffected) lines.push(`About ${i.customersAffected.toLocaleString()} customer${i.customersAffected === 1 ? "" : "s"} affected beyond the usual.`);
      if (i.moneyAtRisk && Object.keys(i.moneyAtRisk).length) lines.push(`Money at risk: ${moneyMap(i.moneyAtRisk)}.`);
    } else if (e.expected !== undefined && (e.count ?? e.observed ?? e.failed ?? e.refunds) !== undefined) {
      lines.push(`Observed ${(e.count ?? e.observed ?? e.failed ?? e.refunds).toLocaleString()} where about ${Number(e.expected).toLocaleString(undefined, { maximumFractionDigits: 2 })} were expected.`);
    }
    if (typeof e.pValue === "number") lines.push(`How unusual: this many would happen ${oneIn(e.pValue)} (p = ${e.pValue.toPrecision(3)}).`);
    if (e.monthlyRecurringLost !== undefined) lines.push(`Monthly recurring revenue lost: ${moneyMap(e.monthlyRecurringLost, currency)}.`);
    return lines.length ? el("ul", { class: "summary" }, ...lines.map((t) => el("li", { text: t }))) : null;
  }

  const cardText = (c) => c ? [c.brand, c.last4 ? `•••• ${c.last4}` : null, c.country].filter(Boolean).join(" ") : "—";

  function eventRow(item) {
    const d = item.details || {};
    return el("tr", {},
      el("td", { text: when(item.created) }),
      el("td", { text: item.type || "not stored" }),
      el("td", { class: "num", text: d.amount !== null && d.amount !== undefined && d.currency ? money(d.amount, d.currency) : d.amount ?? "—" }),
      el("td", { text: d.customer || "—" }),
      el("td", { class: "hide-sm", text: cardText(d.card) }),
      el("td", { text: [d.outcome, d.failureCode].filter(Boolean).join(": ") || "—" }),
      el("td", { class: "hide-sm" }, el("a", { href: `#/events?id=${encodeURIComponent(item.id)}&livemode=${item.livemode ?? ""}`, text: item.id })));
  }

  const eventTableHead = () => el("thead", {}, el("tr", {}, el("th", { text: "Time" }), el("th", { text: "Type" }), el("th", { text: "Amount" }), el("th", { text: "Customer" }),
    el("th", { class: "hide-sm", text: "Card" }), el("th", { text: "Outcome" }), el("th", { class: "hide-sm", text: "Event" })));

  const HISTORY_WORDS = { opened: "Opened", escalated: "Escalated to", resolved: "Resolved", acknowledged: "Acknowledged", false_positive: "Marked a false positive" };

  async function anomaly(id) {
    const token = current;
    const [a, events] = await Promise.all([api(`/api/v1/anomalies/${encodeURIComponent(id)}`), api(`/api/v1/anomalies/${encodeURIComponent(id)}/events`)]);
    const note = el("textarea", { id: "note", rows: 2, placeholder: "What did you find? (optional)" });
    const message = el("div");
    const act = (action, label, done) => el("button", { type: "button", class: "secondary", onclick: async () => {
      try {
        await api(`/api/v1/anomalies/${encodeURIComponent(id)}/${action}`, { method: "POST", body: { note: note.value || undefined, by: "dashboard" } });
        await anomaly(id);
        main.prepend(alertBox("success", `Marked ${done}.`));
      } catch (err) { message.replaceChildren(alertBox("error", err.message)); }
    } }, label);
    const currency = a.evidence?.currency;
    const history = el("ol", { class: "history", id: "history" }, ...(a.history || []).map((h) => el("li", {},
      el("strong", { text: `${HISTORY_WORDS[h.change] || words(h.change)}${h.change === "escalated" ? ` ${h.severity}` : ""}` }),
      ` · ${when(h.at)}${h.by ? ` · by ${h.by}` : ""}`, h.note ? el("div", { class: "muted", text: h.note }) : null)));
    const chart = el("div", { class: "chart-slot", id: "anomaly-chart" });
    const rows = events.items.map((item) => eventRow({ ...item, livemode: a.livemode }));
    render(token, a.title,
      el("div", { class: "panel" },
        el("p", {}, severity(a.severity), ` ${a.detector} · ${a.livemode ? "live" : "test"} mode · status `, el("strong", { id: "status", text: a.status })),
        el("p", { class: "lead", text: a.message }),
        el("p", { class: "muted", text: `Detected ${when(a.detectedAt)} · window ${when(a.windowStart)} – ${when(a.windowEnd)} · subject ${a.subject}${a.account ? ` · account ${a.account}` : ""}` }),
        el("p", { class: "muted", id: "episode", text: `${a.occurrences ?? 1} occurrence${(a.occurrences ?? 1) === 1 ? "" : "s"} in this episode · last changed ${when(a.updatedAt ?? a.raisedAt)}` }),
        a.statusNote ? el("p", { text: `Note: ${a.statusNote} (${a.statusChangedBy}, ${when(a.statusChangedAt)})` }) : null,
        el("label", { for: "note" }, "Note", note),
        el("div", { class: "controls" }, act("acknowledge", "Acknowledge", "acknowledged"), act("resolve", "Resolve", "resolved"), act("false-positive", "False positive", "a false positive")),
        message),
      el("section", { class: "panel", id: "evidence" }, el("h2", { text: "What was seen" }), evidenceSummary(a), evidenceList(a.evidence, currency),
        el("details", {}, el("summary", { text: "Raw evidence (JSON)" }), el("pre", { text: JSON.stringify(a.evidence, null, 2) }))),
      el("section", { class: "panel", id: "around" }, el("h2", { text: "Around the episode" }),
        el("p", { class: "muted", text: "Loading the measure around the episode…" }), chart),
      el("section", { class: "panel", id: "anomaly-events" }, el("h2", { text: `Events (${events.total})` }),
        events.items.length ? el("table", {}, eventTableHead(), el("tbody", {}, ...rows)) : el("p", { class: "muted", text: "This anomaly names no events (a wall-clock check, such as silence)." }),
        events.total > events.items.length ? el("p", { class: "muted", text: `The first ${events.items.length} of ${events.total} are listed.` }) : null,
        el("p", {}, el("a", { href: `#/events?since=${encodeURIComponent(a.windowStart)}&until=${encodeURIComponent(new Date(Date.parse(a.windowEnd) + 1000).toISOString())}&livemode=${a.livemode}`, text: "All events in the episode's window →" }))),
      el("section", { class: "panel" }, el("h2", { text: "History" }), history),
      el("p", {}, el("a", { href: "#/anomalies", text: "← All anomalies" })));
    if (token !== current) return;
    // Around the episode: the measure its detector judges against its expected band (24 hourly points ending six
    // hours after it, never after now; 30 daily points for the daily detectors), and the event volume.
    const daily = ["revenue_drop", "churn_spike"].includes(a.detector);
    const until = new Date(Math.min(Date.now(), Date.parse(a.windowEnd) + (daily ? 86400000 : 6 * 3600000))).toISOString();
    const series = await api(`/api/v1/metrics/series?window=${daily ? "30d" : "24h"}&until=${encodeURIComponent(until)}&livemode=${a.livemode}`);
    if (token !== current) return;
    const xs = series.buckets.map((b) => Date.parse(b.start) / 1000);
    const bucket = series.bucketSeconds;
    const per = daily ? "day" : "hour";
    const spans = incidentSpans([{ ...a, severity: a.severity === "low" ? "medium" : a.severity }]);
    const pct = (v) => `${(v * 100).toFixed(1)} %`;
    const COUNTS = { refund_spike: ["refunds", "Refunds"], fraud_spike: ["disputes", "Disputes"], churn_spike: ["cancellations", "Cancellations"] };
    const explain = chart.previousElementSibling;
    if (COUNTS[a.detector]) {
      const [key, label] = COUNTS[a.detector];
      const base = series.baseline?.[key];
      explain.textContent = `${label} per ${per} around the episode (shaded), against the band where a ${per}'s count falls 99 % of the time at the week before's mean (${base ? base.mean.toLocaleString() : "—"} a ${per}).`;
      timeChart(chart, { label: `${label} per ${per} around the episode against the expected band`, xs, bucket, spans, dateOnly: daily,
        series: [
          { label, kind: "bars", color: "#c53030", values: series.buckets.map((b) => b[key]) },
          { label: "Expected high", kind: "band-high", values: series.buckets.map(() => base ? base.high : null) },
          { label: "Expected low", kind: "band-low", values: series.buckets.map(() => base ? base.low : null) },
        ] });
    } else if (a.detector === "revenue_drop") {
      const currencies = [...new Set(series.buckets.flatMap((b) => Object.keys(b.revenue)))].sort();
      explain.textContent = "Card revenue per day around the episode (shaded), per currency.";
      const palette = ["#2f855a", "#3451b2", "#975a16", "#7c3aed"];
      timeChart(chart, { label: "Card revenue per day around the episode", xs, bucket, spans, dateOnly: true, yFormat: (v) => (v / 100).toLocaleString(),
        series: currencies.length ? currencies.map((c, i) => ({ label: c.toUpperCase(), kind: "line", color: palette[i % palette.length], values: series.buckets.map((b) => b.revenue[c] ?? 0), format: (v) => money(v, c) }))
          : [{ label: "Revenue", kind: "line", color: "#2f855a", values: series.buckets.map(() => 0) }] });
    } else {
      explain.textContent = `The charge failure rate per ${per} around the episode (shaded), against the band where it falls 99 % of the time at the week before's rate.`;
      timeChart(chart, { label: "Charge failure rate around the episode against its expected band", xs, bucket, spans, dateOnly: daily, yFormat: pct,
        series: [
          { label: "Failure rate", kind: "line", color: "#c53030", values: series.buckets.map((b) => b.chargesSucceeded + b.chargesFailed ? b.failureRate : null) },
          { label: "Expected high", kind: "band-high", values: series.buckets.map((b) => b.expectedFailureRateHigh ?? null) },
          { label: "Expected low", kind: "band-low", values: series.buckets.map((b) => b.expectedFailureRateLow ?? null) },
        ] });
    }
    const volume = el("div", { class: "chart-slot" });
    chart.after(volume);
    timeChart(volume, { label: `Events per ${per} around the episode`, xs, bucket, spans, height: 160, dateOnly: daily,
      series: [{ label: "Events", kind: "bars", color: "#3451b2", values: series.buckets.map((b) => b.events) }] });
  }

  // ---------------------------------------------------------------- events browser
  async function eventsPage(params) {
    const token = current;
    const f = (name) => params.get(name) || "";
    const dateValue = (v) => v ? v.slice(0, 16) : "";
    const form = el("form", { class: "controls", id: "event-search", onsubmit: (e) => {
      e.preventDefault();
      const data = new FormData(e.currentTarget);
      const pairs = [...data.entries()].filter(([, v]) => v).map(([k, v]) => [k, (k === "since" || k === "until") ? new Date(v + "Z").toISOString() : v]);
      location.hash = "#/events?" + pairs.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join("&");
    } },
      el("label", {}, "Event id", el("input", { name: "id", value: f("id"), placeholder: "evt_…", size: 18 })),
      el("label", {}, "Type", el("input", { name: "type", value: f("type"), placeholder: "charge.failed", size: 16 })),
      el("label", {}, "Customer", el("input", { name: "customer", value: f("customer"), placeholder: "cus_…", size: 14 })),
      el("label", {}, "Min. amount (minor units)", el("input", { name: "minAmount", type: "number", step: "1", value: f("minAmount") })),
      el("label", {}, "Max. amount (minor units)", el("input", { name: "maxAmount", type: "number", step: "1", value: f("maxAmount") })),
      el("label", {}, "Source", el("select", { name: "source" }, el("option", { value: "", text: "Any" }), ...["webhook", "import", "reconciled"].map((v) => el("option", { value: v, selected: v === f("source") }, v)))),
      el("label", {}, "Account", el("input", { name: "account", value: f("account"), placeholder: "acct_…", size: 14 })),
      el("label", {}, "Mode", el("select", { name: "livemode" }, ...[["", "Both"], ["true", "Live"], ["false", "Test"]].map(([v, t]) => el("option", { value: v, selected: v === f("livemode") }, t)))),
      el("label", {}, "From (UTC)", el("input", { name: "since", type: "datetime-local", value: dateValue(f("since")) })),
      el("label", {}, "To (UTC)", el("input", { name: "until", type: "datetime-local", value: dateValue(f("until")) })),
      el("button", { type: "submit", text: "Search" }));
    const viewer = el("section", { class: "panel", id: "event-viewer", hidden: true });
    const show = async (eventId, livemode) => {
      const ev = await api(`/api/v1/events/${encodeURIComponent(eventId)}${livemode === "" || livemode === undefined ? "" : `?livemode=${livemode}`}`);
      const d = ev.details || {};
      viewer.hidden = false;
      viewer.replaceChildren(el("h2", { text: ev.id }),
        el("dl", { class: "facts" },
          ...[["Type", ev.type], ["Created", when(ev.created)], ["Received", when(ev.receivedAt)], ["Source", ev.source], ["Account", ev.account || "—"], ["Mode", ev.livemode ? "live" : "test"],
            ["Amount", d.amount !== null && d.amount !== undefined && d.currency ? money(d.amount, d.currency) : "—"], ["Customer", d.customer || "—"], ["Card", cardText(d.card)],
            ["Outcome", [d.outcome, d.failureCode].filter(Boolean).join(": ") || "—"]].flatMap(([k, v]) => [el("dt", { text: k }), el("dd", { text: v })])),
        el("h3", { text: "Payload" }), el("pre", { id: "payload", tabindex: "0", text: JSON.stringify(ev.payload, null, 2) }));
      viewer.scrollIntoView({ block: "nearest" });
    };
    if (f("id")) {
      render(token, "Events", form, el("p", { class: "muted", text: "Loading…" }));
      try { await show(f("id"), f("livemode")); render(token, "Events", form, viewer); }
      catch (err) { render(token, "Events", form, alertBox(err.status === 404 ? "status" : "error", err.status === 404 ? `No event ${f("id")} was received for this tenant.` : err.message)); }
      return;
    }
    const query = ["type", "customer", "minAmount", "maxAmount", "source", "account", "livemode", "since", "until"].filter((k) => f(k)).map((k) => `&${k}=${encodeURIComponent(f(k))}`).join("");
    const row = (e) => el("tr", {},
      el("td", { text: when(e.created) }),
      el("td", {}, el("a", { href: "#", text: e.type, onclick: (ev) => { ev.preventDefault(); show(e.id, String(e.livemode)).catch((err) => viewer.replaceChildren(alertBox("error", err.message))); } })),
      el("td", { class: "hide-sm mono", text: e.id }), el("td", { text: e.source }), el("td", { class: "hide-sm", text: e.account || "—" }), el("td", { class: "hide-sm", text: e.livemode ? "live" : "test" }));
    let page;
    try { page = await api(`/api/v1/events?limit=50${query}`); }
    catch (err) { render(token, "Events", form, alertBox("error", err.message)); return; }
    const rows = el("tbody", {}, ...page.items.map(row));
    let cursor = page.nextCursor;
    const more = el("button", { type: "button", class: "secondary", hidden: !cursor, text: "Load more", onclick: async () => {
      const next = await api(`/api/v1/events?limit=50${query}&cursor=${encodeURIComponent(cursor)}`);
      rows.append(...next.items.map(row));
      cursor = next.nextCursor;
      more.hidden = !cursor;
    } });
    render(token, "Events", form,
      el("p", { class: "muted", text: "Customer and amount read each event's payload: with a time range they search less." }),
      el("div", { class: "panel", id: "event-results" }, page.items.length
        ? el("div", {}, el("table", {}, el("thead", {}, el("tr", {}, el("th", { text: "Created" }), el("th", { text: "Type" }), el("th", { class: "hide-sm", text: "Id" }), el("th", { text: "Source" }), el("th", { class: "hide-sm", text: "Account" }), el("th", { class: "hide-sm", text: "Mode" }))), rows), more)
        : el("p", { class: "empty", text: "No events match." })),
      viewer);
  }

  // ---------------------------------------------------------------- webhook health
  const seconds = (s) => s === null || s === undefined ? "—" : s >= 259200 ? "over 6 h" : s >= 3600 ? `≤ ${s / 3600} h` : s >= 60 ? `≤ ${s / 60} min` : `≤ ${s} s`;
  const REJECT_WORDS = { signature: "Bad signature", body: "Not a Stripe event", too_large: "Too large", rate_limited: "Rate limited", unavailable: "Storage unavailable" };

  async function webhooks(params) {
    const token = current;
    const windowName = params.get("window") || "24h";
    const controls = el("form", { class: "controls", onchange: (e) => { location.hash = `#/webhooks?window=${e.currentTarget.window.value}`; } },
      el("label", {}, "Period", el("select", { name: "window" }, ...[["24h", "Last 24 hours"], ["7d", "Last 7 days"]].map(([v, t]) => el("option", { value: v, selected: v === windowName }, t)))));
    const [health, sync, open] = await Promise.all([api(`/api/v1/webhook-health?window=${windowName}`), api("/api/v1/stripe-sync"), api("/api/v1/anomalies?status=open&limit=500")]);
    const t = health.totals;
    const rejected = Object.values(t.rejects).reduce((x, y) => x + y, 0);
    const endpoint = !sync.connected ? "Connect a Stripe key to check it" : sync.endpoint ? sync.endpoint.status.replaceAll("_", " ") : "not checked yet";
    const hourly = health.bucketSeconds === 3600;
    const xs = health.buckets.map((b) => Date.parse(b.start) / 1000);
    const deliveries = el("div", { class: "chart-slot", id: "chart-deliveries" });
    const lag = el("div", { class: "chart-slot", id: "chart-lag" });
    const issues = open.items.filter((a) => ["webhook_lag", "webhook_silence", "webhook_gap", "endpoint_health"].includes(a.detector));
    const reasons = Object.keys(t.rejects);
    render(token, "Webhook health", controls,
      el("div", { class: "cards" },
        el("div", { class: "card" }, el("div", { class: "label", text: "Deliveries" }), el("div", { class: "value", id: "deliveries", text: t.deliveries.toLocaleString() })),
        el("div", { class: "card" }, el("div", { class: "label", text: "Lag p50 / p95" }), el("div", { class: "value", text: `${seconds(t.lagP50Seconds)} / ${seconds(t.lagP95Seconds)}` })),
        el("div", { class: "card" }, el("div", { class: "label", text: "Refused" }), el("div", { class: "value", id: "refused", text: rejected.toLocaleString() })),
        el("div", { class: "card" }, el("div", { class: "label", text: "Missed (reconciled)" }), el("div", { class: "value", text: t.reconciled.toLocaleString() })),
        el("div", { class: "card" }, el("div", { class: "label", text: "Endpoint" }), el("div", { class: "value" }, el("a", { href: "#/stripe", text: endpoint })))),
      issues.length ? el("section", { class: "panel" }, el("h2", { text: "Open webhook issues" }), incidentList(issues, "")) : null,
      el("section", { class: "panel" }, el("h2", { text: `Deliveries per ${hourly ? "hour" : "day"}` }), deliveries),
      el("section", { class: "panel" }, el("h2", { text: "Delivery lag" }),
        el("p", { class: "muted", text: "Arrival minus the event's creation, as the bound of its class (1 s, 2 s, 5 s … 6 h): Stripe's retries of failed deliveries arrive late." }), lag),
      el("section", { class: "panel", id: "rejects" }, el("h2", { text: "Refused deliveries by reason" }),
        reasons.length ? el("table", {}, el("thead", {}, el("tr", {}, el("th", { text: "Reason" }), el("th", { text: "Count" }))),
          el("tbody", {}, ...reasons.map((r) => el("tr", {}, el("td", { text: REJECT_WORDS[r] || r }), el("td", { text: t.rejects[r].toLocaleString() })))))
          : el("p", { class: "muted", text: "None refused in this period." })));
    if (token !== current) return;
    timeChart(deliveries, { label: `Webhook deliveries and reconciled events per ${hourly ? "hour" : "day"}`, xs, dateOnly: !hourly, bucket: health.bucketSeconds,
      series: [
        { label: "Delivered", kind: "bars", color: "#3451b2", values: health.buckets.map((b) => b.deliveries) },
        { label: "Missed (reconciled)", kind: "line", color: "#c53030", values: health.buckets.map((b) => b.reconciled) },
        { label: "Refused", kind: "line", color: "#975a16", values: health.buckets.map((b) => Object.values(b.rejects).reduce((x, y) => x + y, 0)) },
      ] });
    timeChart(lag, { label: "Webhook delivery lag p50 and p95", xs, dateOnly: !hourly, bucket: health.bucketSeconds, yFormat: (v) => seconds(v).replace("≤ ", ""),
      series: [
        { label: "p50", kind: "line", color: "#2f855a", values: health.buckets.map((b) => b.lagP50Seconds), format: seconds },
        { label: "p95", kind: "line", color: "#975a16", values: health.buckets.map((b) => b.lagP95Seconds), format: seconds },
      ] });
  }

  // ---------------------------------------------------------------- imports
  async function imports() {
    const token = current;
    const list = await api("/api/v1/imports");
    const ORIGIN = { upload: "Upload", stripe_backfill: "Stripe backfill", stripe_reconcile: "Reconciliation" };
    const running = list.items.some((i) => i.state === "importing");
    const rows = list.items.map((i) => {
      const done = i.accepted + i.duplicates + i.rejectedCount;
      const percent = i.state === "completed" ? 100 : i.lines ? Math.min(100, Math.round((done / i.lines) * 100)) : 0;
      return el("tr", {},
        el("td", { text: when(i.createdAt) }), el("td", { text: ORIGIN[i.origin] || i.origin || "Upload" }),
        el("td", {}, el("progress", { max: 100, value: percent, "aria-label": `Import ${i.id}: ${percent} %` }, `${percent} %`), ` ${i.state}`),
        el("td", { class: "num", text: i.lines.toLocaleString() }), el("td", { class: "num", text: i.accepted.toLocaleString() }),
        el("td", { class: "num hide-sm", text: i.duplicates.toLocaleString() }), el("td", { class: "num hide-sm", text: i.rejectedCount.toLocaleString() }));
    });
    render(token, "Imports",
      el("p", { class: "muted" }, "Imports run on the server: leave this page and come back, the progress is kept. Stripe backfills are on the ", el("a", { href: "#/stripe", text: "Stripe page" }), "."),
      el("div", { class: "panel", id: "import-list" }, rows.length
        ? el("table", {}, el("thead", {}, el("tr", {}, el("th", { text: "Started" }), el("th", { text: "Origin" }), el("th", { text: "Progress" }), el("th", { text: "Lines" }), el("th", { text: "Imported" }), el("th", { class: "hide-sm", text: "Duplicates" }), el("th", { class: "hide-sm", text: "Rejected" }))), el("tbody", {}, ...rows))
        : el("p", { class: "empty", text: "No imports yet. POST NDJSON to /api/v1/imports (docs/API.md) or backfill from Stripe." })));
    if (running) setTimeout(() => { if (token === current) imports().catch(() => {}); }, 2000);
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
  async function alerts(params = new URLSearchParams()) {
    const token = current;
    const channelFilter = params.get("channel") || "", statusFilter = params.get("status") || "";
    const deliveryQuery = [["channel", channelFilter], ["status", statusFilter]].filter(([, v]) => v).map(([k, v]) => `&${k}=${encodeURIComponent(v)}`).join("");
    const [channels, deliveries, kinds, silences, detectorList] = await Promise.all([api("/api/v1/alert-channels"), api(`/api/v1/alert-deliveries?limit=100${deliveryQuery}`),
      api("/api/v1/alert-channel-kinds"), api("/api/v1/alert-silences"), api("/api/v1/detectors")]);
    const digestKinds = new Set(kinds.items.filter((k) => k.digest).map((k) => k.name));
    const message = el("div");
    const form = el("form", { class: "controls", onsubmit: async (e) => {
      e.preventDefault();
      const data = Object.fromEntries(new FormData(e.currentTarget).entries());
      try {
        const created = await api("/api/v1/alert-channels", { method: "POST", body: data });
        await alerts(params);
        if (created.signingSecret) main.prepend(el("p", {}, "Signing secret (shown once): ", el("span", { class: "secret", text: created.signingSecret })));
      } catch (err) { message.replaceChildren(alertBox("error", err.message)); }
    } },
      el("label", {}, "Kind", el("select", { name: "kind" }, ...kinds.items.map((k) => el("option", { value: k.name, title: k.target }, k.name)))),
      el("label", {}, "Name", el("input", { name: "name", required: true })),
      el("label", {}, "URL or e-mail", el("input", { name: "target", required: true })),
      el("label", {}, "Minimum severity", el("select", { name: "minSeverity" }, ...SEVERITIES.map((s) => el("option", { value: s }, s)))),
      el("button", { type: "submit", text: "Add channel" }));

    // A channel's row turns into its form in place; the target may stay empty to keep it (Slack and Discord URLs are shown redacted).
    const channelRow = (c) => {
      const result = el("span", { "aria-live": "polite" });
      const row = el("tr", { id: `channel-${c.id}` }, el("td", { text: c.name }), el("td", { text: c.kind }), el("td", { class: "hide-sm", text: c.target }),
        el("td", { text: c.minSeverity }), el("td", { text: digestKinds.has(c.kind) ? (c.digest ? "daily digest" : "each alert") : "each alert" }),
        el("td", {},
          el("button", { type: "button", class: "secondary", text: "Edit", "aria-label": `Edit ${c.name}`, onclick: () => row.replaceWith(editRow(c)) }), " ",
          el("button", { type: "button", class: "secondary", text: "Send test", "aria-label": `Send test to ${c.name}`, onclick: async () => {
            const r = await api(`/api/v1/alert-channels/${c.id}/test`, { method: "POST" });
            result.replaceChildren(alertBox(r.delivered ? "success" : "error", r.delivered ? " delivered" : ` failed: ${r.error}`));
          } }), result));
      return row;
    };
    const editRow = (c) => {
      const error = el("div", { "aria-live": "polite" });
      const name = el("input", { name: "name", value: c.name, required: true, "aria-label": "Name" });
      const target = el("input", { name: "target", placeholder: `${c.target} (unchanged)`, "aria-label": "Target (empty keeps it)" });
      const min = el("select", { name: "minSeverity", "aria-label": "Minimum severity" }, ...SEVERITIES.map((s) => el("option", { value: s, selected: s === c.minSeverity }, s)));
      const digest = el("input", { type: "checkbox", name: "digest", checked: c.digest, "aria-label": "Send a daily digest instead of each alert" });
      const row = el("tr", { id: `channel-${c.id}`, class: "editing" },
        el("td", {}, name), el("td", { text: c.kind }), el("td", { class: "hide-sm" }, target), el("td", {}, min),
        el("td", {}, digestKinds.has(c.kind) ? el("label", { class: "inline" }, el("span", {}, digest, " daily digest")) : "each alert"),
        el("td", {},
          el("button", { type: "button", text: "Save", onclick: async () => {
            try {
              const saved = await api(`/api/v1/alert-channels/${c.id}`, { method: "PUT", body: {
                name: name.value, target: target.value.trim() || undefined, minSeverity: min.value, detectors: c.detectors ?? undefined,
                livemode: c.livemode ?? undefined, digest: digestKinds.has(c.kind) ? digest.checked : undefined } });
              row.replaceWith(channelRow(saved));
            } catch (err) { error.replaceChildren(alertBox("error", err.message)); }
          } }), " ",
          el("button", { type: "button", class: "secondary", text: "Cancel", onclick: () => row.replaceWith(channelRow(c)) }), " ",
          el("button", { type: "button", class: "secondary", text: "Delete", onclick: async () => {
            if (!confirm(`Delete the channel ${c.name}? Its pending deliveries stop.`)) return;
            try { await api(`/api/v1/alert-channels/${c.id}`, { method: "DELETE" }); await alerts(params); }
            catch (err) { error.replaceChildren(alertBox("error", err.message)); }
          } }), error));
      setTimeout(() => name.focus());
      return row;
    };
    const table = channels.items.length
      ? el("table", { id: "channels" }, el("thead", {}, el("tr", {}, el("th", { text: "Name" }), el("th", { text: "Kind" }), el("th", { class: "hide-sm", text: "Target" }), el("th", { text: "Min. severity" }), el("th", { text: "Sends" }), el("th", { text: "Actions" }))),
          el("tbody", {}, ...channels.items.map(channelRow)))
      : el("p", { class: "empty", text: "No channels yet: anomalies are only visible here until you add one." });
    const names = Object.fromEntries(channels.items.map((c) => [c.id, c.name]));
    const filters = el("form", { class: "controls", id: "delivery-filters", onchange: (e) => {
      const f = e.currentTarget;
      location.hash = "#/alerts?" + [["channel", f.channel.value], ["status", f.status.value]].filter(([, v]) => v).map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join("&");
    } },
      el("label", {}, "Channel", el("select", { name: "channel" }, el("option", { value: "", text: "Any" }), ...channels.items.map((c) => el("option", { value: c.id, selected: c.id === channelFilter }, c.name)))),
      el("label", {}, "Status", el("select", { name: "status" }, el("option", { value: "", text: "Any" }), ...["pending", "delivered", "failed", "silenced"].map((v) => el("option", { value: v, selected: v === statusFilter }, v)))));
    const log = el("table", { id: "deliveries" }, el("thead", {}, el("tr", {}, el("th", { text: "Created" }), el("th", { text: "Channel" }), el("th", { text: "Alert" }), el("th", { text: "Status" }), el("th", { text: "Attempts" }), el("th", { class: "hide-sm", text: "Last result" }), el("th", { class: "hide-sm", text: "Next attempt" }))),
      el("tbody", {}, ...deliveries.items.map((d) => el("tr", {}, el("td", { text: when(d.createdAt) }), el("td", { text: names[d.channelId] || d.channelId }),
        el("td", {}, d.anomalyId ? el("a", { href: `#/anomaly/${encodeURIComponent(d.anomalyId)}`, text: (d.alertType || "anomaly.detected").replace("anomaly.", "") }) : (d.alertType || "—")),
        el("td", { text: d.status }), el("td", { text: d.attempts }),
        el("td", { class: "hide-sm", text: d.lastError || (d.lastStatusCode ? `HTTP ${d.lastStatusCode}` : "—") }), el("td", { class: "hide-sm", text: when(d.nextAttemptAt) })))));
    render(token, "Alerts", el("section", { class: "panel" }, el("h2", { text: "Channels" }), table, el("h3", { text: "Add a channel" }), form, message),
      silencePanel(silences.items, detectorList, () => alerts(params)),
      el("section", { class: "panel" }, el("h2", { text: "Deliveries" }), filters, deliveries.items.length ? log : el("p", { class: "muted", text: channelFilter || statusFilter ? "No deliveries match." : "Nothing sent yet." })));
  }

  // Silences hold alerts during planned work; what is still open when one ends is sent then.
  function silencePanel(silences, detectorList, reload) {
    const message = el("div", { "aria-live": "polite" });
    const span = (s) => s.state === "active" ? `until ${when(s.endsAt)}` : s.state === "pending" ? `${when(s.startsAt)} to ${when(s.endsAt)}` : `ended ${when(s.endsAt)}`;
    const shown = silences.filter((s) => s.state !== "expired").concat(silences.filter((s) => s.state === "expired").slice(0, 5));
    const table = shown.length
      ? el("table", { id: "silences" }, el("thead", {}, el("tr", {}, el("th", { text: "State" }), el("th", { text: "When" }), el("th", { text: "Detectors" }), el("th", { class: "hide-sm", text: "Why" }), el("th", { text: "Actions" }))),
          el("tbody", {}, ...shown.map((s) => el("tr", { id: `silence-${s.id}` }, el("td", { text: s.state }), el("td", { text: span(s) }),
            el("td", { text: (s.detectors ? s.detectors.join(", ") : "all") + (s.maxSeverity ? ` (up to ${s.maxSeverity})` : "") }), el("td", { class: "hide-sm", text: s.createdBy ? `${s.comment} (${s.createdBy})` : s.comment }),
            el("td", {}, s.state === "expired" ? "—" : el("button", { type: "button", class: "secondary", text: "End now", "aria-label": `End now: ${s.comment}`, onclick: async () => {
              try { await api(`/api/v1/alert-silences/${s.id}`, { method: "DELETE" }); await reload(); }
              catch (err) { message.replaceChildren(alertBox("error", err.message)); }
            } }))))))
      : el("p", { class: "muted", text: "No silences: every alert goes out as it is raised." });
    const form = el("form", { class: "controls", id: "silence-form", onsubmit: async (e) => {
      e.preventDefault();
      const f = e.currentTarget;
      const chosen = [...f.detectors.selectedOptions].map((o) => o.value);
      try {
        await api("/api/v1/alert-silences", { method: "POST", body: { durationMinutes: Number(f.duration.value), detectors: chosen.length ? chosen : undefined, maxSeverity: f.maxSeverity.value || undefined, comment: f.comment.value, createdBy: f.createdBy.value || undefined } });
        await reload();
      } catch (err) { message.replaceChildren(alertBox("error", err.message)); }
    } },
      el("label", {}, "For", el("select", { name: "duration" }, ...[[60, "1 hour"], [240, "4 hours"], [1440, "1 day"], [4320, "3 days"], [10080, "7 days"]].map(([v, t]) => el("option", { value: v }, t)))),
      el("label", {}, "Detectors (none chosen: all)", el("select", { name: "detectors", multiple: true, size: 4 }, ...detectorList.map((d) => el("option", { value: d.name }, d.name)))),
      el("label", {}, "Severities", el("select", { name: "maxSeverity" }, el("option", { value: "" }, "all"), ...["low", "medium", "high"].map((v) => el("option", { value: v }, `up to ${v}`)))),
      el("label", {}, "Why", el("input", { name: "comment", required: true, maxlength: 200, placeholder: "Moving the webhook endpoint" })),
      el("label", {}, "Who", el("input", { name: "createdBy", maxlength: 200 })),
      el("button", { type: "submit", text: "Silence alerts" }));
    return el("section", { class: "panel" }, el("h2", { text: "Silences" }),
      el("p", { class: "muted", text: "While a silence matches, anomalies are still raised and listed but their alerts are held (logged as silenced); what is still open when it ends is sent then." }),
      table, el("h3", { text: "Silence alerts for a while" }), form, message);
  }

  // ---------------------------------------------------------------- revenue
  const MOVEMENTS = [["new", "New", "#16a34a"], ["expansion", "Expansion", "#2563eb"], ["reactivation", "Reactivation", "#7c3aed"], ["contraction", "Contraction", "#f59e0b"], ["churn", "Churn", "#dc2626"]];
  const percent = (v) => v === null || v === undefined ? "—" : `${(v * 100).toFixed(1)} %`;

  // MRR as a line (left axis) and its movements as stacked bars (right axis: gains up, losses down) on one dated axis, with revenue
  // incidents shaded. Each bar series draws the running total of the movements up to it, the largest first,
  // so every movement shows as its own segment; hover shows each movement's own amount.
  function mrrChart(target, series, currency, spans) {
    const fmt = (v) => money(v, currency);
    const stack = (keys) => {
      const running = series.points.map(() => 0);
      return keys.map((key) => {
        const own = series.points.map((p) => p[key]);
        own.forEach((v, i) => { running[i] += v; });
        return { key, own, total: [...running] };
      }).reverse();
    };
    const up = stack(["existing", "new", "expansion", "reactivation"]), down = stack(["contraction", "churn"]);
    const movement = (key) => key === "existing" ? ["existing", "Existing", "#94a3b8"] : MOVEMENTS.find(([k]) => k === key);
    return timeChart(target, { label: `MRR and its movements in ${currency.toUpperCase()}`, height: 300, dateOnly: true, spans,
      xs: series.points.map((p) => Date.parse(p.start) / 1000), yFormat: (v) => (v / 100).toLocaleString(),
      series: [
        { label: "MRR", kind: "line", color: "#111827", values: series.points.map((p) => p.mrr), format: fmt },
        ...[...up, ...down].map(({ key, own, total }) => ({ label: movement(key)[1], kind: "bars", color: movement(key)[2], values: total, own, format: fmt, scale: "movements" })),
      ] });
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
      const chart = el("div", { class: "mrr-chart chart-slot" });
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
    const conversion = data.conversion;
    if (conversion?.total) {
      const t = conversion.total, cur = conversion.currency;
      const chart = el("div", { class: "mrr-chart chart-slot" });
      sections.unshift({ chart, c: t, section: el("section", { class: "panel", id: "mrr-converted" },
        el("h2", { text: `All currencies in ${cur.toUpperCase()} (static rates)` }),
        el("p", { class: "muted", text: `Rates: ${Object.entries(conversion.rates).map(([c, r]) => `1 ${c.toUpperCase()} = ${r} ${cur.toUpperCase()}`).join(" · ")}${conversion.unconverted.length ? ` · left out (no rate): ${conversion.unconverted.join(", ").toUpperCase()}` : ""}` }),
        el("div", { class: "cards" },
          el("div", { class: "card" }, el("div", { class: "label", text: "MRR" }), el("div", { class: "value", text: money(t.summary.endMrr, cur) })),
          el("div", { class: "card" }, el("div", { class: "label", text: "Net new MRR" }), el("div", { class: "value", text: money(t.summary.netNewMrr, cur) }))),
        chart) });
    }
    render(token, "Revenue", controls, note, el("p", { class: "muted", text: conversion ? "Each currency in its own units; the converted total uses the deployment's static rates. Definitions: docs/METRICS.md." : "Amounts per currency, never converted. Definitions: docs/METRICS.md." }), ...sections.map((x) => x.section));
    if (token !== current) return;
    const incidents = await api(`/api/v1/anomalies?since=${encodeURIComponent(from)}&livemode=${mode === "live"}&limit=500`).catch(() => ({ items: [] }));
    if (token !== current) return;
    const spans = incidentSpans(incidents.items.filter((a) => ["churn_spike", "revenue_drop", "subscription_lapse", "invoice_failure_spike"].includes(a.detector)));
    for (const { chart, c } of sections) mrrChart(chart, c, c.currency, spans);
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
      else if (path === "/alerts") await alerts(params);
      else if (path === "/stripe") await stripeSync();
      else if (path === "/revenue") await revenue(params);
      else if (path === "/events") await eventsPage(params);
      else if (path === "/webhooks") await webhooks(params);
      else if (path === "/imports") await imports();
      else await overview(params);
    } catch (err) {
      render(token, "Something went wrong", alertBox("error", err.message));
    }
  }

  document.getElementById("signout").addEventListener("click", signOut);
  window.addEventListener("hashchange", route);
  route();
})();
