/* Resident map: "what is near me?" — results from /nearby, shown as markers and as a list. */
(function () {
  "use strict";
  var QK = window.QK, cfg = QK.cfg, map = QK.map, t = QK.t, el = QK.el;
  var form = document.getElementById("filters");
  var list = document.getElementById("results");
  var cluster = L.markerClusterGroup({ showCoverageOnHover: false, disableClusteringAtZoom: 16,
                                       maxClusterRadius: 40 }).addTo(map);
  var markers = {};
  var startMarker = null;
  var position = null;
  var request = 0;
  var reportTarget = null;

  /* ---- state from the URL (permalink) ---- */
  var p = QK.params;
  var fields = { category: "f-category", target_group: "f-target", language: "f-language" };
  var checks = { wheelchair: "f-wheelchair", free: "f-free", open: "f-open" };
  Object.keys(fields).forEach(function (name) {
    var value = p.get(name), select = document.getElementById(fields[name]);
    if (value && select.querySelector("option[value='" + CSS.escape(value) + "']")) { select.value = value; }
  });
  Object.keys(checks).forEach(function (name) {
    document.getElementById(checks[name]).checked = p.get(name) === "1" || p.get(name) === "true";
  });
  if (/^\d{4}-\d{2}-\d{2}$/.test(p.get("day") || "")) { document.getElementById("f-day").value = p.get("day"); }

  function filters() {
    return {
      category: document.getElementById("f-category").value,
      target_group: document.getElementById("f-target").value,
      language: document.getElementById("f-language").value,
      wheelchair: document.getElementById("f-wheelchair").checked,
      free: document.getElementById("f-free").checked,
      open: document.getElementById("f-open").checked,
      day: document.getElementById("f-day").value
    };
  }

  /* The /nearby URL for the position and filters: the same call a test makes. */
  function nearbyUrl() {
    var f = filters();
    var q = new URLSearchParams({ lon: position.lng.toFixed(6), lat: position.lat.toFixed(6),
                                  limit: String(cfg.limit) });
    if (f.category) { q.set("category", f.category); }
    if (f.target_group) { q.set("target_group", f.target_group); }
    if (f.language) { q.set("language", f.language); }
    if (f.wheelchair) { q.set("wheelchair", "true"); }
    if (f.free) { q.set("free", "true"); }
    if (f.open) { q.set("open_at", cfg.now || "now"); }
    if (f.day) { q.set("day", f.day); }
    return "nearby?" + q.toString();
  }
  QK.nearbyUrl = function () { return position ? nearbyUrl() : null; };
  QK.markerIds = function () {
    return cluster.getLayers().map(function (m) { return m.options.qkId; });
  };

  function updatePermalink() {
    var f = filters();
    QK.setPermalink({ lat: position ? position.lat.toFixed(5) : null,
                      lon: position ? position.lng.toFixed(5) : null, zoom: map.getZoom(),
                      category: f.category, target_group: f.target_group, language: f.language,
                      wheelchair: f.wheelchair, free: f.free, open: f.open, day: f.day });
  }

  function setPosition(latlng, zoom) {
    position = L.latLng(latlng);
    if (startMarker) { startMarker.setLatLng(position); }
    else {
      startMarker = L.circleMarker(position, { radius: 9, color: "#1a1a1a", weight: 3,
                                               fillColor: "#ffffff", fillOpacity: 1,
                                               interactive: false }).addTo(map);
    }
    if (zoom) { map.setView(position, zoom); }
    load();
  }

  /* ---- cards: the same content in the list and in popups ---- */
  function row(label, value) {
    if (value === null || value === undefined || value === "" ||
        (Array.isArray(value) && !value.length)) { return null; }
    return el("p", { "class": "card-row" }, [el("span", { "class": "card-label", text: label + ": " }),
      typeof value === "string" ? value : value]);
  }

  function joinList(values, prefix) {
    return (values || []).map(function (v) {
      return prefix === "lang" ? (cfg.languageNames[v] || v) : t(prefix + "." + v);
    }).join(", ");
  }

  function contacts(props) {
    var parts = [];
    if (props.phone) { parts.push(row(t("card.phone"), QK.link("tel:" + String(props.phone).replace(/[^+0-9]/g, ""), props.phone))); }
    if (props.email) { parts.push(row(t("card.email"), QK.link("mailto:" + props.email, props.email))); }
    if (props.website) { parts.push(row(t("card.website"), QK.link(props.website, props.website))); }
    return parts;
  }

  function card(feature, hours, inList) {
    var props = feature.properties, layer = props.layer;
    var name = layer === "offers" ? props.title : props.name;
    var coords = pointOf(feature);
    var children = [
      el(inList ? "h3" : "h2", { "class": "card-title" }, [inList ? el("button", {
        type: "button", "class": "link-button", text: name, onclick: function () { focusMarker(feature.id); }
      }) : name]),
      el("p", { "class": "card-kind" }, [t("layer." + layer) +
        (layer === "offers" ? " · " + t("category." + props.category) : (props.kind ? " · " + props.kind : ""))]),
      el("p", { "class": "card-distance" }, [t("distance.straight", { distance: QK.formatDistance(props.distance_m) })])
    ];
    if (layer === "meeting_places") {
      children.push(row(t("card.address"), [props.address, [props.postcode, props.town].filter(Boolean).join(" ")].filter(Boolean).join(", ")));
      if (hours && hours.text) {
        var badge = hours.open_now === true ? t("card.open_now") : hours.open_now === false ? t("card.closed_now") : "";
        children.push(row(t("card.hours"), el("span", {}, [hours.text,
          badge ? el("strong", { "class": "badge " + (hours.open_now ? "open" : "closed"), text: " " + badge }) : null])));
      }
      children.push(row(t("card.languages"), joinList(props.languages, "lang")));
      if (props.wheelchair) { children.push(row(t("card.wheelchair"), t("wheelchair." + props.wheelchair))); }
      children.push(row(t("card.operator"), props.operator));
    } else {
      children.push(row(t("card.place"), props.meeting_place));
      children.push(row(t("card.dates"), props.schedule || QK.formatDate(props.starts_at, true)));
      children.push(row(t("card.target_groups"), joinList(props.target_groups, "target")));
      children.push(row(t("card.languages"), joinList(props.languages, "lang")));
      if (props.free) { children.push(el("p", { "class": "card-row", text: t("card.free") })); }
      children.push(row(t("card.operator"), props.organiser));
    }
    children = children.concat(contacts(props));
    if (props.last_checked) { children.push(row(t("card.last_checked"), QK.formatDate(props.last_checked))); }
    var actions = el("p", { "class": "card-actions" }, [
      position ? QK.link("https://www.openstreetmap.org/directions?route=" +
        position.lat.toFixed(5) + "%2C" + position.lng.toFixed(5) + "%3B" +
        coords[1].toFixed(5) + "%2C" + coords[0].toFixed(5), t("card.route")) : null,
      inList ? el("button", { type: "button", "class": "link-button", text: t("card.show_on_map"),
                              onclick: function () { focusMarker(feature.id); } }) : null,
      el("button", { type: "button", "class": "link-button", text: t("card.report"),
                     onclick: function () { openReport(feature.id, name); } })
    ]);
    children.push(actions);
    return el(inList ? "article" : "div", { "class": "card" }, children);
  }

  function pointOf(feature) {
    var g = feature.geometry;
    if (g && g.type === "Point") { return g.coordinates; }
    var c = L.geoJSON(g).getBounds().getCenter();
    return [c.lng, c.lat];
  }

  function focusMarker(id) {
    var marker = markers[id];
    if (!marker) { return; }
    cluster.zoomToShowLayer(marker, function () {
      marker.openPopup();
      var node = marker.getElement();
      if (node) { node.focus(); }
    });
  }

  /* ---- loading ---- */
  function render(fc, hours) {
    cluster.clearLayers();
    markers = {};
    list.textContent = "";
    fc.features.forEach(function (feature) {
      var props = feature.properties;
      var name = props.layer === "offers" ? props.title : props.name;
      var h = props.layer === "meeting_places" ? hours[String(feature.id).split(".")[1]] : null;
      var coords = pointOf(feature);
      var marker = L.marker([coords[1], coords[0]], {
        qkId: feature.id, title: name, keyboard: true,
        icon: L.divIcon({ className: "qk-marker qk-" + props.layer, iconSize: [30, 30] })
      });
      marker.bindPopup(function () { return card(feature, h, false); }, { maxWidth: 300 });
      markers[feature.id] = marker;
      cluster.addLayer(marker);
      list.appendChild(el("li", { "data-id": feature.id }, [card(feature, h, true)]));
    });
    document.getElementById("results-count").textContent = fc.features.length
      ? t("results.count", { count: fc.features.length }) : t("results.none");
  }

  function load() {
    if (!position) { return; }
    var mine = ++request;
    updatePermalink();
    QK.status(t("results.loading"));
    QK.getJSON(nearbyUrl()).then(function (fc) {
      var ids = fc.features.filter(function (f) { return f.properties.layer === "meeting_places"; })
        .map(function (f) { return String(f.id).split(".")[1]; });
      if (!ids.length) { return [fc, {}]; }
      var q = new URLSearchParams({ ids: ids.join(","), lang: cfg.lang });
      if (cfg.now) { q.set("at", cfg.now); }
      return QK.getJSON("karte/hours?" + q.toString()).then(function (hours) { return [fc, hours]; });
    }).then(function (result) {
      if (mine !== request) { return; }
      render(result[0], result[1]);
      QK.status("");
      QK.loaded();
    }).catch(function () {
      if (mine !== request) { return; }
      QK.status(t("results.error"));
      QK.loaded();
    });
  }

  form.addEventListener("change", load);
  form.addEventListener("submit", function (event) { event.preventDefault(); load(); });
  map.on("click", function (event) { setPosition(event.latlng); });
  map.on("moveend", function () { if (position) { updatePermalink(); } });
  map.on("locationfound", function (event) { setPosition(event.latlng); });
  map.on("locationerror", function () { QK.status(t("locate.refused")); });

  document.getElementById("locate-button").addEventListener("click", function () {
    if (!navigator.geolocation) { QK.status(t("locate.refused")); return; }
    navigator.geolocation.getCurrentPosition(function (pos) {
      setPosition([pos.coords.latitude, pos.coords.longitude], 15);
    }, function () { QK.status(t("locate.refused")); }, { timeout: 10000 });
  });

  /* ---- search over our own places, quartiers and streets ---- */
  var searchResults = document.getElementById("search-results");
  document.getElementById("search-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var term = document.getElementById("search-input").value.trim();
    searchResults.textContent = "";
    if (term.length < 2) { searchResults.hidden = true; return; }
    QK.getJSON("karte/search?" + new URLSearchParams({ q: term }).toString()).then(function (doc) {
      searchResults.hidden = false;
      if (!doc.hits.length) { searchResults.appendChild(el("li", { text: t("search.none") })); return; }
      doc.hits.forEach(function (hit) {
        searchResults.appendChild(el("li", {}, [el("button", {
          type: "button", "class": "link-button",
          text: hit.label + " (" + t("search.kind." + hit.kind) + ")",
          onclick: function () {
            searchResults.hidden = true;
            setPosition([hit.lat, hit.lon], 15);
            document.getElementById("results-heading").focus();
          }
        })]));
      });
      searchResults.querySelector("button").focus();
    }).catch(function () { QK.status(t("results.error")); });
  });

  /* ---- "Fehler melden" ---- */
  var dialog = document.getElementById("report-dialog");
  function openReport(id, name) {
    reportTarget = id;
    document.getElementById("report-about").textContent = t("report.about", { name: name });
    document.getElementById("report-status").textContent = "";
    document.getElementById("report-message").value = "";
    document.getElementById("report-send").disabled = false;
    dialog.showModal();
  }
  document.getElementById("report-cancel").addEventListener("click", function () { dialog.close(); });
  document.getElementById("report-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var status = document.getElementById("report-status");
    var message = document.getElementById("report-message").value.trim();
    if (message.length < 3) { document.getElementById("report-message").reportValidity(); return; }
    fetch("reports?lang=" + encodeURIComponent(cfg.lang), {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ feature: reportTarget, message: message,
                             contact: document.getElementById("report-contact").value.trim() })
    }).then(function (response) {
      if (response.status === 201) {
        status.textContent = t("report.thanks");
        document.getElementById("report-send").disabled = true;
      } else {
        // 429: this network's budget; 503: reporting paused for everyone (the breaker).
        status.textContent = response.status === 429 || response.status === 503
          ? t("report.limited") : t("report.failed");
      }
    }).catch(function () { status.textContent = t("report.failed"); });
  });

  /* ---- start: position from the permalink, else the configured centre ---- */
  var lat = parseFloat(p.get("lat")), lon = parseFloat(p.get("lon"));
  var zoom = parseInt(p.get("zoom"), 10);
  if (!isNaN(lat) && !isNaN(lon)) {
    setPosition([lat, lon], isNaN(zoom) ? cfg.zoom : zoom);
  } else {
    setPosition(cfg.center, cfg.zoom);
  }
})();
