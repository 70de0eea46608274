/* Planner map and embeddable map: every layer loaded from the API for the visible area. */
(function () {
  "use strict";
  var QK = window.QK, cfg = QK.cfg, map = QK.map, t = QK.t, el = QK.el;
  var embed = cfg.page === "embed";
  var p = QK.params;
  var groups = {}, active = {}, tokens = {}, counts = {};
  var PALETTE = ["#edf8fb", "#b3cde3", "#8c96c6", "#8856a7", "#810f7c"];
  var indicatorSelect = document.getElementById("indicator");
  var yearSelect = document.getElementById("year");

  /* ---- view from the permalink ---- */
  var wanted = (p.get("layers") || "").split(",").filter(Boolean);
  var initial = wanted.length ? wanted : cfg.initial;
  if (indicatorSelect && p.get("indicator")) { indicatorSelect.value = p.get("indicator"); }
  if (yearSelect && p.get("year")) { yearSelect.value = p.get("year"); }
  var lat = parseFloat(p.get("lat")), lon = parseFloat(p.get("lon")), zoom = parseInt(p.get("zoom"), 10);
  if (!isNaN(lat) && !isNaN(lon)) { map.setView([lat, lon], isNaN(zoom) ? cfg.zoom : zoom); }
  else if (cfg.bbox) { map.fitBounds([[cfg.bbox[1], cfg.bbox[0]], [cfg.bbox[3], cfg.bbox[2]]]); }

  function popupFor(layer, props) {
    var rows = layer.popup.map(function (pair) {
      var value = props[pair[0]];
      if (value === null || value === undefined || value === "") { return null; }
      if (Array.isArray(value)) { value = value.join(", "); }
      if (typeof value === "boolean") { value = value ? "✓" : "–"; }
      var text = String(value);
      var node = /^(website|email|phone)$/.test(pair[0])
        ? QK.link(pair[0] === "email" ? "mailto:" + text : pair[0] === "phone" ? "tel:" + text.replace(/[^+0-9]/g, "") : text, text)
        : document.createTextNode(text);
      return el("p", { "class": "card-row" }, [el("span", { "class": "card-label", text: pair[1] + ": " }), node]);
    });
    return el("div", { "class": "card" }, [el("h2", { "class": "card-title", text: layer.title })].concat(rows));
  }

  function tooltipFor(layer, props) {
    return QK.text((layer.label && props[layer.label]) || layer.title);
  }

  /* ---- choropleth of the chosen indicator (quartiers) ---- */
  function breaks(values) {
    var sorted = values.filter(function (v) { return v !== null && v !== undefined; })
      .map(Number).sort(function (a, b) { return a - b; });
    if (!sorted.length) { return []; }
    var out = [];
    for (var i = 1; i < PALETTE.length; i++) {
      out.push(sorted[Math.min(sorted.length - 1, Math.floor(i * sorted.length / PALETTE.length))]);
    }
    return out;
  }
  function colourOf(value, limits) {
    if (value === null || value === undefined) { return "#d9d9d9"; }
    var i = 0;
    while (i < limits.length && Number(value) > limits[i]) { i++; }
    return PALETTE[Math.min(i, PALETTE.length - 1)];
  }
  function drawLegend(indicator, limits) {
    var legend = document.getElementById("legend");
    if (!legend) { return; }
    legend.textContent = "";
    if (!indicator) { return; }
    var items = PALETTE.map(function (colour, i) {
      var low = i === 0 ? null : limits[i - 1], high = limits[i];
      var label = low === null ? "≤ " + high : high === undefined ? "> " + low : low + " – " + high;
      return el("li", {}, [el("span", { "class": "swatch", style: "background:" + colour }), label]);
    });
    items.push(el("li", {}, [el("span", { "class": "swatch", style: "background:#d9d9d9" }), t("planner.no_data")]));
    legend.appendChild(el("h2", { text: t("planner.legend") + ": " + t("planner.indicator." + indicator) }));
    legend.appendChild(el("ul", { "class": "legend" }, items));
  }

  function loadQuartiers(layer, group, mine) {
    var indicator = indicatorSelect ? indicatorSelect.value : "";
    var q = new URLSearchParams({ indicator: indicator || "offers", bbox: QK.bboxOf(map),
                                  zoom: String(map.getZoom()) });
    return QK.getJSON("planung/indicators?" + q.toString()).then(function (fc) {
      if (mine !== tokens[layer.id]) { return; }
      var limits = indicator ? breaks(fc.features.map(function (f) { return f.properties.value; })) : [];
      group.clearLayers();
      L.geoJSON(fc, {
        style: function (f) {
          return { color: layer.color, weight: 2, fillOpacity: indicator ? 0.7 : 0.15,
                   fillColor: indicator ? colourOf(f.properties.value, limits) : layer.fill };
        },
        onEachFeature: function (f, lyr) {
          var pr = f.properties;
          lyr.bindTooltip(QK.text(pr.name + (indicator && pr.value !== null ? " – " + pr.value : "")));
          lyr.bindPopup(function () {
            return el("div", { "class": "card" }, [el("h2", { "class": "card-title", text: pr.name }),
              el("p", { text: pr.municipality }),
              el("p", { text: t("planner.population") + ": " + (pr.population === null ? t("planner.no_data") : pr.population) }),
              el("p", { text: t("planner.indicator.meeting_places") + ": " + pr.meeting_places }),
              el("p", { text: t("planner.indicator.offers") + ": " + pr.offers })]);
          });
        }
      }).addTo(group);
      counts[layer.id] = fc.features.length;
      drawLegend(indicator, limits);
    });
  }

  function drawFeatures(layer, group, fc) {
    group.clearLayers();
    var geo = L.geoJSON(fc, {
      style: function () { return { color: layer.color, weight: 2, fillColor: layer.fill, fillOpacity: 0.25 }; },
      pointToLayer: function (f, latlng) {
        return L.marker(latlng, { keyboard: true, title: (layer.label && f.properties[layer.label]) || layer.title,
          icon: L.divIcon({ className: "qk-dot qk-layer-" + layer.id, iconSize: [18, 18],
                            html: el("span", { style: "background:" + layer.color }) }) });
      },
      onEachFeature: function (f, lyr) {
        lyr.bindTooltip(tooltipFor(layer, f.properties));
        lyr.bindPopup(function () { return popupFor(layer, f.properties); });
      }
    });
    if (group.addLayers) { group.addLayers(geo.getLayers()); } else { geo.addTo(group); }
    counts[layer.id] = fc.features.length;
    if (embed) { listFeatures(layer, fc); }
  }

  function drawGrid(layer, group, fc) {
    group.clearLayers();
    var cells = fc.features.map(function (f) {
      var n = f.properties.count, size = n < 100 ? 30 : n < 1000 ? 38 : 46;
      return L.marker([f.geometry.coordinates[1], f.geometry.coordinates[0]], {
        keyboard: false, interactive: false,
        icon: L.divIcon({ className: "qk-count qk-layer-" + layer.id, iconSize: [size, size],
                          html: QK.text(String(Number(n))) }) });
    });
    (group.addLayers ? group.addLayers(cells) : cells.forEach(function (c) { c.addTo(group); }));
    counts[layer.id] = fc.numberMatched;
    QK.status(t("planner.zoom_in", { count: new Intl.NumberFormat(cfg.lang).format(fc.numberMatched) }));
  }

  /* Too many points for GeoJSON: from TILE_ZOOM on, the layer comes as vector tiles (every
     point, drawn on a canvas from /collections/{id}/tiles); below it, counts per grid cell. */
  var TILE_ZOOM = 11, tileLayers = {};
  function useTiles(layer) {
    var z = map.getZoom();
    return !!L.vectorGrid && z >= TILE_ZOOM && z >= layer.tiles[0] && z <= layer.tiles[1];
  }
  function showTiles(layer, on) {
    var existing = tileLayers[layer.id];
    if (!on) { if (existing && map.hasLayer(existing)) { map.removeLayer(existing); } return; }
    if (!existing) {
      var styles = {};
      styles[layer.id] = { radius: 4, weight: 1, color: layer.color, fill: true,
                           fillColor: layer.color, fillOpacity: 0.8 };
      existing = tileLayers[layer.id] = L.vectorGrid.protobuf(
        "collections/" + encodeURIComponent(layer.id) + "/tiles/WebMercatorQuad/{z}/{x}/{y}",
        { vectorTileLayerStyles: styles, rendererFactory: L.canvas.tile, maxNativeZoom: layer.tiles[1],
          interactive: false, attribution: "" });
      existing.on("load", function () { counts[layer.id + ":tiles"] = true; });
    }
    if (!map.hasLayer(existing)) { existing.addTo(map); }
  }

  function loadLayer(layer) {
    var group = groups[layer.id];
    var mine = tokens[layer.id] = (tokens[layer.id] || 0) + 1;
    if (layer.id === "quartiers") { return loadQuartiers(layer, group, mine); }
    var q = new URLSearchParams({ bbox: QK.bboxOf(map), limit: String(cfg.pointThreshold) });
    if (layer.temporal && yearSelect && yearSelect.value) {
      q.set("datetime", yearSelect.value + "-01-01/" + yearSelect.value + "-12-31");
    }
    return QK.getJSON("collections/" + encodeURIComponent(layer.id) + "/items?" + q.toString()).then(function (fc) {
      if (mine !== tokens[layer.id]) { return; }
      // numberMatched is left out above the counting limit: then a next link says "more".
      var more = fc.numberMatched !== undefined ? fc.numberMatched > fc.features.length
        : (fc.links || []).some(function (l) { return l.rel === "next"; });
      if (layer.point && more && useTiles(layer)) {
        group.clearLayers();
        showTiles(layer, true);
        QK.status("");
        return;
      }
      showTiles(layer, false);
      if (layer.point && more) {
        var g = new URLSearchParams({ bbox: QK.bboxOf(map), zoom: String(map.getZoom()) });
        return QK.getJSON("planung/grid/" + encodeURIComponent(layer.id) + "?" + g.toString()).then(function (grid) {
          if (mine === tokens[layer.id]) { drawGrid(layer, group, grid); }
        });
      }
      drawFeatures(layer, group, fc);
    });
  }

  var list = document.getElementById("results");
  function listFeatures(layer, fc) {
    if (!list) { return; }
    list.querySelectorAll("li[data-layer='" + layer.id + "']").forEach(function (n) { n.remove(); });
    fc.features.forEach(function (f) {
      list.appendChild(el("li", { "data-layer": layer.id, "data-id": f.id,
        text: (layer.label && f.properties[layer.label]) || layer.title }));
    });
  }

  function reload() {
    QK.status("");
    var jobs = cfg.layers.filter(function (l) { return active[l.id]; }).map(loadLayer);
    Promise.all(jobs).then(QK.loaded, function () { QK.status(t("results.error")); QK.loaded(); });
    QK.setPermalink({ lat: map.getCenter().lat.toFixed(5), lon: map.getCenter().lng.toFixed(5),
                      zoom: map.getZoom(), layers: Object.keys(active).filter(function (k) { return active[k]; }).join(","),
                      indicator: indicatorSelect ? indicatorSelect.value : null,
                      year: yearSelect ? yearSelect.value : null,
                      bbox: embed && cfg.bbox ? cfg.bbox.join(",") : null });
  }
  QK.counts = counts;

  /* ---- layer control with every registered layer ---- */
  var overlays = {};
  cfg.layers.forEach(function (layer) {
    var group = layer.point ? L.markerClusterGroup({ showCoverageOnHover: false, chunkedLoading: true,
                                                     disableClusteringAtZoom: 16 })
                            : L.featureGroup();
    groups[layer.id] = group;
    // Leaflet's layer control takes names as HTML only: every part escaped.
    overlays["<span class=\"swatch\" style=\"background:" + QK.escapeHTML(layer.color) + "\"></span>" +
             QK.escapeHTML(layer.title)] = group;
    if (initial.indexOf(layer.id) >= 0) { active[layer.id] = true; group.addTo(map); }
    group.on("add", function () { active[layer.id] = true; reload(); });
    group.on("remove", function () { active[layer.id] = false; showTiles(layer, false); reload(); });
  });
  L.control.layers(null, overlays, { collapsed: embed, position: "topright" }).addTo(map);

  /* ---- distance measurement ---- */
  if (!embed) {
    var Measure = L.Control.extend({
      options: { position: "topleft" },
      onAdd: function () {
        var box = L.DomUtil.create("div", "leaflet-bar qk-measure");
        var button = el("button", { type: "button", title: t("planner.measure"), "aria-label": t("planner.measure"),
                                    "aria-pressed": "false", text: "📏" });
        box.appendChild(button);
        L.DomEvent.disableClickPropagation(box);
        var points = [], line = null, on = false;
        function stop() {
          on = false; points = []; button.setAttribute("aria-pressed", "false");
          if (line) { map.removeLayer(line); line = null; }
          map.getContainer().classList.remove("measuring");
        }
        button.addEventListener("click", function () {
          if (on) { stop(); QK.status(""); return; }
          on = true; button.setAttribute("aria-pressed", "true");
          map.getContainer().classList.add("measuring");
          QK.status(t("planner.measure.hint"));
        });
        map.on("click", function (event) {
          if (!on) { return; }
          points.push(event.latlng);
          if (!line) { line = L.polyline(points, { color: "#222", dashArray: "6 4", weight: 3 }).addTo(map); }
          else { line.setLatLngs(points); }
          var total = 0;
          for (var i = 1; i < points.length; i++) { total += map.distance(points[i - 1], points[i]); }
          QK.status(t("planner.measure.total", { distance: QK.formatDistance(total) }));
          QK.measured = total;
        });
        document.addEventListener("keydown", function (event) { if (event.key === "Escape" && on) { stop(); } });
        return box;
      }
    });
    new Measure().addTo(map);
  }

  /* ---- "download what I see": fetched, so the page can say when the cap cut the view ---- */
  var download = document.getElementById("download");
  function fileName(response, fallback) {
    var match = /filename="?([^";]+)"?/.exec(response.headers.get("Content-Disposition") || "");
    return match ? match[1] : fallback;
  }
  if (download) {
    download.addEventListener("submit", function (event) {
      event.preventDefault();
      var layer = document.getElementById("dl-layer").value;
      var format = document.getElementById("dl-format").value;
      var q = new URLSearchParams({ bbox: QK.bboxOf(map), format: format });
      var button = download.querySelector("button[type=submit]");
      var number = function (n) { return new Intl.NumberFormat(cfg.lang).format(n); };
      button.disabled = true;
      QK.status(t("planner.download.running"));
      fetch("planung/export/" + encodeURIComponent(layer) + "?" + q.toString()).then(function (response) {
        if (response.status === 503 || response.status === 429) {
          QK.status(t("planner.download.busy"));
          return;
        }
        if (!response.ok) {
          return response.json().catch(function () { return {}; }).then(function (doc) {
            QK.status(t("planner.download.failed", { detail: doc.description || "HTTP " + response.status }));
          });
        }
        var count = Number(response.headers.get("Export-Features") || 0);
        var truncated = response.headers.get("Export-Truncated") === "true";
        var name = fileName(response, layer + "." + format);
        return response.blob().then(function (blob) {
          var href = URL.createObjectURL(blob);
          var link = el("a", { href: href, download: name, hidden: true });
          document.body.appendChild(link);
          link.click();
          link.remove();
          window.setTimeout(function () { URL.revokeObjectURL(href); }, 60000);
          QK.status(t(truncated ? "planner.download.truncated" : "planner.download.done",
                      { count: number(count) }));
        });
      }).catch(function () {
        QK.status(t("planner.download.failed", { detail: "network" }));
      }).then(function () { button.disabled = false; QK.loaded(); });
    });
  }

  if (indicatorSelect) { indicatorSelect.addEventListener("change", reload); }
  if (yearSelect) { yearSelect.addEventListener("change", reload); }
  map.on("moveend", reload);
  reload();
})();
