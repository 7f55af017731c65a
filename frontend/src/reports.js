// The reports view for managers: SLA figures over a date range, charts over time or a table by
// group, and a week-by-hour heatmap of what came in. Its state lives in `state.reports`.
import { Component, createRef } from "/static/vendor/preact.js";
import { signOut } from "./actions.js";
import { api } from "./api.js";
import { html } from "./html.js";
import { errorText, t } from "./i18n.js";
import { state, update } from "./store.js";

const REPORT_ROLES = new Set(["manager", "admin"]);
const GROUPS = ["day", "week", "agent", "channel", "kind", "sentiment", "tag", "team"];
const TIME_GROUPS = new Set(["day", "week"]);
const CLOCKS = ["business", "wall"];
const DEFAULT_DAYS = 30;
const DAY_MS = 86_400_000;
const CHART_HEIGHT = 240;
const HEAT_LEVELS = 5;
// Steps the duration axis may use, so its ticks read "15 min", "30 min", "1 h 00"…
const DURATION_STEPS = [
  1, 5, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800,
  432000, 864000,
];
const COUNT_STEPS = [1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10000];
const INDEX_STEPS = [1, 2, 3, 4, 7, 14, 28, 56, 91, 182];
const COLORS = { median: "#2f6fdf", p90: "#d97706", inbound: "#2f6fdf", outbound: "#1e7d4f" };

let loadSeq = 0;
let chartLibrary = null;

// ---- state and loading ------------------------------------------------------------------

/** Whether this person may see the reports (the API refuses agents). */
export function canSeeReports(user) {
  return !!user && REPORT_ROLES.has(user.role);
}

/** Whether the reports view, rather than the inbox, is what the page shows now. */
export function reportsShown(current) {
  const reports = current.reports;
  return !!reports && reports.open && reports.user === current.user && canSeeReports(current.user);
}

export function openReports() {
  // A new sign-in is a new user object: its reports start from the defaults.
  const known = state.reports && state.reports.user === state.user ? state.reports : null;
  update({ reports: { ...(known || defaults(state.user)), open: true } });
  loadReports();
}

export function closeReports() {
  loadSeq += 1; // an answer still on its way is no longer wanted
  if (state.reports) update({ reports: { ...state.reports, open: false, loading: false } });
}

function defaults(user) {
  const to = isoDay(Date.now(), user.timezone);
  return {
    user,
    open: false,
    from: shiftDay(to, -(DEFAULT_DAYS - 1)),
    to,
    groupBy: "day",
    clock: "business",
    loading: false,
    error: null,
    sla: null,
    heatmap: null,
  };
}

/** Today (or any instant) as YYYY-MM-DD in the user's timezone. */
function isoDay(ms, timeZone) {
  const options = { year: "numeric", month: "2-digit", day: "2-digit" };
  try {
    return new Intl.DateTimeFormat("en-CA", { ...options, timeZone }).format(new Date(ms));
  } catch {
    return new Intl.DateTimeFormat("en-CA", options).format(new Date(ms));
  }
}

function shiftDay(day, days) {
  return new Date(Date.parse(`${day}T00:00:00Z`) + days * DAY_MS).toISOString().slice(0, 10);
}

function setReports(changes) {
  update({ reports: { ...state.reports, ...changes } });
}

function changeFilter(changes) {
  setReports(changes);
  loadReports();
}

function slaQuery(reports, extra = {}) {
  const { from, to, groupBy, clock } = reports;
  return new URLSearchParams({ from, to, group_by: groupBy, clock, ...extra }).toString();
}

