// The interactive network maps: Leaflet (inlined above), no tile layer, drawn from the page's
// JSON block (#map-data: the country outline as GeoJSON and one map per plan section). A map is
// drawn when its section is first shown (the runs of a comparison are folded). Every text from
// the data goes into the page as text, never as markup. window.allocatorMaps holds the maps by
// section id (r0, r1, ...), for scripting.
(function () {
  "use strict";
  var block = document.getElementById("map-data");
  if (!block || !window.L) {
    return;
  }
  var data = JSON.parse(block.textContent);
  var maps = {};
  window.allocatorMaps = maps;

  function escapeText(s) {
    return String(s).replace(/[&<>"']/g, function (c) {
      return "&#" + c.charCodeAt(0) + ";";
    });
  }

  // hover content: one line per text, as text nodes
  function lines(texts) {
    var box = document.createElement("div");
    texts.forEach(function (t) {
      var line = document.createElement("div");
      line.textContent = t;
      box.appendChild(line);
    });
    return box;
  }

  // the layer control writes its labels as markup: the name escaped, the colour checked
  function label(name, colour) {
    var swatch = /^#[0-9a-fA-F]{6}$/.test(colour)
      ? '<span class="swatch" style="background:' + colour + '"></span>'
      : "";
    return swatch + escapeText(name);
  }

  function draw(box, m) {
    var map = L.map(box, { attributionControl: false, zoomSnap: 0.25 });
    L.control.attribution({ prefix: "Leaflet" }).addAttribution("Natural Earth").addTo(map);
    L.control.scale({ imperial: false }).addTo(map);
    var hosts = {};
    m.hosts.forEach(function (c) {
      hosts[c] = true;
    });
    L.geoJSON(data.outline, {
      interactive: false,
      style: function (f) {
        var host = hosts[f.properties.iso2] === true;
        return {
          color: host ? "#b9b1a2" : "#c8c3b8",
          weight: host ? 0.8 : 0.7,
          fillColor: host ? "#f1ece0" : "#fbfaf7",
          fillOpacity: 1,
          fillRule: "evenodd",
        };
      },
    }).addTo(map);
    var control = L.control.layers(null, null, { collapsed: false }).addTo(map);
    m.corridors.forEach(function (c) {
      var group = L.layerGroup();
      m.legs.forEach(function (leg) {
        if (leg.corridor !== c.name) {
          return;
        }
        var line = L.polyline(leg.points, {
          color: c.colour,
          weight: leg.weight,
          opacity: 0.9,
          className: "lleg",
        });
        line.bindTooltip(lines(leg.text), { sticky: true });
        line.on("add", function () {
          line.getElement().setAttribute("data-leg", leg.leg);
          line.getElement().setAttribute("data-corridor", leg.corridor);
        });
        group.addLayer(line);
      });
      group.addTo(map);
      control.addOverlay(group, label(c.name, c.colour));
    });
    map.createPane("nodes").style.zIndex = 450; // above the legs
    var nodes = L.layerGroup();
    m.nodes.forEach(function (n) {
      var dot = L.circleMarker([n.lat, n.lon], {
        pane: "nodes",
        radius: n.used ? 4 : 2.5,
        color: n.used ? "#ffffff" : "#4a5561",
        weight: 1.2,
        fillColor: n.used ? "#1f2933" : "#ffffff",
        fillOpacity: 1,
        className: "lnode",
      });
      dot.bindTooltip(lines(n.text), { direction: "top", offset: [0, -4] });
      dot.on("add", function () {
        dot.getElement().setAttribute("data-node", n.id);
      });
      nodes.addLayer(dot);
    });
    nodes.addTo(map);
    control.addOverlay(nodes, "nodes");
    map.on("zoomend", function () {
      box.dataset.zoom = String(map.getZoom());
    });
    var right = control.getContainer().offsetWidth + 20; // keep the legs clear of the control
    map.fitBounds(m.bounds, { paddingTopLeft: [10, 10], paddingBottomRight: [right, 10] });
    box.dataset.zoom = String(map.getZoom());
    maps[box.dataset.map] = map;
  }

  document.querySelectorAll("div.lmap").forEach(function (box) {
    var m = data.maps[box.dataset.map];
    if (!m) {
      return;
    }
    function show() {
      if (!maps[box.dataset.map] && !box.closest("details:not([open])")) {
        draw(box, m);
      }
    }
    for (var d = box.closest("details"); d; d = d.parentElement.closest("details")) {
      d.addEventListener("toggle", show);
    }
    show();
  });
})();
