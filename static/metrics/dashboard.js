// Draws each dashboard chart from the timeseries API: the figure and its 95% band.
(function () {
  "use strict";
  const charts = new Map();

  function draw(canvas) {
    if (typeof Chart === "undefined") return;
    fetch(canvas.dataset.url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then((response) => (response.ok ? response.json() : Promise.reject(response.status)))
      .then((series) => {
        const labels = series.points.map((p) => p.start);
        const dataset = (key, extra) => Object.assign({ data: series.points.map((p) => p[key]), pointRadius: 0, spanGaps: true }, extra);
        if (charts.has(canvas)) charts.get(canvas).destroy();
        charts.set(canvas, new Chart(canvas, {
          type: "line",
          data: {
            labels: labels,
            datasets: [
              dataset("ci_low", { label: "95% low", borderWidth: 0, fill: false }),
              dataset("ci_high", { label: "95% high", borderWidth: 0, fill: "-1", backgroundColor: "rgba(37, 99, 235, 0.12)" }),
              dataset("value", { label: canvas.dataset.label, borderColor: "rgb(37, 99, 235)", pointRadius: 2 }),
            ],
          },
          options: {
            animation: false,
            plugins: { legend: { display: false }, tooltip: { filter: (item) => item.datasetIndex === 2 } },
            scales: { x: { ticks: { maxTicksLimit: 8 } } },
          },
        }));
      })
      .catch(() => { canvas.replaceWith(Object.assign(document.createElement("p"), { className: "muted small", textContent: "—" })); });
  }

  function drawAll(root) {
    root.querySelectorAll("canvas[data-metric]").forEach(draw);
  }

  document.addEventListener("DOMContentLoaded", () => drawAll(document));
  document.addEventListener("htmx:afterSwap", (event) => drawAll(event.detail.target));
})();