/** Fetch the figures for the chosen filters; only the latest request's answer is shown. */
export async function loadReports() {
  const reports = state.reports;
  if (!reports || !reports.open) return;
  const seq = ++loadSeq;
  if (!reports.from || !reports.to || reports.from > reports.to) {
    setReports({ loading: false, error: t("reports.badRange"), sla: null, heatmap: null });
    return;
  }
  setReports({ loading: true, error: null });
  const range = new URLSearchParams({ from: reports.from, to: reports.to }).toString();
  try {
    const [sla, heatmap] = await Promise.all([
      api.get("/api/reports/sla", slaQuery(reports)),
      api.get("/api/reports/heatmap", range),
    ]);
    if (seq === loadSeq) setReports({ loading: false, sla, heatmap });
  } catch (err) {
    if (seq !== loadSeq) return;
    if (err.status === 401) {
      signOut();
      return;
    }
    setReports({ loading: false, error: errorText(err), sla: null, heatmap: null });
  }
}

// ---- formatting -------------------------------------------------------------------------

function lang() {
  return document.documentElement.lang || "fr";
}

function formatCount(value) {
  return value == null ? "—" : new Intl.NumberFormat(lang()).format(value);
}

function formatShare(value) {
  if (value == null) return "—";
  return new Intl.NumberFormat(lang(), { style: "percent", maximumFractionDigits: 1 }).format(value);
}

/** A duration in seconds the way people say it: "42 min", "1 h 05", "2 j 3 h". */
export function formatDuration(seconds) {
  if (seconds == null || !Number.isFinite(seconds)) return "—";
  const whole = Math.max(0, Math.round(seconds));
  if (whole < 60) return t("dur.seconds", { n: whole });
  const minutes = Math.round(whole / 60);
  if (minutes < 60) return t("dur.minutes", { n: minutes });
  if (minutes < 24 * 60) {
    const m = String(minutes % 60).padStart(2, "0");
    return t("dur.hours", { h: Math.floor(minutes / 60), m });
  }
  const hours = Math.round(minutes / 60);
  return t("dur.days", { d: Math.floor(hours / 24), h: hours % 24 });
}

function formatDay(day, options = { day: "numeric", month: "short" }) {
  const ms = Date.parse(`${day}T00:00:00Z`);
  if (Number.isNaN(ms)) return day;
  return new Intl.DateTimeFormat(lang(), { ...options, timeZone: "UTC" }).format(new Date(ms));
}

/** The short label of a period on the time axis ("3 nov.", "Sem. 45"). */
function periodLabel(group) {
  const text = String(group ?? "");
  const week = /^\d{4}-W(\d{1,2})$/.exec(text);
  if (week) return t("reports.weekNumber", { n: Number(week[1]) });
  return /^\d{4}-\d{2}-\d{2}/.test(text) ? formatDay(text.slice(0, 10)) : text;
}

/** A group's name as shown: periods as dates, kinds translated, the rest as the server said. */
function groupLabel(group, groupBy) {
  if (group == null || group === "") return t("reports.none");
  if (groupBy === "week" && /^\d{4}-\d{2}-\d{2}/.test(group)) {
    return t("reports.weekOf", { date: formatDay(group.slice(0, 10)) });
  }
  if (TIME_GROUPS.has(groupBy)) return periodLabel(group);
  if (groupBy === "kind" || groupBy === "sentiment") {
    const key = `${groupBy === "kind" ? "kind" : "reports.sentiment"}.${group}`;
    const name = t(key);
    return name === key ? String(group) : name;
  }
  return String(group);
}

function weekdayNames(style) {
  // 2024-01-01 was a Monday: the API's weekday 0.
  const format = new Intl.DateTimeFormat(lang(), { weekday: style, timeZone: "UTC" });
  return Array.from({ length: 7 }, (_, day) => format.format(new Date(Date.UTC(2024, 0, 1 + day))));
}

// ---- charts -----------------------------------------------------------------------------

/** uPlot, its module and stylesheet loaded the first time a chart is drawn. */
function loadChartLibrary() {
  if (!chartLibrary) {
    if (!document.querySelector("link[data-vendor=uplot]")) {
      const link = document.createElement("link");
      link.rel = "stylesheet";
      link.href = "/static/vendor/uPlot.css";
      link.dataset.vendor = "uplot";
      document.head.append(link);
    }
    chartLibrary = import("/static/vendor/uPlot.js").then((module) => module.default);
    chartLibrary.catch(() => {
      chartLibrary = null; // try again next time
    });
  }
  return chartLibrary;
}

