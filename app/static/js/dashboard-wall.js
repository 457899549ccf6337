/* The wall display (/dashboard/wall): draws the charts, refreshes the figures every data-refresh
   seconds (DASHBOARD_REFRESH_SECONDS), redraws on resize. Nothing inline (a strict CSP applies). */
(function () {
  'use strict';
  var wall = document.getElementById('wall');
  if (!wall || !window.echarts || !window.fetch) { return; }
  var D = window.AzxDashboard, labels = D.labelsOf(wall);
  var refresh = Math.max(Number(wall.getAttribute('data-refresh')) || 60, 5) * 1000;
  var charts = {}, geo = null;

  function scale() { return Math.max(Math.min(window.innerHeight / 1080, window.innerWidth / 1920), 0.62) * 1.35; }
  function fmtInt(v) { return Number(v || 0).toLocaleString('zh-CN'); }
  function fmtMoney(v) {
    return Number(v || 0).toLocaleString('zh-CN', {minimumFractionDigits: 2, maximumFractionDigits: 2});
  }
  function fill(name, values) {
    return (wall.getAttribute('data-text-' + name) || '').replace(/\{(\w+)\}/g, function (_m, k) { return values[k]; });
  }
  function chart(id) {
    if (!charts[id]) { charts[id] = echarts.init(document.getElementById(id), null, {renderer: 'canvas'}); }
    return charts[id];
  }
  function cell(text) { var td = document.createElement('td'); td.textContent = text; return td; }

  function figures(data) {
    var shown = {
      project_total: fmtInt(data.project_total), registration_ratio: D.percent(data.registration_ratio),
      insured_ratio: D.percent(data.insured_ratio), insured_projects: fmtInt(data.insured_projects),
      claims: fmtInt(data.claims), settled: fmtMoney(data.settled)
    };
    Object.keys(shown).forEach(function (key) {
      var el = wall.querySelector('[data-figure="' + key + '"]');
      if (el) { el.textContent = shown[key]; }
    });
    var body = document.querySelector('#city-table tbody');
    var rows = [[wall.querySelector('.wall-total td').textContent, data.project_total, data.insured_projects,
                 data.insured_ratio, data.claims, data.settled, null]];
    (data.cities || []).forEach(function (c) {
      rows.push([c.name, c.projects, c.insured, c.insured_ratio, c.claims, c.settled, c.code]);
    });
    var fresh = document.createDocumentFragment();
    rows.forEach(function (r, i) {
      var tr = document.createElement('tr');
      if (i === 0) { tr.className = 'wall-total'; } else { tr.setAttribute('data-code', r[6]); }
      [r[0], fmtInt(r[1]), fmtInt(r[2]), D.percent(r[3]), fmtInt(r[4]), fmtMoney(r[5])].forEach(function (t) {
        tr.appendChild(cell(t));
      });
      fresh.appendChild(tr);
    });
    body.replaceChildren(fresh);
    document.getElementById('inspection-summary').textContent = fill('inspection', {
      a: fmtInt(data.hazards_found), b: fmtInt(data.hazards_rectified), c: D.percent(data.rectify_rate)
    });
  }

  function draw(data) {
    var s = scale();
    chart('dashboard-map').setOption(D.mapOption(geo, data, labels, true, s), true);
    chart('dashboard-hazards').setOption(D.hazardsOption(data, labels, true, true, s), true);
    chart('dashboard-rate').setOption(D.rateOption(data, labels, true, s), true);
  }

  function stamp(name, when) {
    var t = when.toLocaleTimeString('zh-CN', {hour12: false});
    document.getElementById('wall-updated').textContent = fill(name, {time: t});
  }

  var last = null;
  function update() {
    return D.loadData(wall.getAttribute('data-url')).then(function (data) {
      last = data;
      figures(data);
      draw(data);
      stamp('updated', data.as_of ? new Date(data.as_of) : new Date());  // when the figures were computed
      document.body.setAttribute('data-dashboard-ready', '1');
    }).catch(function (err) {
      stamp('failed', new Date(Date.now() + refresh));
      if (window.console) { console.warn('dashboard refresh failed', err); }
    });
  }

  D.loadMap(wall.getAttribute('data-map-url')).then(function (g) {
    geo = g;
    return update();
  }).then(function () {
    window.setInterval(update, refresh);
  });

  var pending = null;
  window.addEventListener('resize', function () {
    window.clearTimeout(pending);
    pending = window.setTimeout(function () {
      Object.keys(charts).forEach(function (k) { charts[k].resize(); });
      if (last && geo) { draw(last); }
    }, 150);
  });
})();
