// Every page: the phone menu, and pages that keep themselves current (GET /live/pulse).
(function () {
  "use strict";

  function menu() {
    var header = document.querySelector("header.top");
    var toggle = header && header.querySelector(".menu-toggle");
    if (!toggle) return;
    toggle.addEventListener("click", function () {
      var open = header.classList.toggle("open");
      toggle.setAttribute("aria-expanded", String(open));
    });
  }

  // Three short tones through the Web Audio API (no sound file to fetch). A browser may hold
  // sound back until the page was clicked once; the banner shows either way.
  function beep() {
    var Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) return;
    try {
      var audio = new Context();
      if (audio.state === "suspended") audio.resume();
      [0, 0.3, 0.6].forEach(function (start) {
        var tone = audio.createOscillator();
        var gain = audio.createGain();
        tone.frequency.value = 880;
        gain.gain.value = 0.2;
        tone.connect(gain).connect(audio.destination);
        tone.start(audio.currentTime + start);
        tone.stop(audio.currentTime + start + 0.18);
      });
    } catch (e) { /* no sound is no reason to stop the page */ }
  }

  // Emergencies already announced in this browser tab (so moving between pages does not repeat it).
  function seen() {
    try { return JSON.parse(sessionStorage.getItem("emergencies-seen") || "null"); } catch (e) { return null; }
  }

  function banner(emergencies) {
    var box = document.getElementById("emergency-banner");
    if (!box) return;
    var known = seen();
    var fresh = known === null ? [] : emergencies.filter(function (e) { return known.indexOf(e.number) < 0; });
    var numbers = emergencies.map(function (e) { return e.number; }).concat(known || []);
    sessionStorage.setItem("emergencies-seen", JSON.stringify(numbers.slice(0, 200)));
    box.replaceChildren();
    if (!emergencies.length) { box.hidden = true; return; }
    var title = document.createElement("strong");
    title.textContent = (fresh.length ? box.dataset.new : box.dataset.title) + ": ";
    box.appendChild(title);
    emergencies.forEach(function (e, i) {
      if (i) box.appendChild(document.createTextNode(" · "));
      var link = document.createElement("a");
      link.href = e.url;
      link.textContent = e.number + " (" + e.village + ", " + e.state + ")";
      box.appendChild(link);
    });
    box.classList.toggle("new", fresh.length > 0);
    box.hidden = false;
    if (fresh.length) {
      box.dataset.announced = fresh.map(function (e) { return e.number; }).join(" ");
      beep();
    }
  }

  function live() {
    var url = document.body.dataset.pulse;
    if (!url) return;
    var every = 1000 * parseFloat(document.body.dataset.liveSeconds || "10");
    var title = document.title;
    var stamp = null;
    var timer = null;

    function redraw() {
      if (!window.htmx) return;
      document.querySelectorAll("[data-live]").forEach(function (region) {
        window.htmx.trigger(region, "live");
      });
      document.dispatchEvent(new CustomEvent("control-room:changed"));
    }

    function ask() {
      clearTimeout(timer);
      if (document.visibilityState !== "visible") return;  // asked again when the tab is looked at
      fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (response) {
          if (!response.ok || !(response.headers.get("Content-Type") || "").includes("json")) {
            throw new Error("signed out or unavailable");
          }
          return response.json();
        })
        .then(function (now) {
          document.title = now.waiting ? "(" + now.waiting + ") " + title : title;
          banner(now.emergencies);
          if (stamp !== null && now.stamp !== stamp) redraw();
          stamp = now.stamp;
          document.body.dataset.stamp = stamp;
          timer = setTimeout(ask, every);
        })
        .catch(function () { timer = setTimeout(ask, every * 3); });
    }

    document.addEventListener("visibilitychange", ask);
    ask();
  }

  // A redrawn part whose version moved (a case decided elsewhere): the forms below it are stale.
  function moved() {
    var first = {};
    document.querySelectorAll("[data-version]").forEach(function (el) { first[el.id] = el.dataset.version; });
    document.body.addEventListener("htmx:afterSettle", function () {
      document.querySelectorAll("[data-version]").forEach(function (el) {
        if (el.id in first && first[el.id] !== el.dataset.version) {
          document.querySelectorAll("[data-moved-notice]").forEach(function (notice) { notice.hidden = false; });
        }
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () { menu(); moved(); live(); });
})();
