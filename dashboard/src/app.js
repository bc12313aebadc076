// SkySep operations dashboard: one party's live picture, alerts, hotline and incidents.
// Static page; every piece of data comes from the service's authenticated API.
import "leaflet/dist/leaflet.css";
import "./app.css";
import { Api, ApiError } from "./api.js";
import { Hotline } from "./hotline.js";
import { LANGUAGES, language, languageName, num, setLanguage, t, translatePage } from "./i18n.js";
import { TrafficMap } from "./map.js";

const TOKEN_KEY = "skysep.token";
const LANGUAGE_KEY = "skysep.language";
const SOUND_KEY = "skysep.sound";
const LEVELS = ["warning", "caution", "advisory"];
const INCIDENT_REFRESH_MS = 15000;
const OPERATIONS_KEY = "skysep.operations";

const $ = (selector) => document.querySelector(selector);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null) continue;
    if (name === "dataset") Object.assign(node.dataset, value);
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value);
  }
  for (const child of children) {
    if (child !== null && child !== undefined) node.append(child);
  }
  return node;
}

function epoch(iso) {
  return iso ? Date.parse(iso) / 1000 : null;
}

function utc(iso) {
  return iso ? `${iso.slice(0, 19).replace("T", " ")}Z` : "";
}

// --- sign in: the token comes in the URL's fragment (never sent to the server) or the form --

function takeTokenFromFragment() {
  const params = new URLSearchParams(window.location.hash.slice(1));
  const token = params.get("token");
  if (token) {
    sessionStorage.setItem(TOKEN_KEY, token);
    history.replaceState(null, "", window.location.pathname + window.location.search);
  }
  return sessionStorage.getItem(TOKEN_KEY);
}

function pickLanguage(partyLanguage) {
  const chosen = localStorage.getItem(LANGUAGE_KEY) || partyLanguage || "en";
  setLanguage(LANGUAGES.includes(chosen) ? chosen : "en");
}

function showLogin(message) {
  pickLanguage(null);
  $("#app").hidden = true;
  $("#login").hidden = false;
  translatePage();
  $("#login-error").textContent = message || "";
  $("#login-form").onsubmit = (event) => {
    event.preventDefault();
    const token = $("#login-token").value.trim();
    if (!token) return;
    sessionStorage.setItem(TOKEN_KEY, token);
    start(token);
  };
}

// --- the audible and visible cue on a new warning ------------------------------------------

class Cue {
  constructor() {
    this.context = null;
    this.enabled = localStorage.getItem(SOUND_KEY) !== "off";
    this.count = 0;
    // Browsers let a page play sound only after the user has interacted with it.
    const unlock = () => {
      this.audio();
      if (this.context && this.context.state === "suspended") this.context.resume();
    };
    document.addEventListener("pointerdown", unlock);
    document.addEventListener("keydown", unlock);
  }

  audio() {
    if (!this.context) {
      const Context = window.AudioContext || window.webkitAudioContext;
      if (Context) this.context = new Context();
    }
    return this.context;
  }

  beep() {
    const ctx = this.enabled ? this.audio() : null;
    if (!ctx) return;
    const start = ctx.currentTime;
    for (const [offset, frequency] of [
      [0, 880],
      [0.22, 660],
      [0.44, 880],
    ]) {
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      osc.type = "square";
      osc.frequency.value = frequency;
      gain.gain.setValueAtTime(0.0001, start + offset);
      gain.gain.exponentialRampToValueAtTime(0.15, start + offset + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, start + offset + 0.18);
      osc.connect(gain).connect(ctx.destination);
      osc.start(start + offset);
      osc.stop(start + offset + 0.2);
    }
  }

  warn(alert) {
    this.count += 1;
    document.body.dataset.warningCues = String(this.count);
    const banner = $("#cue");
    banner.textContent = t("cue.warning", { own: alert.own_aircraft, other: alert.other_aircraft });
    banner.hidden = false;
    banner.classList.remove("flash");
    void banner.offsetWidth; // restart the animation
    banner.classList.add("flash");
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      banner.hidden = true;
    }, 10000);
    this.beep();
  }
}

