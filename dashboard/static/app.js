// PGTQ dashboard: the queue page's live plots and counts. Everything else is server-rendered.
(function () {
  "use strict";
  var root = document.getElementById("plots");
  if (!root || typeof uPlot === "undefined") return;
  var css = getComputedStyle(document.documentElement);
  function color(name) { return css.getPropertyValue("--" + name).trim(); }
  function line(label, c, extra) {
    var s = { label: label, stroke: c, width: 2 };
    for (var k in extra) s[k] = extra[k];
    return s;
  }
  var specs = {
    depth: { el: "plot-depth", series: [
      line("queued", color("queued")), line("delayed", color("delayed")), line("processing", color("processing")),
      line("retrying", color("retrying")), line("dlq", color("dlq"))] },
    rate: { el: "plot-rate", series: [
      line("completed/s", color("completed"), { fill: "rgba(16,185,129,0.12)" }),
      line("failed/s", color("failed"), { fill: "rgba(239,68,68,0.12)" })] },
    latency: { el: "plot-latency", series: [
      line("p50", color("queued"), { spanGaps: true }), line("p95", color("retrying"), { spanGaps: true })] }
  };
  var charts = {};
  var win = null; // the plots' time window, from the last series
  window.pgtqCharts = charts; // for tests and the console
  function size(el) { return { width: Math.max(el.clientWidth, 300), height: 200 }; }
  function build(key, data) {
    var spec = specs[key], el = document.getElementById(spec.el);
    var opts = size(el);
    opts.series = [{}].concat(spec.series);
    opts.axes = [{}, { size: 48 }];
    // The three plots share one time window, [now - history, now], whatever their data covers.
    opts.scales = {
      x: { time: true, range: function (u, min, max) { return win ? [win.from, win.to] : [min, max]; } },
      y: { range: function (u, min, max) { return [0, Math.max(1, max * 1.1)]; } }
    };
    opts.legend = { live: true };
    charts[key] = new uPlot(opts, data, el);
  }
  function setStats(s) {
    var v = { queued: s.queued, delayed: s.delayed, processing: s.processing, retrying: s.retrying, dlq: s.dlq,
      archived: s.archived };
    for (var k in v) {
      var el = document.querySelector('[data-stat="' + k + '"]');
      if (el) el.textContent = String(v[k]);
    }
    var age = document.querySelector('[data-stat="oldest"]');
    if (age) age.textContent = formatAge(s.oldest_queued_age_seconds);
  }
  function formatAge(s) {
    if (s === null || s === undefined) return "—";
    s = Math.round(s);
    if (s < 60) return s + "s";
    if (s < 3600) return Math.floor(s / 60) + "m " + (s % 60) + "s";
    if (s < 86400) return Math.floor(s / 3600) + "h " + Math.floor((s % 3600) / 60) + "m";
    return Math.floor(s / 86400) + "d " + Math.floor((s % 86400) / 3600) + "h";
  }
  function refresh() {
    fetch(root.dataset.series, { cache: "no-store" }).then(function (r) {
      if (!r.ok) throw new Error("series: HTTP " + r.status);
      return r.json();
    }).then(function (d) {
      setStats(d.stats);
      win = { from: d.from, to: d.to };
      ["depth", "rate", "latency"].forEach(function (k) {
        if (charts[k]) charts[k].setData(d[k]); else build(k, d[k]);
      });
      root.dataset.updated = String(Date.now());
    }).catch(function (e) { root.dataset.error = String(e); })
      .finally(function () { setTimeout(refresh, Number(root.dataset.refresh) || 2000); });
  }
  window.addEventListener("resize", function () {
    for (var k in charts) charts[k].setSize(size(document.getElementById(specs[k].el)));
  });
  refresh();
})();
