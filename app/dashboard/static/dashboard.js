// Draws each <canvas data-chart="ID"> from the JSON in <script type="application/json" id="ID">.
// The figures are also in the page's tables, for screen readers and for copying.
(function () {
  "use strict";
  var COLOURS = ["#1f5fa8", "#c05a00", "#1e7b3a", "#7b2fa0", "#a3262a", "#3d4b5c"];

  function percentTicks(value) { return Math.round(value * 1000) / 10 + " %"; }

  function datasets(spec) {
    return spec.series.map(function (s, i) {
      var colour = COLOURS[i % COLOURS.length];
      return {
        label: s.label, data: s.data, type: s.line ? "line" : undefined,
        borderColor: colour, backgroundColor: spec.kind === "line" || s.line ? colour : colour + "cc",
        yAxisID: s.axis === "right" ? "y2" : "y", pointRadius: spec.kind === "curve" ? 0 : 2, borderWidth: 2
      };
    });
  }

  function config(spec) {
    var y = { beginAtZero: true, ticks: spec.percent ? { callback: percentTicks } : {} };
    var scales = { y: y };
    if (spec.series && spec.series.some(function (s) { return s.axis === "right"; })) {
      scales.y2 = { position: "right", beginAtZero: true, grid: { drawOnChartArea: false },
                    ticks: spec.right_percent ? { callback: percentTicks } : {} };
    }
    if (spec.kind === "interval") {
      return {
        type: "bar",
        data: {
          labels: spec.labels,
          datasets: [
            { label: "95 % interval", data: spec.low.map(function (lo, i) { return [lo, spec.high[i]]; }),
              backgroundColor: "#1f5fa866", borderColor: "#1f5fa8", borderWidth: 1, barThickness: 14 },
            { label: "estimate", type: "line", showLine: false, data: spec.estimate,
              borderColor: "#c05a00", backgroundColor: "#c05a00", pointRadius: 5, pointStyle: "rectRot" }
          ]
        },
        options: { indexAxis: "y", scales: { x: { title: { display: true, text: "revenue per customer, variant − control" } } } }
      };
    }
    if (spec.kind === "curve") {
      var points = spec.series[0].data.map(function (v, i) { return { x: spec.points[i], y: v }; });
      var sets = [{ label: spec.series[0].label, data: points, borderColor: COLOURS[0], backgroundColor: COLOURS[0],
                    pointRadius: 0, borderWidth: 2 }];
      if (spec.mark) {
        sets.push({ label: spec.mark.label, data: [{ x: spec.mark.x, y: 0 }, { x: spec.mark.x, y: spec.mark.y }, { x: 0, y: spec.mark.y }],
                    borderColor: COLOURS[1], backgroundColor: COLOURS[1], borderDash: [6, 4], pointRadius: [0, 4, 0], borderWidth: 2 });
      }
      return {
        type: "line", data: { datasets: sets },
        options: { scales: { x: { type: "linear", min: 0, max: 1, ticks: { callback: percentTicks },
                                  title: { display: true, text: "share of buyers, biggest spenders first" } },
                             y: { min: 0, max: 1, ticks: { callback: percentTicks } } } }
      };
    }
    return {
      type: spec.kind === "line" ? "line" : "bar",
      data: { labels: spec.labels, datasets: datasets(spec) },
      options: { scales: spec.stacked ? { x: { stacked: true }, y: { stacked: true, beginAtZero: true } } : scales }
    };
  }

  function draw() {
    if (typeof Chart === "undefined") { return; }
    Chart.defaults.animation = false;
    Chart.defaults.maintainAspectRatio = false;
    Chart.defaults.color = "#1b1f24";
    Chart.defaults.font.family = "system-ui, sans-serif";
    document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      var source = document.getElementById(canvas.getAttribute("data-chart"));
      if (!source) { return; }
      var spec = JSON.parse(source.textContent);
      if (spec.kind === "interval") {  // one bar per variant: as tall as they need
        canvas.parentNode.style.height = (90 + 40 * spec.labels.length) + "px";
      }
      var chart = new Chart(canvas, config(spec));
      canvas.setAttribute("data-drawn", chart.data.datasets.length);
    });
    document.documentElement.setAttribute("data-charts", "drawn");
  }

  document.addEventListener("DOMContentLoaded", draw);
})();