// --- the dashboard ----------------------------------------------------------------------

class Dashboard {
  constructor(api, me) {
    this.api = api;
    this.me = me;
    this.alerts = new Map(); // pair -> latest event (not resolved)
    this.lastAlertId = 0;
    this.serviceTime = null; // epoch s of the last cycle
    this.traffic = [];
    this.incidents = [];
    this.operations = [];
    this.notices = new Map(); // conflict id -> latest notice (withdrawn ones removed)
    this.lastNoticeId = 0;
    this.volumeAlerts = new Map(); // alert key -> latest event (resolved ones removed)
    this.lastVolumeAlertId = 0;
    this.cue = new Cue();
    this.map = new TrafficMap($("#map"), me.party);
    this.hotline = new Hotline(api, me, $("#hotline-body"), { el, t, utc });
    this.socket = null;
    this.retryMs = 1000;
    this.flashing = new Set();
  }

  async start() {
    this.renderHeader();
    this.map.loadBasemap("countries-50m.json").catch((error) => console.error(error));
    const traffic = await this.api.get("/v1/traffic");
    this.onTraffic(traffic);
    const now = this.serviceTime ?? Date.now() / 1000;
    const since = encodeURIComponent(new Date((now - 1800) * 1000).toISOString());
    const history = await this.api.get(`/v1/alerts?since=${since}&limit=10000`);
    for (const alert of history) this.onAlert(alert, false);
    this.renderAlerts();
    await this.refreshIncidents();
    await this.loadOperationsLayer();
    setInterval(() => {
      this.refreshIncidents();
      this.refreshOperations();
    }, INCIDENT_REFRESH_MS);
    this.hotline.start();
    this.connect();
  }

  renderHeader() {
    $("#party").textContent = t("party", { name: this.me.name, id: this.me.party });
    const select = $("#language");
    select.replaceChildren(
      ...LANGUAGES.map((code) =>
        el("option", { value: code, ...(code === language() ? { selected: "" } : {}) }, languageName(code)),
      ),
    );
    select.onchange = () => this.switchLanguage(select.value);
    $("#logout").onclick = () => {
      sessionStorage.removeItem(TOKEN_KEY);
      window.location.reload();
    };
    const sound = $("#sound");
    const showSound = () => {
      sound.textContent = this.cue.enabled ? t("sound.on") : t("sound.off");
      sound.setAttribute("aria-pressed", String(this.cue.enabled));
    };
    sound.onclick = () => {
      this.cue.enabled = !this.cue.enabled;
      localStorage.setItem(SOUND_KEY, this.cue.enabled ? "on" : "off");
      showSound();
    };
    this.showSound = showSound;
    showSound();
  }

  switchLanguage(code) {
    localStorage.setItem(LANGUAGE_KEY, code);
    setLanguage(code);
    translatePage();
    this.renderHeader();
    this.setStatus(this.status || "connecting");
    this.map.translate();
    this.renderTraffic();
    this.renderAlerts();
    this.renderIncidents();
    this.hotline.render();
  }

  setStatus(status) {
    this.status = status;
    const node = $("#status");
    node.textContent = t(`status.${status}`);
    node.className = `status ${status}`;
  }

  // -- live ----------------------------------------------------------------------------

  connect() {
    this.setStatus("connecting");
    const socket = new WebSocket(this.api.socketUrl());
    this.socket = socket;
    socket.onopen = async () => {
      this.retryMs = 1000;
      this.setStatus("live");
      // Catch up with what was missed while disconnected.
      try {
        const missed = await this.api.get(`/v1/alerts?after_id=${this.lastAlertId}&limit=10000`);
        for (const alert of missed) this.onAlert(alert, true);
        await this.catchUpOperations();
        this.renderAlerts();
      } catch (error) {
        console.error(error);
      }
    };
    socket.onmessage = (event) => {
      const message = JSON.parse(event.data);
      if (message.type === "traffic") {
        this.onTraffic(message);
      } else if (message.type === "alert") {
        this.onAlert(message.alert, true);
        this.renderAlerts();
        this.refreshIncidents();
      } else if (message.type === "notice") {
        this.onNotice(message.notice);
        this.renderNotices();
        this.refreshOperations();
      } else if (message.type === "volume_alert") {
        this.onVolumeAlert(message.volume_alert);
        this.renderVolumeAlerts();
        this.renderAlerts();
      } else if (message.type === "message" || message.type === "escalation") {
        this.hotline.onMessage(message);
      }
    };
    socket.onclose = (event) => {
      if (event.code === 4401 || event.code === 4403) {
        sessionStorage.removeItem(TOKEN_KEY);
        window.location.reload();
        return;
      }
      this.setStatus("offline");
      setTimeout(() => this.connect(), this.retryMs);
      this.retryMs = Math.min(this.retryMs * 2, 15000);
    };
  }

