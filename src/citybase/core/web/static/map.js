/* The console's maps (core/web/maps.py): outlines from /regions/outlines as the base layer (no
   tiles), points from the page's JSON block, clustered; layers toggled by the legend's names. */
(function () {
  "use strict";

  function draw(el) {
    var config = JSON.parse(document.getElementById(el.dataset.config).textContent);
    var legend = document.getElementById(el.id + "-legend");
    function label(key) {
      var item = legend && legend.querySelector('[data-layer="' + key + '"]');
      return item ? item.textContent.trim() : key;
    }
    // no tile layer to give them: the zoom limits are set here (markercluster needs maxZoom)
    var map = L.map(el, { zoomSnap: 0.25, minZoom: 6, maxZoom: 17, attributionControl: false });
    map.setView([26.08, 119.3], 9);
    var overlays = {};
    var bounds = null;
    function grow(b) {
      if (!b || !b.isValid()) return;
      bounds = bounds ? bounds.extend(b) : L.latLngBounds(b.getSouthWest(), b.getNorthEast());
      map.fitBounds(bounds, { padding: [8, 8] });
    }

    config.points.forEach(function (layer) {
      var group = layer.cluster ? L.markerClusterGroup({ showCoverageOnHover: false, maxClusterRadius: 40 }) : L.layerGroup();
      layer.items.forEach(function (p) {
        var m = L.circleMarker([p[0], p[1]], { radius: 6, className: "pt " + layer.cls + " " + (p[4] || "") });
        var a = document.createElement("a");
        a.href = p[3];
        a.textContent = p[2];
        m.bindPopup(a);
        group.addLayer(m);
      });
      group.addTo(map);
      overlays[label(layer.key)] = group;
      if (layer.items.length && !config.outlines.length) grow(L.latLngBounds(layer.items.map(function (p) { return [p[0], p[1]]; })));
    });

    // looked up at the click: pickers.js may have replaced the list with a hidden field since
    function pickerField() { return document.querySelector('form [name="region"]'); }
    var focused = config.outlines.some(function (o) { return o.focus; });
    config.outlines.forEach(function (layer) {
      var geo = L.geoJSON(null, {
        style: function (f) {
          var cls = "outline" + (layer.focus ? " focus" : "");
          if (layer.heat) cls += " heat-" + (layer.heat[f.properties.code] || 0);
          return { className: cls };
        },
        onEachFeature: function (f, shape) {
          var text = f.properties.name;
          if (layer.counts) text += " " + (layer.counts[f.properties.code] || 0);
          shape.bindTooltip(text, { sticky: true });
          if (layer.link) {
            shape.on("click", function () { window.location.href = layer.link + encodeURIComponent(f.properties.code); });
          }
          if (layer.pick && pickerField()) {
            shape.on("click", function () {
              var picker = pickerField();
              var code = f.properties.code;
              if (picker.tagName === "SELECT" && !picker.querySelector('option[value="' + code + '"]')) {
                var o = document.createElement("option");
                o.value = code;
                o.textContent = f.properties.name;
                picker.appendChild(o);
              }
              picker.value = code;
              picker.form.submit();
            });
          }
        },
      });
      geo.addTo(map);
      geo.bringToBack();
      overlays[label(layer.key)] = geo;
      fetch(layer.url, { credentials: "same-origin" })
        .then(function (r) { return r.json(); })
        .then(function (data) {
          geo.addData(data);
          geo.bringToBack();
          // the outlines frame the map: the focused region's, else all of them
          if (layer.focus) { bounds = null; grow(geo.getBounds()); }
          else if (!focused) grow(geo.getBounds());
          el.dataset.outlines = String((+el.dataset.outlines || 0) + data.features.length);
        });
    });
    L.control.layers(null, overlays, { collapsed: false }).addTo(map);
    L.control.scale({ imperial: false }).addTo(map);
  }

  function start() {
    if (typeof L === "undefined") return;
    document.querySelectorAll("div.map[data-config]").forEach(draw);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
