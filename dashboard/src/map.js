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
    // The operations layer (under the traffic): own volumes, notices' overlaps, volume alerts.
    this.operationsLayer = L.layerGroup().addTo(this.map);
    this.volumesLayer = L.layerGroup().addTo(this.operationsLayer);
    this.overlapsLayer = L.layerGroup().addTo(this.operationsLayer);
    this.volumeAlertsLayer = L.layerGroup().addTo(this.operationsLayer);
    /** What the operations layer draws, as GeoJSON (for the tests and the curious). */
    this.drawn = { volumes: [], overlaps: [], alerts: [] };
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

  // -- the operations layer ------------------------------------------------------------

  showOperations(visible) {
    if (visible) this.operationsLayer.addTo(this.map);
    else this.operationsLayer.remove();
  }

  /** The party's own planned and active operations: each volume as filed (polygon or circle). */
  updateOperations(operations) {
    this.volumesLayer.clearLayers();
    this.drawn.volumes = [];
    for (const op of operations) {
      if (op.state !== "planned" && op.state !== "active") continue;
      const features = (op.document && op.document.features) || [];
      features.forEach((f, index) => {
        const volume = op.volumes[index] || {};
        const id = f.id ?? volume.id ?? String(index);
        const layer = shape(f, {
          color: "#1f5fbf",
          weight: 2,
          dashArray: op.state === "planned" ? "6 4" : null,
          fillColor: "#1f5fbf",
          fillOpacity: op.state === "active" ? 0.22 : 0.06,
          className: `op-volume ${op.state}`,
        });
        if (!layer) return;
        mark(layer, { operation: op.id, volume: String(id), state: op.state });
        layer.bindTooltip(
          `${t("ops.volume", { name: esc(op.name || op.id), volume: esc(id) })} · ${op.state === "active" ? t("ops.state.active") : t("ops.state.planned")}` +
            `<br>${band(volume.lower_ft, volume.upper_ft)}${window_(volume.start, volume.end)}`,
          { sticky: true },
        );
        layer.addTo(this.volumesLayer);
        this.drawn.volumes.push({ operation: op.id, volume: String(id), state: op.state, geometry: f.geometry });
      });
    }
  }

  /** The overlap regions of the strategic-conflict notices in force (never the other's volume). */
  updateNotices(notices) {
    this.overlapsLayer.clearLayers();
    this.drawn.overlaps = [];
    for (const n of notices) {
      const layer = shape(n.region, {
        color: "#b3261e",
        weight: 2,
        fillColor: "#d7191c",
        fillOpacity: 0.3,
        className: "op-overlap",
      });
      if (!layer) continue;
      mark(layer, { conflict: n.conflict_id, operation: n.operation_id, otherParty: n.other_party });
      layer.bindTooltip(
        `${t("ops.overlap", { party: esc(n.other_party), operation: esc(n.operation_id) })}` +
          `<br>${band(n.lower_ft, n.upper_ft)}${window_(n.start, n.end)}`,
        { sticky: true },
      );
      layer.addTo(this.overlapsLayer);
      this.drawn.overlaps.push({ conflict: n.conflict_id, region: n.region });
    }
  }

  /** Volume alerts in force: the aircraft's marker highlighted, an intruded area outlined. */
  updateVolumeAlerts(alerts) {
    this.volumeAlertsLayer.clearLayers();
    this.drawn.alerts = [];
    const flagged = new Set(alerts.map((a) => `${a.aircraft_party}/${a.aircraft}`));
    for (const [key, marker] of this.markers) {
      const element = marker.getElement();
      if (element) element.classList.toggle("volume-alert", flagged.has(key));
    }
    for (const a of alerts) {
      if (!a.area || a.operation_id) continue; // own volumes are drawn already
      const layer = shape(a.area, {
        color: "#d7191c",
        weight: 2,
        dashArray: "3 3",
        fill: false,
        className: "op-alert-area",
      });
      if (!layer) continue;
      mark(layer, { alertAircraft: a.aircraft });
      layer.addTo(this.volumeAlertsLayer);
      this.drawn.alerts.push({ aircraft: a.aircraft, area: a.area });
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

// -- GeoJSON volumes -------------------------------------------------------------------------

/** A Leaflet layer for a volume or region: a GeoJSON Feature or geometry; a Point with
 * `radius_nm` or `radius_m` is a circle. */
function shape(geojson, style) {
  if (!geojson) return null;
  const geometry = geojson.type === "Feature" ? geojson.geometry : geojson;
  const props = geojson.type === "Feature" ? geojson.properties || {} : {};
  if (!geometry) return null;
  if (geometry.type === "Point") {
    const radius = props.radius_m ?? (props.radius_nm !== undefined ? props.radius_nm * 1852 : null);
    if (!radius) return null;
    const [lon, lat] = geometry.coordinates;
    return L.circle([lat, lon], { radius, ...style });
  }
  return L.geoJSON(geometry, { style: () => style });
}

/** Data attributes on the drawn paths, set whenever Leaflet (re)creates them. */
function mark(layer, data) {
  const apply = (one) => {
    const element = one.getElement && one.getElement();
    if (!element) return;
    for (const [name, value] of Object.entries(data)) {
      if (value !== undefined) element.dataset[name] = value;
    }
  };
  const each = (one) => {
    one.on("add", () => apply(one));
  };
  if (layer.eachLayer) {
    layer.on("layeradd", (event) => each(event.layer));
    layer.eachLayer(each);
  } else {
    each(layer);
  }
}

function esc(text) {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function band(lowerFt, upperFt) {
  if (lowerFt === undefined || lowerFt === null) return "";
  return t("ops.band", { lower: num(lowerFt), upper: num(upperFt) });
}

function window_(start, end) {
  if (!start) return "";
  const short = (iso) => `${iso.slice(0, 16).replace("T", " ")}Z`;
  return `<br>${t("ops.window", { start: short(start), end: end ? short(end) : "" })}`;
}