  onTraffic(message) {
    this.traffic = message.aircraft || [];
    this.serviceTime = epoch(message.time) ?? this.serviceTime;
    this.map.updateTraffic(this.traffic);
    this.map.updateVolumeAlerts([...this.volumeAlerts.values()]);
    this.renderTraffic();
    this.renderAlerts();
  }

  renderTraffic() {
    const own = this.traffic.filter((s) => s.party === this.me.party).length;
    $("#traffic-count").textContent = t("traffic.count", { own, other: this.traffic.length - own });
    $("#service-time").textContent = this.serviceTime
      ? t("time.service", { time: utc(new Date(this.serviceTime * 1000).toISOString()) })
      : "";
  }

  onAlert(alert, live) {
    if (alert.id <= this.lastAlertId) return;
    this.lastAlertId = alert.id;
    const pair = `${alert.own_aircraft}|${alert.other_party}|${alert.other_aircraft}`;
    const before = this.alerts.get(pair);
    if (alert.event === "resolved") {
      this.alerts.delete(pair);
      return;
    }
    this.alerts.set(pair, alert);
    const becameWarning = alert.level === "warning" && (!before || before.level !== "warning");
    if (live && becameWarning) {
      this.flashing.add(pair);
      setTimeout(() => {
        this.flashing.delete(pair);
        this.renderAlerts();
      }, 6000);
      this.cue.warn(alert);
    }
  }

  secondsToLoS(alert) {
    if (alert.t_in_s === null || alert.t_in_s === undefined) return 0;
    const elapsed = this.serviceTime === null ? 0 : this.serviceTime - epoch(alert.time);
    return Math.max(0, Math.round(alert.t_in_s - Math.max(0, elapsed)));
  }

  renderAlerts() {
    const active = [...this.alerts.entries()];
    this.map.updateConflicts(
      active.map(([, a]) => a),
      (a) => this.secondsToLoS(a),
    );
    const body = $("#alerts-body");
    const volumeAlerts = this.volumeAlertSection();
    if (!active.length) {
      body.replaceChildren(volumeAlerts ?? el("p", { class: "empty" }, t("alerts.none")));
      return;
    }
    const groups = LEVELS.map((level) => {
      const items = active
        .filter(([, a]) => a.level === level)
        .sort(([, a], [, b]) => this.secondsToLoS(a) - this.secondsToLoS(b));
      if (!items.length) return null;
      return el(
        "section",
        { class: `alert-group ${level}`, dataset: { level } },
        el("h3", {}, `${t(`level.${level}`)} (${items.length})`),
        el(
          "ul",
          {},
          ...items.map(([pair, a]) => {
            const s = this.secondsToLoS(a);
            return el(
              "li",
              {
                class: `alert ${level}${this.flashing.has(pair) ? " flash" : ""}`,
                dataset: { alertId: String(a.id), own: a.own_aircraft, other: a.other_aircraft },
              },
              el(
                "div",
                { class: "pair" },
                t("alert.pair", { own: a.own_aircraft, other: a.other_aircraft, party: a.other_party }),
              ),
              el("div", { class: "los" }, s > 0 ? t("alert.los_in", { s: num(s) }) : t("alert.los_now")),
              a.cpa && a.cpa.h_nm !== null
                ? el(
                    "div",
                    { class: "cpa" },
                    t("alert.cpa", { h: num(a.cpa.h_nm, 1), v: num(a.cpa.v_ft ?? 0) }),
                  )
                : null,
            );
          }),
        ),
      );
    });
    body.replaceChildren(...groups.filter(Boolean), ...(volumeAlerts ? [volumeAlerts] : []));
  }

