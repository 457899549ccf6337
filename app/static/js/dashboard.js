/* 数据大屏 as a page of the platform (/dashboard/): the map and the hazards chart (dashboard-charts.js). */
(function () {
  'use strict';
  var box = document.getElementById('dashboard-figures');
  if (!box || !window.echarts || !window.fetch) { return; }
  var D = window.AzxDashboard, labels = D.labelsOf(box);
  Promise.all([D.loadMap(box.getAttribute('data-map-url')), D.loadData(box.getAttribute('data-url'))]).then(function (loaded) {
    var geo = loaded[0], data = loaded[1];
    var mapChart = echarts.init(document.getElementById('dashboard-map'));
    mapChart.setOption(D.mapOption(geo, data, labels, false, 1));
    var hz = echarts.init(document.getElementById('dashboard-hazards'));
    hz.setOption(D.hazardsOption(data, labels, false, false, 1));
    window.addEventListener('resize', function () { mapChart.resize(); hz.resize(); });
    document.body.setAttribute('data-dashboard-ready', '1');
  }).catch(function (err) { if (window.console) { console.error(err); } });
})();
