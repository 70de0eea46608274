/* Quartierskarte: helpers shared by the map pages. Every value that came from data reaches the
   page through textContent or setAttribute, never through innerHTML: build nodes with QK.el,
   hand Leaflet content as QK.text(...) (Leaflet inserts a string as HTML, a node as a node),
   and where a library insists on an HTML string (the layer control), escape with
   QK.escapeHTML. */
(function () {
  "use strict";
  var cfg = JSON.parse(document.getElementById("qk-config").textContent);
  var QK = (window.QK = { cfg: cfg, map: window[cfg.map], lang: cfg.lang });

  QK.t = function (key, vars) {
    var text = cfg.messages[key];
    if (text === undefined) { return key; }
    Object.keys(vars || {}).forEach(function (name) {
      text = text.split("{" + name + "}").join(String(vars[name]));
    });
    return text;
  };

  /* el("a", {href: ..., class: ...}, ["text", otherNode]) */
  QK.el = function (tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) {
      var value = attrs[name];
      if (value === null || value === undefined || value === false) { return; }
      if (name === "text") { node.textContent = String(value); }
      else if (name.slice(0, 2) === "on") { node.addEventListener(name.slice(2), value); }
      else { node.setAttribute(name, value === true ? "" : String(value)); }
    });
    (children || []).forEach(function (child) {
      if (child === null || child === undefined || child === "") { return; }
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  };

  /* Only http(s), mailto and tel become links. */
  QK.safeHref = function (value) {
    if (typeof value !== "string") { return null; }
    try {
      var url = new URL(value.trim(), window.location.href);
      return ["http:", "https:", "mailto:", "tel:"].indexOf(url.protocol) >= 0 ? url.href : null;
    } catch (e) { return null; }
  };

  QK.link = function (href, text) {
    var safe = QK.safeHref(href);
    return safe ? QK.el("a", { href: safe, text: text, rel: "noopener" }) : document.createTextNode(text);
  };

  QK.getJSON = function (url) {
    return fetch(url, { headers: { Accept: "application/json" } }).then(function (response) {
      if (!response.ok) { throw new Error("HTTP " + response.status); }
      return response.json();
    });
  };

  QK.formatDistance = function (metres) {
    var fmt = function (n, digits) {
      return new Intl.NumberFormat(cfg.lang, { maximumFractionDigits: digits }).format(n);
    };
    if (metres < 1000) { return fmt(Math.max(10, Math.round(metres / 10) * 10), 0) + " m"; }
    return fmt(metres / 1000, metres < 10000 ? 1 : 0) + " km";
  };

  QK.formatDate = function (value, withTime) {
    if (!value) { return ""; }
    var date = new Date(value);
    if (isNaN(date.getTime())) { return String(value); }
    var options = { dateStyle: "medium", timeZone: "Europe/Berlin" };
    if (withTime) { options.timeStyle = "short"; }
    return new Intl.DateTimeFormat(cfg.lang, options).format(date);
  };

  QK.bboxOf = function (map) {
    var b = map.getBounds();
    var clamp = function (v, lo, hi) { return Math.min(hi, Math.max(lo, v)); };
    return [clamp(b.getWest(), -180, 180), clamp(b.getSouth(), -90, 90),
            clamp(b.getEast(), -180, 180), clamp(b.getNorth(), -90, 90)]
      .map(function (v) { return v.toFixed(5); }).join(",");
  };

  QK.params = new URLSearchParams(window.location.search);

  /* The permalink: the view and filters in the address bar and in the "link to this view". */
  QK.setPermalink = function (values) {
    var params = new URLSearchParams();
    if (cfg.lang) { params.set("lang", cfg.lang); }
    Object.keys(values).forEach(function (name) {
      var value = values[name];
      if (value !== null && value !== undefined && value !== "" && value !== false) {
        params.set(name, value === true ? "1" : String(value));
      }
    });
    if (QK.params.get("now")) { params.set("now", QK.params.get("now")); }
    var url = window.location.pathname + "?" + params.toString();
    window.history.replaceState(null, "", url);
    var link = document.getElementById("permalink");
    if (link) { link.setAttribute("href", url); }
  };

  QK.loaded = function () {
    var body = document.body;
    body.setAttribute("data-loads", String(Number(body.getAttribute("data-loads") || 0) + 1));
  };

  QK.status = function (text) {
    var node = document.getElementById("status");
    if (node) { node.textContent = text || ""; }
  };

  /* Data as Leaflet content (tooltip, popup, divIcon): a span holding it as text. */
  QK.text = function (value, className) {
    return QK.el("span", { "class": className || null,
                           text: value === null || value === undefined ? "" : value });
  };

  /* The one escaping helper, for the few library calls that take nothing but an HTML string:
     text and attribute values alike (quotes too, which innerHTML serialisation leaves). */
  var ENTITIES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;", "'": "&#39;" };
  QK.escapeHTML = function (text) {
    return String(text).replace(/[&<>"']/g, function (c) { return ENTITIES[c]; });
  };
})();