/** One uPlot chart, drawn again only when its source data changes; follows its box's width. */
class Chart extends Component {
  box = createRef();

  componentDidMount() {
    this.draw();
    this.observer = new ResizeObserver(() => this.fit());
    this.observer.observe(this.box.current);
  }

  componentDidUpdate(previous) {
    if (previous.source !== this.props.source || previous.build !== this.props.build) this.draw();
  }

  componentWillUnmount() {
    this.gone = true;
    this.observer.disconnect();
    if (this.plot) this.plot.destroy();
  }

  async draw() {
    let UPlot;
    try {
      UPlot = await loadChartLibrary();
    } catch {
      if (!this.gone) this.setState({ failed: true });
      return;
    }
    if (this.gone) return;
    if (this.plot) this.plot.destroy();
    const { options, data } = this.props.build(this.props.source, UPlot);
    const width = Math.max(this.box.current.clientWidth, 200);
    this.plot = new UPlot({ ...options, width, height: CHART_HEIGHT }, data, this.box.current);
    if (this.state.failed) this.setState({ failed: false });
  }

  fit() {
    const width = this.box.current && this.box.current.clientWidth;
    if (this.plot && width && Math.abs(width - this.plot.width) > 1) {
      this.plot.setSize({ width, height: CHART_HEIGHT });
    }
  }

  render({ title, testid }, { failed }) {
    return html`
      <figure class="chart-panel">
        <figcaption>${title}</figcaption>
        ${failed && html`<p class="form-error" role="alert">${t("reports.chart.failed")}</p>`}
        <div class="chart" ref=${this.box} data-testid=${testid}></div>
      </figure>
    `;
  }
}

function axisStyle(extra) {
  return {
    stroke: "#5f6b76",
    font: "12px system-ui, sans-serif",
    grid: { stroke: "#eceef1", width: 1 },
    ticks: { stroke: "#e2e5e9", width: 1, size: 4 },
    ...extra,
  };
}

/** The x axis for periods: one slot per row, labelled with the period, never in between. */
function periodAxis(labels) {
  return {
    scale: { time: false, range: (u, min, max) => [(min ?? 0) - 0.5, (max ?? 0) + 0.5] },
    axis: axisStyle({
      incrs: INDEX_STEPS,
      grid: { show: false },
      values: (u, splits) => splits.map((v) => (Number.isInteger(v) ? (labels[v] ?? "") : "")),
    }),
    series: { label: t("reports.period"), value: (u, v) => (v == null ? "—" : (labels[v] ?? "")) },
  };
}

function fromZero(u, min, max) {
  return [0, max > 0 ? max * 1.1 : 1];
}

function responseChart(sla) {
  const rows = sla.rows || [];
  const labels = rows.map((row) => periodLabel(row.group));
  const x = periodAxis(labels);
  const measure = (row, key) => (row.first_response ? row.first_response[key] : null);
  const line = (label, stroke, extra = {}) => ({
    label,
    stroke,
    width: 2,
    points: { show: true, size: 5, fill: stroke },
    value: (u, v) => formatDuration(v),
    ...extra,
  });
  return {
    options: {
      scales: {
        x: x.scale,
        y: { range: (u, min, max) => [0, max > 0 ? max * 1.1 : 3600] },
      },
      axes: [
        x.axis,
        axisStyle({ incrs: DURATION_STEPS, size: 64, values: (u, s) => s.map(formatDuration) }),
      ],
      series: [
        x.series,
        line(t("reports.median"), COLORS.median),
        line(t("reports.p90"), COLORS.p90, { dash: [6, 4] }),
      ],
    },
    data: [
      rows.map((_, i) => i),
      rows.map((row) => measure(row, "median")),
      rows.map((row) => measure(row, "p90")),
    ],
  };
}

