/* An inline formula wider than the text column (a phone screen) cannot wrap: MathJax 3 does not
 * break inline maths. Mark such formulas so that _static/custom.css lets them scroll inside their
 * own box, with the same scroll cues as wide displays, instead of being clipped. Re-checked when
 * the window changes size. Checked by tests/book/test_site.py::test_narrow_overflow_shows_it_scrolls.
 */
(function () {
  var CLASS = "prompticl-wide-inline";
  function mark() {
    document.querySelectorAll('.bd-article mjx-container:not([display="true"])').forEach(function (el) {
      el.classList.remove(CLASS);
      var column = el.closest("p, li, dd, td, .admonition, section") || el.parentElement;
      var box = column.getBoundingClientRect();
      var r = el.getBoundingClientRect();
      if (r.width > box.width || r.right > box.right + 1 || r.left < box.left - 1) el.classList.add(CLASS);
    });
  }
  function start() {
    if (!(window.MathJax && MathJax.startup && MathJax.startup.promise)) return;
    MathJax.startup.promise.then(mark);
    var pending = null;
    window.addEventListener("resize", function () {
      clearTimeout(pending);
      pending = setTimeout(mark, 150);
    });
  }
  if (document.readyState === "complete") {
    start();
  } else {
    window.addEventListener("load", start);
  }
})();
