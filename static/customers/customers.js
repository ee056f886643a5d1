// Small behaviours of the operator pages that htmx does not cover.
(function () {
  "use strict";

  function clearSearchResults() {
    var results = document.getElementById("topsearch-results");
    if (results) results.innerHTML = "";
  }

  // The top bar's search results close on Escape or a click elsewhere.
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") clearSearchResults();
  });
  document.addEventListener("click", function (event) {
    if (!event.target.closest(".topsearch")) clearSearchResults();

    // "Close" on a card action's form empties the action panel instead of leaving the card.
    var close = event.target.closest("[data-close-action]");
    var panel = close && close.closest("#card-action");
    if (panel && panel.closest("#customer-card")) {
      event.preventDefault();
      panel.innerHTML = "";
    }
  });
})();
