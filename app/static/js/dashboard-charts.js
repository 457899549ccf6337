/* The 数据大屏 charts, shared by the page (/dashboard/) and the wall display (/dashboard/wall):
   the Heilongjiang map coloured by each city's insured ratio (one piecewise legend; city labels on a
   scatter layer that moves overlapping labels apart, so 佳木斯 and 双鸭山 stay readable), hazards by
   category, and the rectification rate. ECharts is the app's own copy (static/vendor/echarts). */
(function (global) {
  'use strict';
  var PIECES = [
    {min: 0.8, label: '≥ 80%'},
    {min: 0.6, max: 0.8, label: '60% – 80%'},
    {min: 0.4, max: 0.6, label: '40% – 60%'},
    {min: 0.2, max: 0.4, label: '20% – 40%'},
    {min: 0, max: 0.2, label: '< 20%'}
  ];

  // Where each city's label sits beside its point: the eastern cities crowd each other (鹤岗, 佳木斯,
  // 双鸭山, 七台河, 鸡西 lie within 1.5° of each other), so their labels go to different sides.
  var LABEL_SIDES = {
    '230400': 'top', '230800': 'left', '230500': 'right', '230900': 'right', '230300': 'bottom',
    '231000': 'bottom', '230700': 'top', '231200': 'top', '230100': 'bottom', '230600': 'bottom',
    '230200': 'left', '231100': 'right', '232700': 'right'
  };

  function percent(v) { return (Number(v || 0) * 100).toFixed(2) + '%'; }

  function mapOption(geo, data, labels, dark, scale) {
    scale = scale || 1;
    var text = dark ? '#dbe8ff' : '#243b53';
    var nameByCode = {}, centerByCode = {};
    geo.features.forEach(function (f) {
      nameByCode[f.id] = f.properties.name;
      centerByCode[f.id] = f.properties.cp;
    });
    var cities = data.cities || [];
    return {
      tooltip: {trigger: 'item', formatter: function (p) {
        var v = Array.isArray(p.value) ? p.value[2] : p.value;
        return p.name + '<br>' + labels.insured + ': ' + (v === undefined || isNaN(v) ? '-' : percent(v));
      }},
      visualMap: {
        type: 'piecewise', seriesIndex: 0, pieces: PIECES, orient: 'vertical', left: 8, bottom: 8,
        itemWidth: 14 * scale, itemHeight: 10 * scale, textStyle: {color: text, fontSize: 12 * scale},
        // from the lowest ratio to the highest
        inRange: {color: dark ? ['#16345c', '#1e5a96', '#2a7fc9', '#45a8e8', '#8fd3ff']
                              : ['#deebf7', '#9ecae1', '#4292c6', '#2171b5', '#08306b']},
        outOfRange: {color: dark ? '#24344d' : '#eeeeee'}
      },
      geo: {
        map: 'heilongjiang', roam: false, left: '12%', right: '4%', top: '4%', bottom: '4%',
        label: {show: false}, silent: true,
        itemStyle: {borderColor: dark ? '#7fb3ff' : '#ffffff', borderWidth: 1, areaColor: dark ? '#24344d' : '#eeeeee'}
      },
      series: [
        {type: 'map', geoIndex: 0,
         data: cities.map(function (c) { return {name: nameByCode[c.code] || c.name, value: c.insured_ratio}; })},
        {type: 'scatter', coordinateSystem: 'geo', symbolSize: 5 * scale, silent: true,
         itemStyle: {color: dark ? '#ffd54f' : '#d9480f'},
         label: {show: true, position: 'bottom', distance: 4, color: dark ? '#ffffff' : '#102a43',
                 fontSize: 12 * scale, lineHeight: 14 * scale,
                 textBorderColor: dark ? '#0b1a2e' : '#ffffff', textBorderWidth: 3,
                 formatter: function (p) { return p.name + '\n' + percent(p.value[2]); }},
         labelLayout: {moveOverlap: 'shiftY'},
         data: cities.filter(function (c) { return centerByCode[c.code]; }).map(function (c) {
           var cp = centerByCode[c.code];
           return {name: (nameByCode[c.code] || c.name).replace(/(市|地区)$/, ''), value: [cp[0], cp[1], c.insured_ratio],
                   label: {position: LABEL_SIDES[c.code] || 'bottom'}};
         })}
      ]
    };
  }

  function hazardsOption(data, labels, dark, horizontal, scale) {
    scale = scale || 1;
    var text = dark ? '#dbe8ff' : '#243b53';
    var cats = (data.hazard_categories || []).slice();
    if (horizontal) { cats.sort(function (a, b) { return a.found - b.found; }); }
    var names = cats.map(function (h) { return h.name; });
    var category = {type: 'category', data: names, axisLabel: {color: text, fontSize: 11 * scale, interval: 0,
                    rotate: horizontal ? 0 : 40}, axisLine: {lineStyle: {color: text}}};
    var value = {type: 'value', minInterval: 1, axisLabel: {color: text, fontSize: 11 * scale},
                 splitLine: {lineStyle: {color: dark ? '#22406a' : '#e4e7eb'}}};
    return {
      tooltip: {trigger: 'axis', axisPointer: {type: 'shadow'}},
      legend: {data: [labels.found, labels.rectified], textStyle: {color: text, fontSize: 12 * scale}, top: 0},
      grid: horizontal ? {left: 8, right: 16, top: 28 * scale, bottom: 8, containLabel: true}
                       : {left: 40, right: 10, top: 30, bottom: 80},
      xAxis: horizontal ? value : category,
      yAxis: horizontal ? category : value,
      graphic: names.length ? [] : [{type: 'text', left: 'center', top: 'middle',
                                     style: {text: labels.nodata, fill: text, fontSize: 14 * scale}}],
      series: [
        {name: labels.found, type: 'bar', data: cats.map(function (h) { return h.found; }),
         itemStyle: {color: dark ? '#4fc3f7' : '#1f77b4'}},
        {name: labels.rectified, type: 'bar', data: cats.map(function (h) { return h.rectified; }),
         itemStyle: {color: dark ? '#81c784' : '#2ca02c'}}
      ]
    };
  }

  function rateOption(data, labels, dark, scale) {
    scale = scale || 1;
    var text = dark ? '#dbe8ff' : '#243b53';
    var rate = Number(data.rectify_rate || 0);
    return {
      animation: false,
      series: [{
        type: 'gauge', min: 0, max: 100, radius: '92%', center: ['50%', '58%'], startAngle: 200, endAngle: -20,
        progress: {show: true, width: 12 * scale, itemStyle: {color: dark ? '#81c784' : '#2ca02c'}},
        axisLine: {lineStyle: {width: 12 * scale, color: [[1, dark ? '#22406a' : '#e4e7eb']]}},
        axisTick: {show: false}, splitLine: {show: false}, axisLabel: {show: false}, pointer: {show: false},
        title: {show: true, offsetCenter: [0, '38%'], color: text, fontSize: 13 * scale},
        detail: {valueAnimation: false, offsetCenter: [0, '-5%'], color: text, fontSize: 26 * scale,
                 formatter: function (v) { return v.toFixed(2) + '%'; }},
        data: [{value: rate * 100, name: labels.rate}]
      }]
    };
  }

  function loadMap(url) {
    return fetch(url, {credentials: 'same-origin'}).then(function (r) { return r.json(); }).then(function (geo) {
      if (!echarts.getMap('heilongjiang')) { echarts.registerMap('heilongjiang', geo); }
      return geo;
    });
  }

  function loadData(url) {
    return fetch(url, {credentials: 'same-origin', headers: {'Accept': 'application/json'}}).then(function (r) {
      if (!r.ok) { throw new Error('HTTP ' + r.status); }
      return r.json();
    });
  }

  function labelsOf(el) {
    var out = {};
    ['insured', 'found', 'rectified', 'rate', 'open', 'nodata'].forEach(function (k) {
      out[k] = el.getAttribute('data-label-' + k) || k;
    });
    return out;
  }

  global.AzxDashboard = {mapOption: mapOption, hazardsOption: hazardsOption, rateOption: rateOption,
                         loadMap: loadMap, loadData: loadData, labelsOf: labelsOf, percent: percent};
})(window);
