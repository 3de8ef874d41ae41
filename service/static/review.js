// Review queue keys (progressive enhancement: every action is also a plain form).
// j / k: next / previous pair; a: approve the current pair; r: type a reason to reject it.
(function () {
  "use strict";
  var items = Array.prototype.slice.call(document.querySelectorAll(".queue-item"));
  if (!items.length) { return; }
  var current = -1;

  function focusItem(index) {
    if (index < 0 || index >= items.length) { return; }
    if (current >= 0) { items[current].classList.remove("current"); }
    current = index;
    items[current].classList.add("current");
    items[current].focus();
    items[current].scrollIntoView({ block: "start" });
  }

  function typing(target) {
    var tag = target && target.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || (target && target.isContentEditable);
  }

  items.forEach(function (item, index) {
    item.addEventListener("focusin", function () {
      if (current !== index) {
        if (current >= 0) { items[current].classList.remove("current"); }
        current = index;
        item.classList.add("current");
      }
    });
  });

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) { return; }
    var item = current >= 0 ? items[current] : null;
    if (event.key === "j") { focusItem(current + 1); event.preventDefault(); }
    else if (event.key === "k") { focusItem(Math.max(current - 1, 0)); event.preventDefault(); }
    else if (event.key === "a" && item) {
      var approve = item.querySelector(".approve-form");
      if (approve) { event.preventDefault(); approve.requestSubmit(); }
    } else if (event.key === "r" && item) {
      var reason = item.querySelector(".reject-form input[name=reason]");
      if (reason) { event.preventDefault(); reason.focus(); }
    }
  });
})();
