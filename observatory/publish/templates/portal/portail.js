/* Filter the territories of the portal as the user types (accent- and case-insensitive).
   Same normalisation as observatory.publish.portal.normalize: no accents, lower case,
   anything but letters and digits becomes a space. Every word typed must start a word
   of the territory's name, code or level ("rhone" finds "Auvergne-Rhône-Alpes"). */
(function () {
  "use strict";
  function normalize(text) {
    return text.normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase()
      .replace(/[^a-z0-9]+/g, " ").trim();
  }
  var input = document.getElementById("recherche");
  var count = document.getElementById("compte");
  var none = document.getElementById("aucun");
  var items = Array.prototype.slice.call(document.querySelectorAll("li.territoire"));
  var groups = Array.prototype.slice.call(document.querySelectorAll("section.groupe:not(.annexe)"));
  var keys = items.map(function (li) { return " " + li.getAttribute("data-search"); });

  /* EPCI portraits are listed only when a search finds them (1 250 of them would bury the others). */
  var epci = items.map(function (li) { return li.getAttribute("data-niveau") === "epci"; });

  function apply() {
    var words = normalize(input.value).split(" ").filter(Boolean);
    var shown = 0;
    items.forEach(function (li, i) {
      var ok = words.length === 0 ? !epci[i]
        : words.every(function (w) { return keys[i].indexOf(" " + w) !== -1; });
      li.hidden = !ok;
      if (ok) { shown += 1; }
    });
    groups.forEach(function (g) {
      g.hidden = g.querySelector("li.territoire:not([hidden])") === null;
    });
    count.textContent = shown + (shown > 1 ? " territoires" : " territoire");
    none.hidden = shown !== 0;
  }
  input.addEventListener("input", apply);
  if (input.value) { apply(); }
})();
