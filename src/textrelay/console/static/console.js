// textrelay console: live updates over server-sent events. When something changes, the part
// of the page marked #live-region is fetched again and swapped in; nothing else moves, so
// focus, scroll and forms the user is typing in stay where they are.
(function () {
  "use strict";
  var live = document.body.getAttribute("data-live");
  var region = document.getElementById("live-region");
  if (!live || !region || !window.EventSource) return;
  var busy = false, again = false;

  function partialUrl() {
    var url = new URL(window.location.href);
    url.searchParams.set("partial", "1");
    return url.toString();
  }

  function refresh() {
    if (busy) { again = true; return; }
    busy = true;
    var known = {};
    region.querySelectorAll("tr[data-sid]").forEach(function (row) { known[row.dataset.sid] = true; });
    fetch(partialUrl(), { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (html === null) return;
        var open = {};
        region.querySelectorAll("details[open]").forEach(function (d, i) { open[i] = true; });
        region.innerHTML = html;
        region.querySelectorAll("details").forEach(function (d, i) { if (open[i]) d.open = true; });
        region.querySelectorAll("tr[data-sid]").forEach(function (row) {
          if (!known[row.dataset.sid]) row.classList.add("fresh");
        });
      })
      .finally(function () {
        busy = false;
        if (again) { again = false; refresh(); }
      });
  }

  var source = new EventSource("/console/events");
  // On every (re)connection: changes made since the page was rendered, or while the stream
  // was down, were never announced to this page, so fetch the region once.
  source.addEventListener("open", function () {
    document.body.classList.add("connected");
    refresh();
  });
  source.addEventListener("error", function () { document.body.classList.remove("connected"); });
  source.addEventListener("change", refresh);

  // "/" focuses the search box, as in many tools.
  document.addEventListener("keydown", function (event) {
    var target = event.target;
    if (event.key === "/" && !(target instanceof HTMLInputElement) && !(target instanceof HTMLTextAreaElement)) {
      event.preventDefault();
      document.getElementById("search").focus();
    }
  });
})();