function volumeChart(sla, UPlot) {
  const rows = sla.rows || [];
  const x = periodAxis(rows.map((row) => periodLabel(row.group)));
  const bar = (label, color, align) => ({
    label,
    stroke: color,
    fill: `${color}bf`,
    width: 0, // no outline: an empty day draws nothing rather than a hairline
    points: { show: false },
    paths: UPlot.paths.bars({ size: [0.36, 48], align }),
    value: (u, v) => formatCount(v),
  });
  return {
    options: {
      scales: { x: x.scale, y: { range: fromZero } },
      axes: [
        x.axis,
        axisStyle({ incrs: COUNT_STEPS, size: 48, values: (u, s) => s.map(formatCount) }),
      ],
      series: [
        x.series,
        bar(t("reports.inbound"), COLORS.inbound, -1),
        bar(t("reports.outbound"), COLORS.outbound, 1),
      ],
    },
    data: [rows.map((_, i) => i), rows.map((row) => row.inbound), rows.map((row) => row.outbound)],
  };
}

// ---- the view ---------------------------------------------------------------------------

function Filters({ reports }) {
  const csv = `/api/reports/sla?${slaQuery(reports, { format: "csv" })}`;
  // Uncontrolled date fields: a re-render (live events, the clock) never undoes half a date.
  const onDate = (field) => (event) => changeFilter({ [field]: event.currentTarget.value });
  return html`
    <form class="reports-bar" onSubmit=${(event) => event.preventDefault()}>
      <label>
        <span>${t("reports.from")}</span>
        <input type="date" defaultValue=${reports.from} max=${reports.to} required
          data-testid="reports-from" onChange=${onDate("from")} />
      </label>
      <label>
        <span>${t("reports.to")}</span>
        <input type="date" defaultValue=${reports.to} min=${reports.from} required
          data-testid="reports-to" onChange=${onDate("to")} />
      </label>
      <label>
        <span>${t("reports.groupBy")}</span>
        <select value=${reports.groupBy} data-testid="reports-group"
          onChange=${(event) => changeFilter({ groupBy: event.currentTarget.value })}>
          ${GROUPS.map((g) => html`<option key=${g} value=${g}>${t(`reports.group.${g}`)}</option>`)}
        </select>
      </label>
      <label>
        <span>${t("reports.clock")}</span>
        <select value=${reports.clock} data-testid="reports-clock"
          onChange=${(event) => changeFilter({ clock: event.currentTarget.value })}>
          ${CLOCKS.map((c) => html`<option key=${c} value=${c}>${t(`reports.clock.${c}`)}</option>`)}
        </select>
      </label>
      <span class="spacer"></span>
      <a class="button-link" href=${csv} download data-testid="reports-csv">${t("reports.export")}</a>
    </form>
  `;
}

function Card({ id, label, value, hint }) {
  return html`
    <div class="card" data-testid=${`card-${id}`}>
      <span class="card-label">${label}</span>
      <strong class="card-value" data-testid=${`card-${id}-value`}>${value}</strong>
      ${hint && html`<span class="card-hint">${hint}</span>`}
    </div>
  `;
}

