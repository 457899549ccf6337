/* Behaviour shared by every page, without inline scripts or handlers (the CSP allows neither):
   confirmations of POST forms (data-confirm), selects that submit their form (data-autosubmit),
   "select all" checkboxes of lists, FAB's list actions and its "back" links (javascript: URLs, which
   the CSP blocks). */
(function () {
  "use strict";
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) { event.preventDefault(); }
  }, true);
  document.addEventListener("change", function (event) {
    var box = event.target;
    if (box.hasAttribute && box.hasAttribute("data-autosubmit") && box.form) { box.form.submit(); return; }
    if (!box.classList || !box.classList.contains("azx-check-all")) { return; }
    var table = box.closest("table");
    if (!table) { return; }
    table.querySelectorAll(".azx-row-check").forEach(function (c) { c.checked = box.checked; });
  });
  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest('a[href^="javascript:history.back"]');
    if (link) { event.preventDefault(); window.history.back(); }
  });
  if (window.jQuery && window.AdminActions && document.querySelector(".action_check")) {
    window.jQuery(function () { window.modelActions = new window.AdminActions(); });
  }
})();
