/* A table wider than a phone's screen keeps its row labels in view when swiped. narrow-screens.css
 * makes the first cell of every row stick, which is the whole label of a one-level index; a
 * pandas table with a two-level index (chapter 7's regime and model, chapter 8's mixture and loss)
 * has its first level in a cell spanning several rows and its second level first in the other
 * rows, so the second level would scroll away on the rows that start a group. Every header cell
 * before a row's first data cell sticks at its own distance from the table's left edge, so the
 * levels stay side by side. Checked by tests/book/test_site.py (test_wide_tables_keep_their_first_column).
 */
(function () {
  function pin() {
    document.querySelectorAll(".bd-article div.output.text_html table, .bd-article .pst-scrollable-table-container table").forEach(function (table) {
      var body = table.tBodies[0];
      if (!body || !body.querySelector("th")) return;
      var labels = [];
      Array.prototype.forEach.call(table.rows, function (row) {
        for (var i = 0; i < row.cells.length && row.cells[i].tagName === "TH"; i++) labels.push(row.cells[i]);
      });
      // Header rows: only the cells over the label columns (they end where the first data cell starts).
      var first = body.querySelector("td");
      var edge = first ? first.offsetLeft : Infinity;
      labels.forEach(function (cell) {
        cell.classList.remove("row-label");
        cell.style.left = "";
      });
      labels.forEach(function (cell) {
        if (cell.offsetLeft + cell.offsetWidth > edge + 1) return;
        cell.style.left = cell.offsetLeft + "px";
        cell.classList.add("row-label");
      });
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", pin);
  else pin();
  window.addEventListener("resize", pin);
})();
