// Progressive enhancement: copy buttons stay hidden unless the clipboard API is available.
(function () {
  if (!navigator.clipboard) return;
  var status = document.getElementById("copy-status");

  function report(button, label, state, message) {
    button.textContent = label;
    button.classList.add(state);
    setTimeout(function () { button.textContent = "Copy"; button.classList.remove(state); }, 1500);
    if (!status) return;
    // Emptied first, so that copying the same block twice is announced twice.
    status.textContent = "";
    setTimeout(function () { status.textContent = message; }, 100);
  }

  document.querySelectorAll("button.copy[data-copy]").forEach(function (button) {
    var source = document.getElementById(button.getAttribute("data-copy"));
    if (!source) return;
    var name = button.getAttribute("aria-label") || "Copy";
    button.hidden = false;
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(source.textContent).then(
        function () { report(button, "Copied", "done", name.replace(/^Copy/, "Copied")); },
        function () {
          report(button, "Copy failed", "failed",
                 name.replace(/^Copy/, "Could not copy") + ": select the text and copy it by hand.");
        }
      );
    });
  });
})();