  // -- the operations layer: own volumes, notices' overlaps, volume alerts --------------

  async loadOperationsLayer() {
    const toggle = $("#ops-toggle");
    toggle.checked = localStorage.getItem(OPERATIONS_KEY) !== "off";
    this.map.showOperations(toggle.checked);
    toggle.onchange = () => {
      localStorage.setItem(OPERATIONS_KEY, toggle.checked ? "on" : "off");
      this.map.showOperations(toggle.checked);
    };
    await this.refreshOperations();
    await this.catchUpOperations();
    this.renderAlerts();
  }

  async refreshOperations() {
    try {
      this.operations = await this.api.get("/v1/operations?state=planned&state=active");
      this.map.updateOperations(this.operations);
    } catch (error) {
      console.error(error);
    }
  }

  /** Notices and volume alerts since the last ones seen (all of them the first time). */
  async catchUpOperations() {
    try {
      const notices = await this.api.get(`/v1/notices?after_id=${this.lastNoticeId}&limit=10000`);
      for (const notice of notices) this.onNotice(notice);
      this.renderNotices();
      const alerts = await this.api.get(
        `/v1/volume-alerts?after_id=${this.lastVolumeAlertId}&limit=10000`,
      );
      for (const alert of alerts) this.onVolumeAlert(alert);
      this.renderVolumeAlerts();
    } catch (error) {
      console.error(error);
    }
  }

  onNotice(notice) {
    if (notice.id <= this.lastNoticeId) return;
    this.lastNoticeId = notice.id;
    if (notice.event === "withdrawn") this.notices.delete(notice.conflict_id);
    else this.notices.set(notice.conflict_id, notice);
  }

  renderNotices() {
    this.map.updateNotices([...this.notices.values()]);
  }

  onVolumeAlert(alert) {
    if (alert.id <= this.lastVolumeAlertId) return;
    this.lastVolumeAlertId = alert.id;
    const key = [
      alert.kind,
      alert.aircraft_party,
      alert.aircraft,
      alert.operation_party,
      alert.operation_id,
      alert.volume_id,
    ].join("|");
    if (alert.event === "resolved") this.volumeAlerts.delete(key);
    else this.volumeAlerts.set(key, alert);
  }

  renderVolumeAlerts() {
    this.map.updateVolumeAlerts([...this.volumeAlerts.values()]);
  }

  volumeAlertText(a) {
    if (a.kind === "conformance") {
      return t("valert.conformance", { aircraft: a.aircraft, operation: a.operation_id ?? "" });
    }
    if (a.operation_party === this.me.party) {
      return t("valert.intrusion_own", {
        aircraft: a.aircraft,
        party: a.aircraft_party,
        operation: a.operation_id ?? "",
        volume: a.volume_id ?? "",
      });
    }
    return t("valert.intrusion_other", { aircraft: a.aircraft, party: a.operation_party });
  }

  volumeAlertSection() {
    const items = [...this.volumeAlerts.values()];
    if (!items.length) return null;
    return el(
      "section",
      { class: "alert-group volume", dataset: { level: "volume" } },
      el("h3", {}, `${t("valerts.title")} (${items.length})`),
      el(
        "ul",
        {},
        ...items.map((a) =>
          el(
            "li",
            {
              class: `alert volume ${a.kind}`,
              dataset: { volumeAlertId: String(a.id), kind: a.kind, alertAircraft: a.aircraft },
            },
            el("div", { class: "pair" }, this.volumeAlertText(a)),
            el("div", { class: "cpa" }, utc(a.time)),
          ),
        ),
      ),
    );
  }

  // -- incidents -----------------------------------------------------------------------

  async refreshIncidents() {
    try {
      this.incidents = await this.api.get("/v1/incidents?limit=100");
      this.renderIncidents();
    } catch (error) {
      console.error(error);
    }
  }

