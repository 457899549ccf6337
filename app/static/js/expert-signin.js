/* 签到 (prevention/handle.html): the browser's position goes with the photo; the messages come from
   the status line's data attributes (translated by the template). */
(function () {
  "use strict";
  var status = document.getElementById("azx-geo-status");
  if (!status) { return; }
  if (!navigator.geolocation) { status.textContent = status.dataset.unsupported; return; }
  navigator.geolocation.getCurrentPosition(function (pos) {
    document.getElementById("azx-lat").value = pos.coords.latitude.toFixed(6);
    document.getElementById("azx-lon").value = pos.coords.longitude.toFixed(6);
    status.textContent = status.dataset.located + "：" + pos.coords.latitude.toFixed(5) + ", " + pos.coords.longitude.toFixed(5);
  }, function () { status.textContent = status.dataset.failed; },
  {enableHighAccuracy: true, timeout: 15000, maximumAge: 60000});
})();
