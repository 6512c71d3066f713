document.querySelectorAll("input.route-search").forEach(function (box) {
  var rows = document.getElementById(box.dataset.table).tBodies[0].rows;
  var shown = document.getElementById(box.dataset.count);
  box.addEventListener("input", function () {
    var words = box.value.toLowerCase().split(/\s+/).filter(Boolean);
    var n = 0;
    for (var i = 0; i < rows.length; i++) {
      var text = rows[i].dataset.search;
      var hit = words.every(function (w) { return text.indexOf(w) >= 0; });
      rows[i].hidden = !hit;
      n += hit ? 1 : 0;
    }
    shown.textContent = n + " of " + rows.length + " routes";
  });
});
