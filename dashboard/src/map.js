// The map: an offline basemap (Natural Earth from world-atlas), aircraft, conflict lines.
import L from "leaflet";
import { feature, mesh } from "topojson-client";
import { num, t } from "./i18n.js";

const LEVEL_COLOURS = { warning: "#d7191c", caution: "#f29e0b", advisory: "#2c7fb8" };

export class TrafficMap {
  constructor(element, ownParty) {
    this.ownParty = ownParty;
    this.map = L.map(element, {
      worldCopyJump: true,
      minZoom: 2,
      maxZoom: 12,
      zoomSnap: 0.5,
      attributionControl: true,
      preferCanvas: false,
    }).setView([30, 10], 3);
    this.attribution = this.map.attributionControl;
    this.attribution.setPrefix(false);
    this.basemap = L.layerGroup().addTo(this.map);
    this.conflictLayer = L.layerGroup().addTo(this.map);
    this.aircraftLayer = L.layerGroup().addTo(this.map);
    this.tracksLayer = L.layerGroup().addTo(this.map);
    this.markers = new Map(); // "party/aircraft" -> marker
    this.fitted = false;
    this.attributionText = "";
  }

  async loadBasemap(url) {
    const response = await fetch(url);
    if (!response.ok) throw new Error(`basemap ${url}: HTTP ${response.status}`);
    const topology = await response.json();
    const land = feature(topology, topology.objects.land);
    const borders = mesh(topology, topology.objects.countries, (a, b) => a !== b);
    L.geoJSON(land, {
      interactive: false,
      style: { stroke: true, color: "#8a8f7a", weight: 0.8, fillColor: "#eceadf", fillOpacity: 1 },
    }).addTo(this.basemap);
    L.geoJSON(borders, {
      interactive: false,
      style: { color: "#a59a8c", weight: 0.8, dashArray: "4 3", fill: false },
    }).addTo(this.basemap);
    this.translate();
  }

  translate() {
    if (this.attributionText) this.attribution.removeAttribution(this.attributionText);
    this.attributionText = t("map.attribution");
    this.attribution.addAttribution(this.attributionText);
    for (const marker of this.markers.values()) this.label(marker, marker.state);
  }

  key(state) {
    return `${state.party}/${state.aircraft}`;
  }

  label(marker, s) {
    const own = s.party === this.ownParty;
    const fl = String(Math.round(s.alt_ft / 100)).padStart(3, "0");
    const text = `${s.aircraft} ${t("label.fl", { fl })} ${t("label.speed", { kt: num(s.gs_kt) })}`;
    const tooltip = marker.getTooltip();
    if (tooltip) {
      tooltip.setContent(text);
    } else {
      marker.bindTooltip(text, {
        permanent: true,
        direction: "right",
        offset: [10, 0],
        className: `ac-label ${own ? "own" : "other"}`,
      });
    }
  }

  icon(s) {
    const own = s.party === this.ownParty;
    return L.divIcon({
      className: "ac-icon",
      iconSize: [22, 22],
      iconAnchor: [11, 11],
      html:
        `<div class="ac ${own ? "own" : "other"}">` +
        '<svg viewBox="-11 -11 22 22" width="22" height="22">' +
        '<path d="M0,-10 L7,8 L0,4 L-7,8 Z"/></svg></div>',
    });
  }

  /** Show this cycle's traffic: markers move, appear and disappear. */
  updateTraffic(aircraft) {
    const seen = new Set();
    for (const s of aircraft) {
      const key = this.key(s);
      seen.add(key);
      let marker = this.markers.get(key);
      if (!marker) {
        marker = L.marker([s.lat, s.lon], { icon: this.icon(s), keyboard: false });
        marker.addTo(this.aircraftLayer);
        this.markers.set(key, marker);
      } else {
        marker.setLatLng([s.lat, s.lon]);
      }
      marker.state = s;
      this.label(marker, s);
      const el = marker.getElement();
      if (el) {
        el.dataset.aircraft = s.aircraft;
        el.dataset.party = s.party;
        el.dataset.own = String(s.party === this.ownParty);
        el.dataset.lat = String(s.lat);
        el.dataset.lon = String(s.lon);
        const arrow = el.querySelector("svg");
        if (arrow) arrow.style.transform = `rotate(${s.track_deg}deg)`;
      }
    }
    for (const [key, marker] of this.markers) {
      if (!seen.has(key)) {
        marker.remove();
        this.markers.delete(key);
      }
    }
    if (!this.fitted && aircraft.length > 0) {
      const own = aircraft.filter((s) => s.party === this.ownParty);
      const points = (own.length ? own : aircraft).map((s) => [s.lat, s.lon]);
      this.map.fitBounds(L.latLngBounds(points).pad(0.5), { maxZoom: 9 });
      this.fitted = true;
    }
  }

  position(party, aircraft, fallback) {
    const marker = this.markers.get(`${party}/${aircraft}`);
    if (marker) return marker.getLatLng();
    return fallback ? L.latLng(fallback.lat, fallback.lon) : null;
  }

  /** A line between each alert's two aircraft, labelled with the time to LoS. */
  updateConflicts(alerts, secondsToLoS) {
    this.conflictLayer.clearLayers();
    for (const alert of alerts) {
      const a = this.position(alert.own_party, alert.own_aircraft, alert.own);
      const b = this.position(alert.other_party, alert.other_aircraft, alert.other);
      if (!a || !b) continue;
      const s = secondsToLoS(alert);
      const text = s > 0 ? t("alert.line", { s: num(s) }) : t("alert.line_now");
      const line = L.polyline([a, b], {
        color: LEVEL_COLOURS[alert.level],
        weight: alert.level === "warning" ? 4 : 3,
        dashArray: alert.level === "advisory" ? "6 6" : null,
        className: `conflict-line ${alert.level}`,
      });
      line.bindTooltip(text, {
        permanent: true,
        direction: "center",
        className: `conflict-label ${alert.level}`,
      });
      line.addTo(this.conflictLayer);
    }
  }

  /** An incident's recorded tracks, one line per aircraft. */
  showTracks(points) {
    this.tracksLayer.clearLayers();
    const byAircraft = new Map();
    for (const p of points) {
      const key = `${p.party}/${p.aircraft}`;
      if (!byAircraft.has(key)) byAircraft.set(key, []);
      byAircraft.get(key).push([p.lat, p.lon]);
    }
    const all = [];
    for (const [key, line] of byAircraft) {
      const own = key.startsWith(`${this.ownParty}/`);
      L.polyline(line, { color: own ? "#1f5fbf" : "#c2410c", weight: 2 })
        .bindTooltip(key.split("/")[1], { sticky: true })
        .addTo(this.tracksLayer);
      all.push(...line);
    }
    if (all.length) this.map.fitBounds(L.latLngBounds(all).pad(0.3));
  }
}
