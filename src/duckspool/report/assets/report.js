/* duckspool report: draws each chart spec embedded in the page with Chart.js.
   Specs are data only; the number formats they name are applied here, as in the tables. */
(function () {
  "use strict";
  var nf = new Intl.NumberFormat("en-US", { maximumFractionDigits: 1 });
  function duration(ms) {
    if (ms === null || ms === undefined || isNaN(ms)) return "—";
    if (ms < 1000) return (ms >= 10 ? nf.format(Math.round(ms)) : ms.toFixed(1)) + " ms";
    if (ms < 60000) return (ms / 1000).toFixed(1) + " s";
    if (ms < 3600000) return (ms / 60000).toFixed(1) + " min";
    if (ms < 172800000) return (ms / 3600000).toFixed(1) + " h";
    return nf.format(ms / 86400000) + " d";
  }
  var formats = {
    count: function (v) { return nf.format(v); },
    percent: function (v) { return (v * 100).toFixed(1) + "%"; },
    ms: duration
  };
  function shorten(text) {
    text = String(text);
    return text.length > 40 ? text.slice(0, 39) + "…" : text;
  }
  // Series after the first get a hatch, so stacked and grouped bars differ by more than colour.
  function hatch(color, kind) {
    var size = 8, c = document.createElement("canvas");
    c.width = size; c.height = size;
    var g = c.getContext("2d");
    g.fillStyle = color; g.fillRect(0, 0, size, size);
    g.strokeStyle = "rgba(255,255,255,0.85)"; g.lineWidth = 1.5; g.beginPath();
    if (kind % 3 === 1) { g.moveTo(0, size); g.lineTo(size, 0); }
    else if (kind % 3 === 2) { g.moveTo(0, size / 2); g.lineTo(size, size / 2); }
    else { g.moveTo(size / 2, 0); g.lineTo(size / 2, size); }
    g.stroke();
    return g.createPattern(c, "repeat");
  }
  var source = document.getElementById("duckspool-charts");
  var specs = source ? JSON.parse(source.textContent) : {};
  var rendered = 0;
  Object.keys(specs).forEach(function (id) {
    var spec = specs[id], meta = spec.meta, canvas = document.getElementById(id);
    delete spec.meta;
    if (!canvas || typeof Chart === "undefined") return;
    var format = formats[meta.format] || formats.count;
    var horizontal = spec.options.indexAxis === "y";
    var valueAxis = spec.options.scales[horizontal ? "x" : "y"];
    var categoryAxis = spec.options.scales[horizontal ? "y" : "x"];
    valueAxis.ticks = { callback: function (v) { return format(v); } };
    if (meta.format === "count") valueAxis.ticks.precision = 0;  // no "0.5 events"
    if (spec.type === "line") spec.options.plugins.legend.labels = { usePointStyle: true };
    categoryAxis.ticks = {
      autoSkip: true,
      maxRotation: 50,
      callback: function (v) { return shorten(this.getLabelForValue(v)); }
    };
    spec.options.plugins.tooltip = {
      callbacks: {
        label: function (ctx) {
          var v = horizontal ? ctx.parsed.x : ctx.parsed.y;
          return ctx.dataset.label + ": " + (v === null || v === undefined ? "—" : format(v));
        }
      }
    };
    if (meta.patterns) {
      spec.data.datasets.forEach(function (d, i) {
        if (i > 0) d.backgroundColor = hatch(d.backgroundColor, i);
      });
    }
    new Chart(canvas, spec);
    rendered += 1;
  });
  document.documentElement.setAttribute("data-charts-rendered", String(rendered));
})();
