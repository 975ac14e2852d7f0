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

    liveCard();
  });

  // liveCard redraws the link form's social preview card as the person
  // types, as the server draws it: an image of the organization (file_…)
  // or of this server's /f/ files is loaded from this origin, any other
  // is shown as its URL, never fetched.
  function liveCard() {
    var card = document.getElementById("card");
    var body = document.getElementById("card-body");
    if (!card || !body) {
      return;
    }
    var own = card.getAttribute("data-own") || "";
    var field = function (id) {
      var e = document.getElementById(id);
      return e ? e.value.trim() : "";
    };
    var el = function (tag, cls, text) {
      var e = document.createElement(tag);
      if (cls) { e.className = cls; }
      if (text) { e.textContent = text; }
      return e;
    };
    // imageText is the image shown as its URL: a link when it is one.
    var imageText = function (image, note) {
      var p = el("p", "card-image");
      p.appendChild(el("small", "", note));
      p.appendChild(document.createTextNode(" "));
      if (/^https?:\/\//i.test(image)) {
        var a = el("a", "", image);
        a.href = image;
        a.rel = "noreferrer";
        p.appendChild(a);
      } else {
        p.appendChild(document.createTextNode(image));
      }
      return p;
    };
    var draw = function () {
      var title = field("preview.title"), desc = field("preview.description"), image = field("preview.image");
      body.textContent = "";
      if (!title && !desc && !image) {
        body.appendChild(el("p", "card-none", "None: they show the destination's own preview."));
        return;
      }
      var fig = el("figure", "card");
      var src = "";
      if (/^file_[0-9A-Za-z]+$/.test(image)) {
        src = "/files/" + image + "/image";
      } else if (own && image.indexOf(own + "/f/") === 0) {
        src = image.slice(own.length);
      }
      if (src) {
        var img = el("img");
        img.alt = "The preview's image";
        img.addEventListener("error", function () {
          if (img.parentNode) {
            img.parentNode.replaceChild(imageText(image, "Image (not found):"), img);
          }
        });
        img.src = src;
        fig.appendChild(img);
      } else if (image) {
        fig.appendChild(imageText(image, "Image (not loaded here, shown as its URL):"));
      }
      var cap = el("figcaption");
      var host = "";
      try { host = new URL(field("url")).host; } catch (e) {}
      cap.appendChild(el("small", "", host));
      if (title) { cap.appendChild(el("strong", "", title)); }
      if (desc) { cap.appendChild(el("span", "", desc)); }
      fig.appendChild(cap);
      body.appendChild(fig);
    };
    // The image is fetched once typing pauses, not for every letter.
    var timer = 0;
    ["url", "preview.title", "preview.description", "preview.image"].forEach(function (id) {
      var e = document.getElementById(id);
      if (e) {
        e.addEventListener("input", function () {
          clearTimeout(timer);
          timer = setTimeout(draw, id === "preview.image" ? 300 : 0);
        });
      }
    });
  }

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
