/* Editor page: log in with an API key (kept in sessionStorage, sent as a Bearer header, never in
   a URL), place a point or draw an area, fill the form generated from the layer definition, save
   with If-Match; and the residents' "Fehler melden" reports as an inbox. Data reaches the page
   only through textContent and attributes (QK.el). */
(function () {
  "use strict";
  var QK = window.QK, map = QK.map, t = QK.t, el = QK.el;
  var STORE = "qk-editor-key";
  var $ = function (id) { return document.getElementById(id); };
  var layers = [];
  var layer = null;
  var current = null;            // the item being edited: {id, etag}; null for a new one
  var point = null;              // the draft point (L.LatLng)
  var vertices = [];             // the draft area's corners
  var areaDone = false;
  var kept = null;               // a loaded geometry the simple tools cannot redraw (holes, parts)
  var geometryChanged = false;
  var draftLayer = L.layerGroup().addTo(map);
  var itemsLayer = L.layerGroup().addTo(map);
  var itemsRequest = 0;

  /* ---- talking to the API ---- */
  function token() { return window.sessionStorage.getItem(STORE); }

  function api(method, url, body, headers) {
    var init = { method: method, cache: "no-store",
                 headers: { Accept: "application/json", Authorization: "Bearer " + token() } };
    Object.keys(headers || {}).forEach(function (name) { init.headers[name] = headers[name]; });
    if (body !== undefined) {
      if (!init.headers["Content-Type"]) { init.headers["Content-Type"] = "application/json"; }
      init.body = JSON.stringify(body);
    }
    return fetch(url, init).then(function (response) {
      return response.text().then(function (text) {
        var data = null;
        try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
        return { status: response.status, ok: response.ok, data: data,
                 etag: response.headers.get("ETag"),
                 consentRevoked: response.headers.get("Consent-Revoked") === "true",
                 detail: data && (data.detail || data.description) || ("HTTP " + response.status) };
      });
    });
  }

  /* ---- logging in and out ---- */
  function login(key) {
    window.sessionStorage.setItem(STORE, key);
    $("login-status").textContent = t("planner.editor.loading");
    return api("GET", "editor/layers?lang=" + encodeURIComponent(QK.lang)).then(function (res) {
      if (!res.ok) {
        window.sessionStorage.removeItem(STORE);
        $("login-status").textContent = res.status === 401 ? t("planner.editor.login_failed")
          : t("planner.editor.error", { detail: res.detail });
        return;
      }
      layers = res.data.layers;
      var who = res.data.key;
      $("login-status").textContent = "";
      $("key-input").value = "";
      $("login-form").hidden = true;
      $("workspace").hidden = false;
      $("whoami").textContent = t("planner.editor.whoami", {
        key: who.prefix + (who.label ? " (" + who.label + ")" : ""), role: who.role });
      var select = $("layer-select");
      select.textContent = "";
      layers.forEach(function (l) { select.appendChild(el("option", { value: l.id, text: l.title })); });
      if (!layers.length) {
        $("form-heading").textContent = t("planner.editor.no_layers");
        $("item-form").hidden = true;
        return;
      }
      chooseLayer(layers[0].id);
      loadInbox();
    });
  }

  function logout() {
    window.sessionStorage.removeItem(STORE);
    layers = []; layer = null; current = null;
    draftLayer.clearLayers(); itemsLayer.clearLayers();
    $("workspace").hidden = true;
    $("login-form").hidden = false;
    $("inbox").textContent = "";
    $("key-input").focus();
  }

  $("login-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var key = $("key-input").value.trim();
    if (key) { login(key); }
  });
  $("logout-button").addEventListener("click", logout);

  /* ---- the layer and its geometry tools ---- */
  function kindOf(l) {
    if (/Point$/.test(l.geometry_type)) { return "point"; }
    if (/Polygon$/.test(l.geometry_type)) { return "area"; }
    return null;                     // "Geometry": the editor chooses
  }

  function mode() { return (layer && kindOf(layer)) || $("geometry-mode").value; }

  function chooseLayer(id) {
    layer = layers.filter(function (l) { return l.id === id; })[0] || null;
    if (!layer) { return; }
    $("layer-select").value = layer.id;
    $("geometry-mode-box").hidden = kindOf(layer) !== null;
    buildForm();
    startNew();
    loadItems();
  }

  $("layer-select").addEventListener("change", function () { chooseLayer(this.value); });
  $("geometry-mode").addEventListener("change", function () { clearGeometry(); updateHint(); });

  function updateHint() {
    var area = mode() === "area";
    $("draw-hint").textContent = t(area ? "planner.editor.hint_area" : "planner.editor.hint_point");
    $("finish-area").hidden = !area || areaDone;
  }

  function clearGeometry() {
    point = null; vertices = []; areaDone = false; kept = null; geometryChanged = true;
    drawDraft();
  }

  function drawDraft() {
    draftLayer.clearLayers();
    var style = { color: "#1a1a1a", weight: 3, fillColor: "#ff9900", fillOpacity: 0.35 };
    if (kept) { L.geoJSON(kept, { style: style, interactive: false }).addTo(draftLayer); }
    if (point) {
      L.circleMarker(point, { radius: 10, color: "#1a1a1a", weight: 3, fillColor: "#ff9900",
                              fillOpacity: 1, interactive: false, className: "qk-draft" })
        .addTo(draftLayer);
    }
    if (vertices.length) {
      var shape = areaDone || vertices.length > 2 ? L.polygon(vertices, style) : L.polyline(vertices, style);
      shape.options.interactive = false;
      shape.addTo(draftLayer);
      vertices.forEach(function (v) {
        L.circleMarker(v, { radius: 5, color: "#1a1a1a", fillColor: "#fff", fillOpacity: 1,
                            interactive: false, className: "qk-vertex" }).addTo(draftLayer);
      });
    }
    $("geometry-error").textContent = "";
    updateHint();
  }

  map.on("click", function (event) {
    if (!layer) { return; }
    kept = null;
    geometryChanged = true;
    if (mode() === "point") { point = event.latlng; }
    else {
      if (areaDone) { vertices = []; areaDone = false; }
      vertices.push(event.latlng);
    }
    drawDraft();
  });

  $("finish-area").addEventListener("click", function () {
    if (vertices.length < 3) { $("geometry-error").textContent = t("planner.editor.area_too_small"); return; }
    areaDone = true;
    drawDraft();
  });
  $("clear-geometry").addEventListener("click", clearGeometry);

  function round(v) { return Math.round(v * 1e7) / 1e7; }

  /* The draft as GeoJSON, or undefined when nothing is drawn. */
  function geometry() {
    if (kept) { return kept; }
    if (mode() === "point") {
      return point ? { type: "Point", coordinates: [round(point.lng), round(point.lat)] } : undefined;
    }
    if (vertices.length < 3) { return undefined; }
    var ring = vertices.map(function (v) { return [round(v.lng), round(v.lat)]; });
    ring.push(ring[0].slice());
    return layer.geometry_type === "MultiPolygon" ? { type: "MultiPolygon", coordinates: [[ring]] }
      : { type: "Polygon", coordinates: [ring] };
  }

  function showGeometry(geom) {
    point = null; vertices = []; areaDone = false; kept = null;
    var toLatLng = function (c) { return L.latLng(c[1], c[0]); };
    if (geom && geom.type === "Point") {
      if (!kindOf(layer)) { $("geometry-mode").value = "point"; }
      point = toLatLng(geom.coordinates);
    } else if (geom && (geom.type === "Polygon" || geom.type === "MultiPolygon")) {
      if (!kindOf(layer)) { $("geometry-mode").value = "area"; }
      var polygons = geom.type === "Polygon" ? [geom.coordinates] : geom.coordinates;
      if (polygons.length === 1 && polygons[0].length === 1) {
        vertices = polygons[0][0].slice(0, -1).map(toLatLng);
        areaDone = true;
      } else { kept = geom; }
    } else if (geom) { kept = geom; }
    geometryChanged = false;
    drawDraft();
  }

  /* ---- the form, generated from the layer definition ---- */
  function inputFor(p, id) {
    var attrs = { id: id, name: p.name, "aria-describedby": "error-" + p.name,
                  maxlength: p.max_length || null };
    var node;
    if (p.type === "string[]" && p.enum) {
      node = el("select", { id: id, name: p.name, multiple: true,
                            size: String(Math.min(6, p.enum.length)),
                            "aria-describedby": "error-" + p.name },
                p.enum.map(function (v) { return el("option", { value: v, text: v }); }));
    } else if (p.enum || p.type === "boolean") {
      var values = p.enum || ["true", "false"];
      var label = function (v) {
        return p.type === "boolean" ? t(v === "true" ? "planner.editor.yes" : "planner.editor.no") : v;
      };
      node = el("select", { id: id, name: p.name, "aria-describedby": "error-" + p.name },
                [el("option", { value: "", text: t("planner.editor.none") })].concat(
                  values.map(function (v) { return el("option", { value: v, text: label(v) }); })));
    } else if (p.type === "text") {
      attrs.rows = "4";
      node = el("textarea", attrs);
    } else {
      var types = { url: "url", email: "email", phone: "tel", date: "date" };
      attrs.type = types[p.type] || "text";
      if (p.type === "integer" || p.type === "number") {
        attrs.inputmode = p.type === "integer" ? "numeric" : "decimal";
      }
      if (p.type === "opening_hours") { attrs.placeholder = "Mo-Fr 09:00-17:00"; }
      if (p.type === "string[]") { attrs.placeholder = t("planner.editor.list_hint"); }
      node = el("input", attrs);
    }
    if (p.required) { node.setAttribute("aria-required", "true"); }
    return node;
  }

  function buildForm() {
    var box = $("form-fields");
    box.textContent = "";
    layer.properties.forEach(function (p) {
      var id = "field-" + p.name;
      var label = el("label", { "for": id }, [p.label + (p.required ? " *" : "")]);
      if (p.personal) {
        label.appendChild(el("span", { "class": "personal", text: " (" + t("planner.editor.personal") + ")" }));
      }
      box.appendChild(el("div", { "class": "field", "data-field": p.name },
                         [label, inputFor(p, id), el("p", { "class": "field-error", id: "error-" + p.name })]));
    });
  }

  function readValue(p) {
    var input = $("field-" + p.name);
    if (input.multiple) {
      var chosen = Array.prototype.map.call(input.selectedOptions, function (o) { return o.value; });
      return chosen.length ? chosen : null;
    }
    var value = input.value.trim();
    if (value === "") { return null; }
    if (p.type === "string[]") {
      return value.split(",").map(function (v) { return v.trim(); }).filter(Boolean);
    }
    if (p.type === "boolean") { return value === "true"; }
    if (p.type === "integer" || p.type === "number") {
      var n = Number(value.replace(",", "."));
      return isFinite(n) ? n : value;  // not a number: the server says why
    }
    return value;
  }

  function fillForm(props) {
    layer.properties.forEach(function (p) {
      var input = $("field-" + p.name), value = props[p.name];
      if (input.multiple) {
        var wanted = Array.isArray(value) ? value : [];
        Array.prototype.forEach.call(input.options, function (o) { o.selected = wanted.indexOf(o.value) >= 0; });
      } else if (value === null || value === undefined) { input.value = ""; }
      else if (Array.isArray(value)) { input.value = value.join(", "); }
      else { input.value = String(value); }
    });
  }

  function clearErrors() {
    $("form-errors").textContent = "";
    $("geometry-error").textContent = "";
    $("save-status").textContent = "";
    $("save-status").className = "";
    $("reload-button").hidden = true;
    Array.prototype.forEach.call(document.querySelectorAll("#form-fields .field-error"),
                                 function (node) { node.textContent = ""; });
    Array.prototype.forEach.call(document.querySelectorAll("#form-fields [aria-invalid]"),
                                 function (node) { node.removeAttribute("aria-invalid"); });
  }

  /* The API names each property as »name«: each sentence goes next to its field. */
  function showErrors(detail) {
    $("form-errors").textContent = t("planner.editor.invalid") + " " + detail;
    var first = null;
    String(detail).split(/(?=»[a-z][a-z0-9_]*«)/).forEach(function (part) {
      var match = /^»([a-z][a-z0-9_]*)«/.exec(part);
      var target = match && $("error-" + match[1]);
      if (!target) { return; }
      target.textContent = (target.textContent ? target.textContent + " " : "") + part.trim();
      var input = $("field-" + match[1]);
      input.setAttribute("aria-invalid", "true");
      first = first || input;
    });
    if (first) { first.focus(); }
  }

  function startNew() {
    current = null;
    clearErrors();
    fillForm({});
    clearGeometry();
    geometryChanged = false;
    $("item-form").removeAttribute("data-item-id");
    $("form-heading").textContent = t("planner.editor.new_heading", { layer: layer.title });
  }
  $("new-item").addEventListener("click", startNew);

  function editing(feature, etag) {
    current = { id: feature.id, etag: etag };
    $("item-form").setAttribute("data-item-id", String(feature.id));
    $("form-heading").textContent = t("planner.editor.edit_heading", { id: feature.id });
  }

  function loadItem(id) {
    return api("GET", "editor/items/" + encodeURIComponent(layer.id) + "/" + encodeURIComponent(id))
      .then(function (res) {
        if (!res.ok) { $("form-errors").textContent = t("planner.editor.error", { detail: res.detail }); return; }
        clearErrors();
        fillForm(res.data.properties || {});
        showGeometry(res.data.geometry);
        editing(res.data, res.etag);
        QK.loaded();
      });
  }
  $("reload-button").addEventListener("click", function () { if (current) { loadItem(current.id); } });

  $("item-form").addEventListener("submit", function (event) {
    event.preventDefault();
    clearErrors();
    var props = {};
    layer.properties.forEach(function (p) {
      var value = readValue(p);
      if (current || value !== null) { props[p.name] = value; }  // null removes (merge patch)
    });
    var geom = geometry();
    if (!current && geom === undefined) {
      $("geometry-error").textContent = t("planner.editor.no_geometry");
      return;
    }
    var request;
    if (current) {
      var patch = { properties: props };
      if (geometryChanged && geom !== undefined) { patch.geometry = geom; }
      request = api("PATCH", "collections/" + encodeURIComponent(layer.id) + "/items/" + current.id,
                    patch, { "Content-Type": "application/merge-patch+json", "If-Match": current.etag });
    } else {
      request = api("POST", "collections/" + encodeURIComponent(layer.id) + "/items",
                    { type: "Feature", geometry: geom, properties: props },
                    { "Content-Type": "application/geo+json" });
    }
    $("save-button").disabled = true;
    request.then(function (res) {
      $("save-button").disabled = false;
      if (res.ok) {
        editing(res.data, res.etag);
        fillForm(res.data.properties || {});
        showGeometry(res.data.geometry);
        $("save-status").textContent = t("planner.editor.saved", { id: res.data.id }) +
          (res.consentRevoked ? " " + t("planner.editor.consent_revoked") : "");
        $("save-status").className = "saved";
        loadItems();
      } else if (res.status === 412) {
        $("form-errors").textContent = t("planner.editor.conflict");
        $("reload-button").hidden = false;
      } else if (res.status === 401) {
        logout();
        $("login-status").textContent = t("planner.editor.login_failed");
      } else if (res.status === 400) {
        showErrors(res.detail);
      } else {
        $("form-errors").textContent = t("planner.editor.error", { detail: res.detail });
      }
      QK.loaded();
    }, function () {
      $("save-button").disabled = false;
      $("form-errors").textContent = t("planner.editor.error", { detail: "network" });
    });
  });

  /* ---- the layer's items in view: click one to edit it ---- */
  function loadItems() {
    if (!layer) { return; }
    var mine = ++itemsRequest, shown = layer;
    var url = "collections/" + encodeURIComponent(layer.id) + "/items?limit=1000&bbox=" + QK.bboxOf(map);
    fetch(url, { headers: { Accept: "application/geo+json" } }).then(function (r) {
      return r.ok ? r.json() : { features: [] };
    }).then(function (doc) {
      if (mine !== itemsRequest) { return; }
      itemsLayer.clearLayers();
      L.geoJSON(doc, {
        style: function () { return { color: shown.color, weight: 2, fillOpacity: 0.15 }; },
        pointToLayer: function (feature, latlng) {
          return L.circleMarker(latlng, { radius: 8, color: "#fff", weight: 2, fillColor: shown.color,
                                          fillOpacity: 1, className: "qk-item qk-item-" + feature.id });
        },
        onEachFeature: function (feature, item) {
          var props = feature.properties || {};
          if (shown.label && props[shown.label]) { item.bindTooltip(QK.text(props[shown.label])); }
          item.on("click", function (event) {
            // While an area is being drawn, a click on an item is one more corner.
            if (mode() === "area" && vertices.length && !areaDone) { return; }
            L.DomEvent.stopPropagation(event);
            loadItem(String(feature.id).split(".").pop());
          });
        }
      }).addTo(itemsLayer);
      QK.loaded();
    });
  }
  var moveTimer = null;
  map.on("moveend", function () { window.clearTimeout(moveTimer); moveTimer = window.setTimeout(loadItems, 250); });
  QK.itemIds = function () {
    var ids = [];
    itemsLayer.eachLayer(function (group) {
      group.eachLayer(function (item) { ids.push(String(item.feature.id)); });
    });
    return ids;
  };

  /* ---- the inbox: residents' reports on the layers this key may edit ---- */
  function loadInbox() {
    var list = $("inbox");
    return api("GET", "reports?status=new").then(function (res) {
      list.textContent = "";
      if (!res.ok) { list.appendChild(el("li", { text: t("planner.editor.error", { detail: res.detail }) })); return; }
      if (!res.data.reports.length) { list.appendChild(el("li", { text: t("planner.editor.inbox_empty") })); }
      res.data.reports.forEach(function (r) {
        var known = layers.filter(function (l) { return l.id === r.layer; })[0];
        list.appendChild(el("li", { "class": "card report", "data-id": String(r.id) }, [
          el("p", { "class": "card-kind", text: (known ? known.title : r.layer) + " · " +
                    t("planner.editor.item_no", { id: r.feature_id }) + " · " + QK.formatDate(r.created_at, true) }),
          el("p", { "class": "report-message", text: r.message }),
          r.contact ? el("p", {}, [t("planner.editor.contact") + ": ", QK.link("mailto:" + r.contact, r.contact)]) : null,
          el("div", { "class": "card-actions" }, [
            el("button", { type: "button", "class": "link-button open-item", text: t("planner.editor.open_item"),
                           onclick: function () {
                             if (!layer || layer.id !== r.layer) { chooseLayer(r.layer); }
                             loadItem(r.feature_id);
                           } }),
            el("button", { type: "button", "class": "link-button mark-done", text: t("planner.editor.mark_done"),
                           onclick: function () {
                             api("PATCH", "reports/" + r.id, { status: "done" }).then(loadInbox);
                           } })
          ])
        ]));
      });
      QK.loaded();
    });
  }
  $("inbox-refresh").addEventListener("click", loadInbox);

  /* ?lat=&lon=&zoom= open the map where the work is. */
  var lat = Number(QK.params.get("lat")), lon = Number(QK.params.get("lon"));
  if (QK.params.get("lat") && QK.params.get("lon") && isFinite(lat) && isFinite(lon)) {
    map.setView([lat, lon], Number(QK.params.get("zoom")) || map.getZoom());
  }
  if (token()) { login(token()); } else { $("key-input").focus(); }
})();
