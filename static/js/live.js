/* The live workspace: one event stream per page (live/views.py), and what each event does.
 *
 * screen_pop      a call rings for me: open the caller's card (or the call page's candidates or
 *                 "new customer"), or a notice when a form on the page holds unsaved input
 * ticket_changed  a ticket was opened or changed: the queue re-fetches its results
 * ticket_message  a message on a ticket: its open page re-fetches the conversation
 * notification    something for me (assigned, customer reply, SLA): a toast
 * echo            the benchmark's bare round trip
 */
(function () {
  "use strict";
  var live = document.getElementById("live");
  if (!live || !window.EventSource) { return; }
  var cfg = live.dataset;
  var me = Number(cfg.userId);
  var notices = document.getElementById("live-notices");

  function format(template, values) {
    return template.replace(/\{(\w+)\}/g, function (_, key) { return values[key] || ""; });
  }

  function notice(text, link, linkText) {
    var item = document.createElement("div");
    item.className = "live-notice";
    item.appendChild(document.createTextNode(text + " "));
    if (link) {
      var a = document.createElement("a");
      a.href = link;
      a.textContent = linkText;
      a.className = "live-notice-link";
      item.appendChild(a);
    }
    var close = document.createElement("button");
    close.type = "button";
    close.className = "linklike";
    close.textContent = cfg.tDismiss;
    close.addEventListener("click", function () { item.remove(); });
    item.appendChild(close);
    notices.appendChild(item);
    return item;
  }

  // A form holds unsaved input when a field differs from what the page was loaded with.
  function hasUnsavedInput() {
    var fields = document.querySelectorAll("main form input, main form textarea, main form select");
    for (var i = 0; i < fields.length; i++) {
      var f = fields[i];
      if (f.type === "hidden" || f.type === "submit" || f.type === "button") { continue; }
      if (f.closest("[data-live-ignore]")) { continue; }
      if (f.type === "checkbox" || f.type === "radio") {
        if (f.checked !== f.defaultChecked) { return true; }
      } else if (f.tagName === "SELECT") {
        for (var j = 0; j < f.options.length; j++) {
          if (f.options[j].selected !== f.options[j].defaultSelected) { return true; }
        }
      } else if (f.value !== f.defaultValue) {
        return true;
      }
    }
    return false;
  }

  // The compact card the event carries (server-rendered, escaped HTML), as an element.
  function panelOf(data) {
    if (!data.panel) { return null; }
    var holder = document.createElement("template");
    holder.innerHTML = data.panel;
    return holder.content.firstElementChild;
  }

  // The caller's compact card shows at once (no request); then the full card loads: one known
  // caller's card, or the call page with the candidates or "new customer" with the number.
  // With unsaved input on the page the operator gets the compact card as a notice instead.
  function screenPop(data) {
    var url = data.customer_ids.length === 1
      ? cfg.cardUrl.replace("/0/", "/" + data.customer_ids[0] + "/")
      : cfg.callUrl + "?phone=" + encodeURIComponent(data.phone);
    var panel = panelOf(data);
    if (hasUnsavedInput()) {
      var item = panel ? notice("", null) : notice(format(cfg.tCall, { phone: data.phone }), url, cfg.tOpenCard);
      item.classList.add("screen-pop");
      if (panel) { item.insertBefore(panel, item.firstChild); }
      return;
    }
    if (panel) {
      var shown = document.getElementById("screen-pop");
      shown.replaceChildren(panel);
      shown.hidden = false;
    }
    window.location.assign(url);
  }

  // The queue page: re-fetch its results with the filters it shows (one request at a time).
  var queueRefresh = null;
  function refreshQueue() {
    var results = document.getElementById("queue-results");
    if (!results || !window.htmx) { return; }
    if (queueRefresh) { return; }
    queueRefresh = setTimeout(function () {
      queueRefresh = null;
      window.htmx.ajax("GET", window.location.pathname + window.location.search, {
        target: "#queue-results", swap: "innerHTML"
      });
    }, 100);
  }

  // The ticket page: re-fetch the conversation; a colleague's reply arms the collision warning.
  var ticketPage = document.querySelector("[data-live-ticket]");
  var ticketId = ticketPage ? Number(ticketPage.dataset.liveTicket) : null;
  var colleagueReplied = false;
  var others = [];

  function refreshConversation() {
    fetch(window.location.pathname, { credentials: "same-origin" })
      .then(function (r) { return r.text(); })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.querySelector("ol.conversation");
        var current = document.querySelector("ol.conversation");
        if (fresh && current) { current.replaceWith(fresh); }
      });
  }

  function ticketMessage(data) {
    if (data.ticket_id !== ticketId) { return; }
    if (data.author_kind === "operator" && data.author_user_id !== me && !data.is_internal) {
      colleagueReplied = true;
    }
    refreshConversation();
  }

  var handlers = {
    screen_pop: screenPop,
    ticket_changed: function () { refreshQueue(); },
    ticket_message: function (data) { refreshQueue(); if (ticketId) { ticketMessage(data); } },
    notification: function (data) {
      notice(data.text, data.url, data.link_text).classList.add("notification");
      var badge = document.getElementById("notifications-count");
      if (badge) { badge.textContent = String(Number(badge.textContent || 0) + 1); badge.hidden = false; }
    },
    echo: function (data) {
      document.dispatchEvent(new CustomEvent("live:echo", { detail: data }));
    }
  };

  var source = new EventSource(cfg.eventsUrl);
  Object.keys(handlers).forEach(function (name) {
    source.addEventListener(name, function (event) {
      handlers[name](JSON.parse(event.data));
    });
  });
  // Subscribed on the server: from now on no event for this page is missed.
  source.addEventListener("ready", function () { document.documentElement.dataset.live = "ready"; });
  window.addEventListener("pagehide", function () { source.close(); });

  if (!ticketId) { return; }

  // Presence on a ticket page: beat every few seconds, show who else has it open.
  var presenceBox = document.getElementById("ticket-presence");
  var reply = document.querySelector("form.reply-form");
  var replyBody = reply ? reply.querySelector("textarea") : null;
  var csrf = reply ? reply.querySelector("input[name=csrfmiddlewaretoken]") : null;

  function state() {
    return replyBody && replyBody.value.trim() ? "replying" : "viewing";
  }

  function beat() {
    var body = new URLSearchParams({ ticket: String(ticketId), state: state() });
    return fetch(cfg.presenceUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrf ? csrf.value : "" },
      body: body
    }).then(function (r) { return r.ok ? r.json() : { others: [] }; })
      .then(function (answer) {
        others = answer.others;
        if (presenceBox) {
          presenceBox.textContent = others.map(function (o) {
            return format(o.state === "replying" ? cfg.tReplying : cfg.tViewing, { name: o.name });
          }).join(" · ");
        }
        return others;
      });
  }
  beat();
  setInterval(beat, 5000);
  if (replyBody) {
    var typing = null;
    replyBody.addEventListener("input", function () {
      clearTimeout(typing);
      typing = setTimeout(beat, 300);
    });
  }

  // The collision warning: ask before sending when a colleague replied or is replying.
  if (reply) {
    reply.addEventListener("submit", function (event) {
      if (reply.dataset.confirmed === "1") { return; }
      event.preventDefault();
      beat().catch(function () { return others; }).then(function () {
        var replying = others.filter(function (o) { return o.state === "replying"; });
        var question = null;
        if (colleagueReplied) {
          question = cfg.tCollisionReplied;
        } else if (replying.length) {
          question = format(cfg.tCollisionReplying, { name: replying[0].name });
        }
        if (question === null || window.confirm(question)) {
          reply.dataset.confirmed = "1";
          reply.requestSubmit();
        }
      });
    });
  }
})();
