// The desk's as-you-type helpers. The pages work without them: the forms submit as usual.
(function () {
  "use strict";

  // Fetch url into element's HTML as the user types; answers arriving late are dropped.
  function live(input, element, url) {
    var timer = null, sent = 0;
    function update() {
      clearTimeout(timer);
      timer = setTimeout(function () {
        var seq = ++sent;
        fetch(url(), { credentials: "same-origin" })
          .then(function (r) { return r.ok ? r.text() : ""; })
          .then(function (html) { if (seq === sent) { element.innerHTML = html; } })
          .catch(function () {});
      }, 200);
    }
    input.addEventListener("input", update);
    // Typed before this script ran (a fast operator on a slow line, or a value the browser restored).
    if (input.value) { update(); }
    // Something changed in the room (site.js): a caller's case may have moved on.
    document.addEventListener("control-room:changed", function () { if (input.value) { update(); } });
  }

  function withParams(base, params) {
    var url = new URL(base, window.location.href);
    Object.keys(params).forEach(function (k) { url.searchParams.set(k, params[k]); });
    return url;
  }

  // Call form: the caller's history as the phone number is typed.
  var phone = document.querySelector("[data-history]");
  var history = document.getElementById("caller-history");
  if (phone && history) {
    live(phone, history, function () {
      var digits = phone.value.replace(/\D/g, "");
      return withParams(phone.dataset.history, { phone: digits.length >= 10 ? phone.value : "" });
    });
  }

  // Call form: village suggestions in the datalist.
  var village = document.querySelector("[data-villages]");
  var options = document.getElementById("village-options");
  if (village && options) {
    var timer = null;
    village.addEventListener("input", function () {
      clearTimeout(timer);
      if (village.value.trim().length < 2) { return; }
      timer = setTimeout(function () {
        fetch(withParams(village.dataset.villages, { q: village.value }), { credentials: "same-origin" })
          .then(function (r) { return r.ok ? r.json() : []; })
          .then(function (labels) {
            options.replaceChildren.apply(options, labels.map(function (label) {
              var option = document.createElement("option");
              option.value = label;
              return option;
            }));
          })
          .catch(function () {});
      }, 150);
    });
  }

  // Call form: the duration counts from the first digit typed, until the operator edits it.
  var duration = document.querySelector("[data-timer]");
  if (phone && duration && !duration.value) {
    var started = null, ticking = null;
    phone.addEventListener("input", function () {
      if (started !== null) { return; }
      started = Date.now();
      ticking = setInterval(function () {
        var s = Math.round((Date.now() - started) / 1000);
        duration.value = Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
      }, 1000);
    });
    duration.addEventListener("input", function () { clearInterval(ticking); });
  }

  // Directory: results as the search is typed, and the address kept for reloads.
  var search = document.querySelector("[data-search]");
  var results = document.getElementById("contacts");
  if (search && results) {
    live(search, results, function () {
      var params = { q: search.value, partial: "1" };
      var chosen = search.form.querySelector("[name=village]");
      if (chosen) { params.village = chosen.value; }
      var url = withParams(search.dataset.search, params);
      url.searchParams.delete("partial");
      window.history.replaceState(null, "", url);
      return withParams(url, { partial: "1" });
    });
  }
})();
