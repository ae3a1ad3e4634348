// The dashboard's only script (served from /ui/static/, allowed by the page's
// Content-Security-Policy): while the page shows a run in flight (<body data-in-flight="true">),
// fetch the same page again every few seconds and swap in its <main>, so a run turns to
// `completed` without a reload; stop once nothing is in flight. Without JavaScript, a
// <noscript> meta refresh does the same by reloading.
"use strict";
(function () {
  var intervalMs = 2000;

  function inFlight() {
    return document.body.getAttribute("data-in-flight") === "true";
  }

  function schedule() {
    if (inFlight()) window.setTimeout(refresh, intervalMs);
  }

  function refresh() {
    fetch(window.location.href, { headers: { Accept: "text/html" }, cache: "no-store" })
      .then(function (response) {
        // A 503 while the database is being created, say: keep the page and try again.
        if (!response.ok) return null;
        return response.text();
      })
      .then(function (text) {
        if (text === null) return;
        var next = new DOMParser().parseFromString(text, "text/html");
        var main = next.querySelector("main");
        var current = document.querySelector("main");
        if (main && current) current.replaceWith(document.importNode(main, true));
        document.body.setAttribute("data-in-flight", next.body.getAttribute("data-in-flight") || "false");
        document.title = next.title;
      })
      .catch(function () { /* the API restarting: try again at the next tick */ })
      .then(schedule);
  }

  schedule();
})();