function Summary({ totals }) {
  const first = totals.first_response || {};
  const next = totals.next_response || {};
  const resolution = totals.resolution || {};
  const breaches = (first.breaches || 0) + (next.breaches || 0) + (resolution.breaches || 0);
  const measured = (measure) => (measure.count ? t("reports.card.measured", { n: measure.count }) : null);
  return html`
    <section class="cards" data-testid="reports-summary">
      <${Card} id="first-median" label=${t("reports.card.firstMedian")}
        value=${formatDuration(first.median)} hint=${measured(first)} />
      <${Card} id="first-p90" label=${t("reports.card.firstP90")}
        value=${formatDuration(first.p90)} />
      <${Card} id="within-target" label=${t("reports.card.withinTarget")}
        value=${formatShare(first.within_target)}
        hint=${first.within_target == null && first.count ? t("reports.card.noTarget") : null} />
      <${Card} id="breaches" label=${t("reports.card.breaches")} value=${formatCount(breaches)}
        hint=${t("reports.card.breachesHint", {
          first: formatCount(first.breaches || 0),
          next: formatCount(next.breaches || 0),
          resolution: formatCount(resolution.breaches || 0),
        })} />
      <${Card} id="inbound" label=${t("reports.card.inbound")} value=${formatCount(totals.inbound)} />
      <${Card} id="outbound" label=${t("reports.card.outbound")}
        value=${formatCount(totals.outbound)} />
      <${Card} id="response-rate" label=${t("reports.card.responseRate")}
        value=${formatShare(totals.response_rate)} />
      <${Card} id="next-median" label=${t("reports.card.nextMedian")}
        value=${formatDuration(next.median)} hint=${measured(next)} />
      <${Card} id="resolution-median" label=${t("reports.card.resolutionMedian")}
        value=${formatDuration(resolution.median)} hint=${measured(resolution)} />
    </section>
  `;
}

function byVolume(a, b) {
  return (
    (b.inbound || 0) - (a.inbound || 0) ||
    (b.outbound || 0) - (a.outbound || 0) ||
    String(a.group ?? "").localeCompare(String(b.group ?? ""))
  );
}

function GroupTable({ rows, groupBy }) {
  const cell = (measure, key, format) => format(measure ? measure[key] : null);
  return html`
    <div class="table-wrap">
      <table class="report-table" data-testid="reports-table">
        <thead>
          <tr>
            <th scope="col">${t(`reports.group.${groupBy}`)}</th>
            <th scope="col" class="num">${t("reports.col.inbound")}</th>
            <th scope="col" class="num">${t("reports.col.outbound")}</th>
            <th scope="col" class="num">${t("reports.col.responseRate")}</th>
            <th scope="col" class="num">${t("reports.col.firstMedian")}</th>
            <th scope="col" class="num">${t("reports.col.firstP90")}</th>
            <th scope="col" class="num">${t("reports.col.withinTarget")}</th>
            <th scope="col" class="num">${t("reports.col.breaches")}</th>
            <th scope="col" class="num">${t("reports.col.resolutionMedian")}</th>
          </tr>
        </thead>
        <tbody>
          ${rows.map(
            (row, i) => html`
              <tr key=${`${row.group_id ?? ""}:${row.group ?? ""}:${i}`} data-testid="reports-row">
                <th scope="row" class="group-name">${groupLabel(row.group, groupBy)}</th>
                <td class="num">${formatCount(row.inbound)}</td>
                <td class="num">${formatCount(row.outbound)}</td>
                <td class="num">${formatShare(row.response_rate)}</td>
                <td class="num">${cell(row.first_response, "median", formatDuration)}</td>
                <td class="num">${cell(row.first_response, "p90", formatDuration)}</td>
                <td class="num">${cell(row.first_response, "within_target", formatShare)}</td>
                <td class="num">${cell(row.first_response, "breaches", formatCount)}</td>
                <td class="num">${cell(row.resolution, "median", formatDuration)}</td>
              </tr>
            `,
          )}
        </tbody>
      </table>
    </div>
  `;
}

function Breakdown({ sla }) {
  const groupBy = sla.group_by;
  const rows = sla.rows || [];
  if (TIME_GROUPS.has(groupBy)) {
    return html`
      <section class="charts">
        <${Chart} title=${t("reports.chart.firstResponse")} testid="chart-first-response"
          source=${sla} build=${responseChart} />
        <${Chart} title=${t("reports.chart.volume")} testid="chart-volume" source=${sla}
          build=${volumeChart} />
      </section>
      ${rows.length > 0 &&
      html`<details class="report-details">
        <summary>${t("reports.table.data")}</summary>
        <${GroupTable} rows=${rows} groupBy=${groupBy} />
      </details>`}
    `;
  }
  const group = t(`reports.group.${groupBy}`).toLocaleLowerCase(lang());
  return html`
    <section class="report-section">
      <h3>${t("reports.table.title", { group })}</h3>
      ${rows.length
        ? html`<${GroupTable} rows=${[...rows].sort(byVolume)} groupBy=${groupBy} />`
        : html`<p class="empty">${t("reports.empty")}</p>`}
    </section>
  `;
}

