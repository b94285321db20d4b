// Live progress for the tributary console: the open runs' counts arrive as server-sent events
// (`/ops/events`, event `runs`) and replace the numbers in rows marked `data-run-id`. Pages
// work without this script; only the live updates need it.
(function () {
  "use strict";
  if (!window.EventSource) return;
  var status = document.getElementById("live-status");
  var source = new EventSource("/ops/events");
  // A run page reloads when its run changes state (to show the actions that now apply).
  var page = document.body.getAttribute("data-run-page");
  var pageState = document.body.getAttribute("data-run-state");
  var FIELDS = ["state", "paused_for", "pages", "created", "updated", "deleted", "unchanged"];
  // Once the operator submits a form (an action, signing out) or leaves, the page must not
  // reload itself: a reload started after the submission would cancel it, and the click
  // would be lost.
  var leaving = false;
  function leave() {
    leaving = true;
    source.close();
  }
  document.addEventListener("submit", leave, true);
  window.addEventListener("pagehide", leave);
  function reload() {
    if (!leaving) window.location.reload();
  }
  source.addEventListener("open", function () {
    if (status) status.textContent = "on";
  });
  source.addEventListener("error", function () {
    if (status) status.textContent = "reconnecting…";
  });
  source.addEventListener("runs", function (event) {
    var runs = JSON.parse(event.data);
    var seen = false;
    runs.forEach(function (run) {
      if (run.id === page) {
        seen = true;
        if (run.state !== pageState) reload();
      }
      document.querySelectorAll('[data-run-id="' + run.id + '"]').forEach(function (row) {
        FIELDS.forEach(function (field) {
          var cell = row.querySelector('[data-field="' + field + '"]');
          if (cell && cell.textContent !== String(run[field])) cell.textContent = String(run[field]);
        });
      });
    });
    // An open run that left the open list has ended.
    if (page && !seen && ["QUEUED", "RUNNING", "PAUSED"].indexOf(pageState) >= 0) reload();
    if (status) status.textContent = "on, " + runs.length + " open run" + (runs.length === 1 ? "" : "s");
  });
})();
