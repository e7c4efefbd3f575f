// Live updates: every refresh interval, re-read the page and swap in the parts marked data-live.
// The server shares each read between viewers, so open pages do not multiply storage calls.
// No inline script exists anywhere (the page's Content-Security-Policy allows none).
(function () {
  'use strict';
  var ms = Number(document.body.getAttribute('data-refresh-ms')) || 2000;
  var busy = false;
  function refresh() {
    if (busy || document.hidden || !document.querySelector('[data-live]')) return;
    busy = true;
    fetch(location.href, { headers: { 'x-jobshard-live': '1' }, credentials: 'same-origin' })
      .then(function (r) {
        return r.ok ? r.text() : null;
      })
      .then(function (text) {
        if (text === null) return;
        var next = new DOMParser().parseFromString(text, 'text/html');
        document.querySelectorAll('[data-live]').forEach(function (el) {
          var fresh = next.querySelector('[data-live="' + el.getAttribute('data-live') + '"]');
          if (fresh) el.replaceWith(document.importNode(fresh, true));
        });
      })
      .catch(function () {})
      .then(function () {
        busy = false;
      });
  }
  setInterval(refresh, ms);
})();
