/* 在线填报 (insurance/application_form.html): a broker limits the insurers to its partners; the 用户协议
   link carries the chosen insurer, broker and plan. */
(function () {
  var broker = document.getElementById('f-broker'), insurer = document.getElementById('f-insurer');
  var link = document.getElementById('agreement-link'), base = link.getAttribute('href');
  function partners() {
    var opt = broker.options[broker.selectedIndex], ids = opt && opt.dataset.partners ? opt.dataset.partners.split(',') : null;
    Array.prototype.forEach.call(insurer.options, function (o) {
      if (!o.value) return;
      o.hidden = o.disabled = !!ids && ids.indexOf(o.value) < 0;
    });
    if (insurer.selectedOptions[0] && insurer.selectedOptions[0].disabled) insurer.value = '';
  }
  function agreement() {
    var plan = document.querySelector('input[name="plan_id"]:checked');
    var q = new URLSearchParams({insurer_id: insurer.value, broker_id: broker.value, plan_id: plan ? plan.value : ''});
    link.setAttribute('href', base + '?' + q.toString());
  }
  broker.addEventListener('change', function () { partners(); agreement(); });
  insurer.addEventListener('change', agreement);
  document.querySelectorAll('input[name="plan_id"]').forEach(function (r) { r.addEventListener('change', agreement); });
  partners(); agreement();
})();
