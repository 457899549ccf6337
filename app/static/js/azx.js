/* Behaviour shared by every page, without inline scripts: confirmations of POST buttons, "select all"
   checkboxes of lists, FAB's list actions. */
(function () {
  "use strict";
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) { event.preventDefault(); }
  }, true);
  document.addEventListener("change", function (event) {
    var box = event.target;
    if (!box.classList || !box.classList.contains("azx-check-all")) { return; }
    var table = box.closest("table");
    if (!table) { return; }
    table.querySelectorAll(".azx-row-check").forEach(function (c) { c.checked = box.checked; });
  });
  if (window.jQuery && window.AdminActions && document.querySelector(".action_check")) {
    window.jQuery(function () { window.modelActions = new window.AdminActions(); });
  }
})();
