/* The studio's own behaviour, kept out of the pages so they carry no inline script.
   htmx reads the CSRF header from <body hx-headers>; nothing else is needed globally yet. */
(function () {
  "use strict";
  // A "confirm" attribute on a form asks before it submits (plain forms; htmx has hx-confirm).
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form instanceof HTMLFormElement && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
      event.preventDefault();
    }
  });
})();
