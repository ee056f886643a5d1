// Small behaviours of the operator pages that htmx does not cover.
(function () {
  "use strict";

  function clearSearchResults() {
    var results = document.getElementById("topsearch-results");
    if (results) results.innerHTML = "";
  }

  // --- The card's action panel: focus goes into the form, Escape closes it -------------------

  // The button that opened the panel's form, so that closing it gives the focus back.
  var actionOpener = null;

  function actionPanel() {
    var panel = document.getElementById("card-action");
    return panel && panel.closest("#customer-card") ? panel : null;
  }

  function focusable(container) {
    return container.querySelector(
      "input:not([type=hidden]):not([disabled]), select:not([disabled]), " +
        "textarea:not([disabled]), button:not([disabled])"
    );
  }

  // After the form arrives: the first field with an error takes the focus (the operator reads
  // what to fix), otherwise the form's first field (the operator types at once).
  function focusActionForm(panel) {
    var form = panel.querySelector("form");
    if (!form) return;
    var invalid = form.querySelector(".has-errors");
    var target = invalid ? focusable(invalid) : null;
    if (!target && form.querySelector(".errors")) {
      // An error about the whole form: read it first.
      target = form.querySelector(".errors");
      target.setAttribute("tabindex", "-1");
    }
    target = target || focusable(form.querySelector(".fields") || form);
    if (target) target.focus();
  }

  function closeActionPanel(panel) {
    panel.innerHTML = "";
    if (actionOpener && document.body.contains(actionOpener)) actionOpener.focus();
    actionOpener = null;
  }

  document.addEventListener("htmx:afterSettle", function (event) {
    var panel = actionPanel();
    if (panel && event.detail && event.detail.target === panel) focusActionForm(panel);
  });

  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    clearSearchResults();
    // Escape closes an open action form (the search box keeps its own Escape).
    var panel = actionPanel();
    if (panel && panel.innerHTML.trim() !== "" && !event.target.closest(".topsearch")) {
      event.preventDefault();
      closeActionPanel(panel);
    }
  });

  document.addEventListener("click", function (event) {
    if (!event.target.closest(".topsearch")) clearSearchResults();

    var opener = event.target.closest('[data-action], [hx-target="#card-action"]');
    if (opener && opener.closest("#customer-card") && !opener.closest("#card-action")) {
      actionOpener = opener.matches("form") ? event.target.closest("button") || opener : opener;
    }

    // "Close" on a card action's form empties the action panel instead of leaving the card.
    var close = event.target.closest("[data-close-action]");
    var panel = close && close.closest("#card-action");
    if (panel && panel.closest("#customer-card")) {
      event.preventDefault();
      closeActionPanel(panel);
    }
  });
})();
