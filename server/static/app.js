// The dashboard's one script: htmx requests carry the session's CSRF token,
// like every form does. No inline script anywhere (the Content-Security-Policy
// forbids it).
document.addEventListener("htmx:configRequest", function (event) {
  var token = document.body && document.body.dataset.csrf;
  if (token) {
    event.detail.headers["X-CSRF-Token"] = token;
  }
});

// Print buttons of printable pages.
document.addEventListener("click", function (event) {
  if (event.target.closest && event.target.closest("[data-print]")) {
    window.print();
  }
});
