// H0p dashboard: the few things a page does in the browser. Every page
// works without this file.
(function () {
  "use strict";

  // Tell the server the browser's timezone, for the times it parses and
  // shows in forms.
  try {
    var tz = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (tz && document.cookie.indexOf("h0p_tz=" + encodeURIComponent(tz)) < 0) {
      document.cookie = "h0p_tz=" + encodeURIComponent(tz) + "; path=/; max-age=31536000; samesite=lax";
    }
  } catch (e) {}

  document.addEventListener("DOMContentLoaded", function () {
    // Times: UTC in the page, the browser's timezone on screen.
    var fmt = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
    document.querySelectorAll("time[datetime]").forEach(function (t) {
      var d = new Date(t.getAttribute("datetime"));
      if (!isNaN(d)) {
        t.title = t.textContent;
        t.textContent = fmt.format(d);
      }
    });

    // Copy buttons: the short link to the clipboard, said aloud too.
    document.querySelectorAll("button[data-copy]").forEach(function (b) {
      b.addEventListener("click", function () {
        var text = b.getAttribute("data-copy");
        var done = function () {
          var label = b.textContent;
          b.textContent = "Copied";
          b.setAttribute("aria-live", "polite");
          setTimeout(function () { b.textContent = label; }, 1500);
        };
        if (navigator.clipboard && window.isSecureContext) {
          navigator.clipboard.writeText(text).then(done, function () { fallback(text); done(); });
        } else {
          fallback(text);
          done();
        }
      });
    });
  });

  // fallback copies through a selected text area, where the clipboard API
  // is not offered (plain http on a name other than localhost).
  function fallback(text) {
    var ta = document.createElement("textarea");
    ta.value = text;
    ta.setAttribute("readonly", "");
    ta.className = "offscreen";
    document.body.appendChild(ta);
    ta.select();
    try { document.execCommand("copy"); } catch (e) {}
    document.body.removeChild(ta);
  }
})();
