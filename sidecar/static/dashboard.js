// The email editor's preview follows what the owner types. Half a second after the last change,
// the form as typed goes to the preview route through the form's own "Preview" button: a POST
// with the form's CSRF token, shown in the preview frame. The frame navigates rather than this
// script fetching the page and writing it in: the preview is served with its own sandboxed
// policy, which a document written into the frame from here would not have (it would inherit
// the dashboard's, which refuses the email's inline styles).
(function () {
  "use strict";
  var form = document.querySelector("form[data-live-preview]");
  if (!form || !form.requestSubmit) {
    return; // without it, the Preview button still does the same on a click
  }
  var button = document.getElementById(form.getAttribute("data-live-preview"));
  var timer = null;

  function refresh() {
    timer = null;
    // A half-typed value (a delay out of range) must not pop up the browser's checks: the
    // preview only needs the copy; saving checks everything.
    var checked = form.noValidate;
    form.noValidate = true;
    try {
      form.requestSubmit(button);
    } finally {
      form.noValidate = checked;
    }
  }

  form.addEventListener("input", function () {
    if (timer !== null) {
      clearTimeout(timer);
    }
    timer = setTimeout(refresh, 500);
  });
})();