  renderIncidents() {
    const body = $("#incidents-body");
    if (!this.incidents.length) {
      body.replaceChildren(el("p", { class: "empty" }, t("incidents.none")));
      return;
    }
    const rows = [...this.incidents].sort((a, b) => b.id - a.id);
    body.replaceChildren(
      el(
        "ul",
        {},
        ...rows.map((i) =>
          el(
            "li",
            { class: `incident ${i.status}`, dataset: { incidentId: String(i.id) } },
            el(
              "div",
              { class: "pair" },
              t("incident.row", { id: i.id, a: i.aircraft_a, b: i.aircraft_b }),
              " ",
              el("span", { class: `badge ${i.status}` }, t(`incident.status.${i.status}`)),
            ),
            el(
              "div",
              { class: "detail" },
              t("incident.detail", {
                start: utc(i.start),
                h: num(i.min_h_m / 1852, 2),
                v: num(i.min_v_m / 0.3048),
              }),
            ),
            el(
              "div",
              { class: "links" },
              el("button", { type: "button", onclick: () => this.showTracks(i.id) }, t("incident.show")),
              " ",
              el(
                "a",
                {
                  href: `/v1/incidents/${i.id}/report`,
                  class: "incident-report",
                  target: "_blank",
                  onclick: (event) => {
                    event.preventDefault();
                    this.openReport(i.id);
                  },
                },
                t("incident.html"),
              ),
              " ",
              el(
                "a",
                {
                  href: `/v1/incidents/${i.id}/tracks`,
                  class: "report",
                  onclick: (event) => {
                    event.preventDefault();
                    this.downloadTracks(i.id);
                  },
                },
                t("incident.report"),
              ),
            ),
          ),
        ),
      ),
    );
  }

  async showTracks(id) {
    const data = await this.api.get(`/v1/incidents/${id}/tracks`);
    if (!data.tracks.length) {
      window.alert(t("incident.no_tracks"));
      return;
    }
    this.map.showTracks(data.tracks);
  }

  async openReport(id) {
    // A plain link would not carry the bearer token: open the tab now (while the click
    // counts as the user's), fetch the report with the token, then show it as a blob.
    const tab = window.open("", "_blank");
    if (tab) tab.document.title = t("incident.report_wait");
    try {
      const blob = await this.api.getBlob(`/v1/incidents/${id}/report`);
      const url = URL.createObjectURL(new Blob([blob], { type: "text/html" }));
      if (tab) {
        tab.location.href = url;
      } else {
        const link = el("a", { href: url, download: `incident-${id}-report.html` });
        link.click();
      }
      setTimeout(() => URL.revokeObjectURL(url), 60000);
    } catch (error) {
      if (tab) tab.close();
      window.alert(t("incident.report_failed", { error: error.message }));
    }
  }

  async downloadTracks(id) {
    // A plain link would not carry the bearer token: fetch with it, then hand over a blob.
    const data = await this.api.get(`/v1/incidents/${id}/tracks`);
    const blob = new Blob([JSON.stringify(data, null, 2)], { type: "application/json" });
    const link = el("a", { href: URL.createObjectURL(blob), download: `incident-${id}-tracks.json` });
    link.click();
    setTimeout(() => URL.revokeObjectURL(link.href), 10000);
  }
}

async function start(token) {
  const api = new Api(token);
  let me;
  try {
    me = await api.get("/v1/me");
  } catch (error) {
    sessionStorage.removeItem(TOKEN_KEY);
    const message =
      error instanceof ApiError && (error.status === 401 || error.status === 403)
        ? null
        : error.message;
    showLogin(message === null ? t("login.rejected") : t("login.unreachable", { error: message }));
    return;
  }
  pickLanguage(me.language);
  $("#login").hidden = true;
  $("#app").hidden = false;
  translatePage();
  const dashboard = new Dashboard(api, me);
  window.skysepDashboard = dashboard; // for the browser tests and the curious
  await dashboard.start();
}

pickLanguage(null);
const token = takeTokenFromFragment();
if (token) start(token);
else showLogin();
