// The language switcher in the top bar submits itself when a language is picked (without
// JavaScript its <noscript> button does). Here, not in an onchange attribute: the Content
// Security Policy allows no inline script.
"use strict";

document.addEventListener("change", (event) => {
  const select = event.target.closest("select[data-submit-on-change]");
  if (select && select.form) {
    select.form.submit();
  }
});
