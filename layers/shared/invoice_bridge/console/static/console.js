// Progressive enhancement only: every page works without this file.
// - [data-copy]: copy the named input's value (the consent link) to the clipboard.
// - [data-live]: refresh the block from the same URL every 15 s while the tab is visible.
(function () {
  "use strict";
  function enableCopy() {
    document.querySelectorAll("button[data-copy]").forEach(function (button) {
      var input = document.getElementById(button.getAttribute("data-copy"));
      if (!input || !navigator.clipboard) { return; }
      button.hidden = false;
      button.addEventListener("click", function () {
        navigator.clipboard.writeText(input.value).then(function () {
          button.textContent = button.getAttribute("data-copied");
        });
      });
    });
  }
  function refreshLive() {
    var blocks = document.querySelectorAll("[data-live]");
    if (!blocks.length || document.hidden) { return; }
    fetch(window.location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (response) {
        if (!response.ok || response.redirected) { throw new Error("stale"); }
        return response.text();
      })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html").querySelectorAll("[data-live]");
        if (fresh.length !== blocks.length) { return; }
        blocks.forEach(function (block, index) {
          if (block.contains(document.activeElement) && document.activeElement !== document.body) { return; }
          if (block.querySelector("input[type=checkbox]:checked")) { return; }  // keep a selection being made
          block.innerHTML = fresh[index].innerHTML;
        });
      })
      .catch(function () { /* keep the page as it is; the next tick tries again */ });
  }
  document.addEventListener("DOMContentLoaded", function () {
    enableCopy();
    if (document.querySelector("[data-live]")) { window.setInterval(refreshLive, 15000); }
  });
})();