function Heatmap({ heatmap }) {
  const counts = Array.from({ length: 7 }, () => new Array(24).fill(0));
  for (const [day, hour, count] of heatmap.cells || []) {
    if (counts[day] && hour >= 0 && hour < 24) counts[day][hour] = Number(count) || 0;
  }
  const max = Math.max(0, ...counts.flat());
  const level = (count) => (count > 0 ? Math.max(1, Math.ceil((count / max) * HEAT_LEVELS)) : 0);
  const short = weekdayNames("short");
  const long = weekdayNames("long");
  const hours = Array.from({ length: 24 }, (_, hour) => hour);
  return html`
    <section class="report-section heatmap-panel">
      <h3>${t("reports.heatmap.title")}</h3>
      <div class="heatmap" role="table" data-testid="heatmap">
        <div class="heat-row" role="row">
          <span class="heat-corner" role="columnheader"></span>
          ${hours.map(
            (hour) => html`<span key=${hour} class="heat-hour" role="columnheader">
              ${hour % 3 === 0 ? String(hour).padStart(2, "0") : ""}
            </span>`,
          )}
        </div>
        ${counts.map(
          (row, day) => html`
            <div key=${day} class="heat-row" role="row">
              <span class="heat-day" role="rowheader" title=${long[day]}>${short[day]}</span>
              ${row.map((count, hour) => {
                const label = t("reports.heatmap.cell", {
                  day: long[day],
                  hour: String(hour).padStart(2, "0"),
                  n: count,
                });
                return html`<span key=${hour} role="cell" class=${`heat-cell heat-${level(count)}`}
                  title=${label} aria-label=${label} data-testid="heatmap-cell" data-day=${day}
                  data-hour=${hour} data-count=${count}></span>`;
              })}
            </div>
          `,
        )}
      </div>
      <p class="heat-legend">
        <span>${t("reports.heatmap.less")}</span>
        ${[0, 1, 2, 3, 4, 5].map((n) => html`<span key=${n} class=${`heat-cell heat-${n}`}></span>`)}
        <span>${t("reports.heatmap.more")}</span>
        ${heatmap.timezone &&
        html`<span class="heat-zone">${t("reports.timezone", { zone: heatmap.timezone })}</span>`}
      </p>
    </section>
  `;
}

function isQuiet(sla) {
  const totals = sla.totals || {};
  return !totals.inbound && !totals.outbound && !(totals.first_response || {}).count;
}

export function ReportsView({ state: current }) {
  const reports = current.reports;
  const { sla, heatmap, loading, error } = reports;
  return html`
    <main class=${loading ? "reports is-loading" : "reports"} data-testid="reports-view"
      aria-busy=${loading ? "true" : "false"}>
      <header class="reports-head">
        <h2>${t("reports.title")}</h2>
        ${sla &&
        sla.timezone &&
        html`<span class="reports-zone">${t("reports.timezone", { zone: sla.timezone })}</span>`}
      </header>
      <${Filters} reports=${reports} />
      ${error && html`<p class="form-error banner" role="alert" data-testid="reports-error">${error}</p>`}
      ${loading &&
      html`<p class="reports-loading" role="status" data-testid="reports-loading">
        ${t("reports.loading")}
      </p>`}
      ${sla &&
      html`
        <div class="reports-body">
          <${Summary} totals=${sla.totals || {}} />
          ${isQuiet(sla) && html`<p class="empty" data-testid="reports-empty">${t("reports.empty")}</p>`}
          <${Breakdown} sla=${sla} />
          ${heatmap && html`<${Heatmap} heatmap=${heatmap} />`}
        </div>
      `}
    </main>
  `;
}
