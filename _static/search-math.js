/* Typesets the maths in search-result snippets (search.html), which otherwise show TeX source such
 * as \(\mathbb E[SAS]\): the snippets are cut from the pages' HTML before MathJax has run on them.
 * The search page itself has no maths, so Sphinx does not load MathJax there: load the local copy.
 */
(function () {
  function start() {
    var results = document.getElementById("search-results");
    if (!results) return;
    var options = document.querySelector('script[src*="documentation_options.js"]');
    if (!options) return;
    var pending = null;
    // A snippet is a window of about 240 characters, so it may start or end inside a formula:
    // drop such half formulas (they cannot be typeset) and mark the cut with an ellipsis.
    function trim(p) {
      var h = p.innerHTML;
      var close = h.indexOf("\\)"), open = h.indexOf("\\(");
      if (close !== -1 && (open === -1 || close < open)) h = "…" + h.slice(close + 2);
      var lastOpen = h.lastIndexOf("\\("), lastClose = h.lastIndexOf("\\)");
      if (lastOpen !== -1 && lastOpen > lastClose) h = h.slice(0, lastOpen) + "…";
      p.innerHTML = h;
      p.dataset.prompticlTrimmed = "1";
    }
    function typeset() {
      results.querySelectorAll("p.context:not([data-prompticl-trimmed])").forEach(trim);
      if (window.MathJax && MathJax.typesetPromise) {
        MathJax.typesetPromise([results]).catch(function () {});
      }
    }
    if (!window.MathJax) {
      window.MathJax = {
        tex: { inlineMath: [["\\(", "\\)"]], displayMath: [["\\[", "\\]"]] },
        startup: { typeset: false, ready: function () { MathJax.startup.defaultReady(); typeset(); } },
      };
      var script = document.createElement("script");
      script.src = options.src.replace(/documentation_options\.js.*$/, "mathjax/tex-chtml.js");
      script.async = true;
      document.head.appendChild(script);
    }
    new MutationObserver(function () {
      clearTimeout(pending);
      pending = setTimeout(typeset, 200);
    }).observe(results, { childList: true, subtree: true });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
