// malipo console: live refresh. Every page whose <main> has data-refresh="N" re-reads itself
// every N seconds and swaps in the new <main>, only while the tab is visible, never while the
// operator is typing in a form, and without resetting the session's idle clock.
(function () {
  "use strict";
  var main = document.querySelector("main[data-refresh]");
  if (!main) { return; }
  var every = Number(main.getAttribute("data-refresh")) * 1000;
  if (!(every > 0)) { return; }
  var busy = false;
  function editing() {
    var active = document.activeElement;
    return active && main.contains(active) && /^(INPUT|SELECT|TEXTAREA)$/.test(active.tagName);
  }
  function refresh() {
    if (busy || document.visibilityState !== "visible" || editing()) { return; }
    busy = true;
    fetch(window.location.href, { headers: { "X-Console-Poll": "1" }, credentials: "same-origin" })
      .then(function (response) {
        if (response.redirected) { window.location.reload(); return null; }
        return response.ok ? response.text() : null;
      })
      .then(function (text) {
        if (!text) { return; }
        var fresh = new DOMParser().parseFromString(text, "text/html").querySelector("main[data-refresh]");
        if (fresh) { main.replaceChildren.apply(main, Array.from(fresh.childNodes)); }
      })
      .catch(function () { /* the next tick tries again */ })
      .then(function () { busy = false; });
  }
  window.setInterval(refresh, every);
  document.addEventListener("visibilitychange", refresh);
})();
