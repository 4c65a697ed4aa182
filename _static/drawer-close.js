/* On a phone the page contents (and the navigation) open in a drawer, a <dialog>
 * (pydata-sphinx-theme 0.17). Tapping an entry jumps to its section but left the drawer open over
 * three quarters of it: close the drawer first, then let the jump happen. The theme's own "close"
 * handler puts the contents back in the sidebar. Checked by tests/book/test_site.py
 * (test_sidebar_buttons_work).
 */
(function () {
  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("a[href]");
    if (!link) return;
    var drawer = link.closest("dialog#pst-secondary-sidebar-modal, dialog#pst-primary-sidebar-modal");
    if (drawer && drawer.open) drawer.close();
  });
})();
