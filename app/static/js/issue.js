/* 出单 (insurance/issue.html): the proposed premium follows the chosen plan. */
(function () {
  "use strict";
document.querySelectorAll('input[name="plan_id"]').forEach(function (r) {
  r.addEventListener('change', function () { document.getElementById('proposed').textContent = r.dataset.proposed; });
});
})();
