/* Punctuation after an inline formula stays on the formula's line. A browser may break a line
 * between a formula (an inline box) and the comma or full stop after it, stranding the
 * punctuation at the start of the next line (issue 21). Once MathJax has typeset the page, each
 * inline formula and the punctuation that follows it are wrapped in one span that does not break
 * (custom.css: .prompticl-nowrap). Checked by tests/book/test_site.py::test_no_stranded_punctuation.
 */
(function () {
  var PUNCTUATION = /^[.,;:!?)\]\u2019\u201d]+/;
  function glue() {
    document.querySelectorAll('.bd-article mjx-container:not([display="true"])').forEach(function (el) {
      // Sphinx puts inline maths in <span class="math">; MathJax replaces the span's content.
      var host = el.parentElement && el.parentElement.matches("span.math") && el.parentElement.childNodes.length === 1
        ? el.parentElement : el;
      if (host.parentElement && host.parentElement.classList.contains("prompticl-nowrap")) return;
      var next = host.nextSibling;
      if (!next || next.nodeType !== Node.TEXT_NODE) return;
      var m = PUNCTUATION.exec(next.data);
      if (!m) return;
      var span = document.createElement("span");
      span.className = "prompticl-nowrap";
      host.parentNode.insertBefore(span, host);
      span.appendChild(host);
      span.appendChild(document.createTextNode(m[0]));
      next.data = next.data.slice(m[0].length);
    });
  }
  function start() {
    if (window.MathJax && MathJax.startup && MathJax.startup.promise) MathJax.startup.promise.then(glue);
  }
  if (document.readyState === "complete") {
    start();
  } else {
    window.addEventListener("load", start);
  }
})();
