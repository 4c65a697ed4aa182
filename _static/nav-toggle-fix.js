/* Binds the visible sidebar buttons (☰ and the page-contents button).
 *
 * pydata-sphinx-theme 0.17 renders two `.primary-toggle` (and two `.secondary-toggle`) buttons, but
 * it and sphinx-book-theme 1.3 attach their click handlers with `document.querySelector`, i.e. to the
 * first one only, which is hidden (pydata-sphinx-theme issue 2451). Every other button of the same
 * kind forwards its click to that first, bound button, so the theme's own code decides what happens
 * (drawer on a phone, collapse on a desktop). Harmless once the themes are fixed: the first button
 * is then the visible one and gets no forwarding handler. Checked by tests/book/test_site.py.
 */
(function () {
  function bind() {
    [".primary-toggle", ".secondary-toggle"].forEach(function (selector) {
      var buttons = Array.prototype.slice.call(document.querySelectorAll(selector));
      var bound = buttons[0];
      buttons.slice(1).forEach(function (button) {
        button.addEventListener("click", function (event) {
          event.preventDefault();
          event.stopPropagation();
          bound.click();
        });
      });
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", bind);
  } else {
    bind();
  }
})();
