// Live parts of the dashboard: an element with data-poll="/url" and data-every="N" is
// refreshed from that URL (same origin, an HTML fragment) every N seconds. Nothing else.
"use strict";
document.querySelectorAll("[data-poll]").forEach(function (el) {
  var every = Math.max(1, Number(el.getAttribute("data-every")) || 5) * 1000;
  var url = el.getAttribute("data-poll");
  var timer = setInterval(function () {
    fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (r) {
        if (!r.ok) { clearInterval(timer); return null; }
        return r.text();
      })
      .then(function (html) {
        if (html === null) { return; }
        var box = document.createElement("div");
        box.innerHTML = html;
        var fresh = box.firstElementChild;
        if (fresh) { el.innerHTML = fresh.innerHTML; }
      })
      .catch(function () { clearInterval(timer); });
  }, every);
});
