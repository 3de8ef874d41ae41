// The participant form (progressive enhancement: without JavaScript it is one plain form that works).
// 1. After a failed submit, focus goes to the error summary (autofocus does it too; some browsers skip it).
// 2. "Add another offer/wish" adds a box here instead of a round trip; each box gets a "Remove" button.
// 3. Registration on a phone (narrower than 40rem): one step at a time with "Step 2 of 5" and Next/Back.
(function () {
  "use strict";
  var form = document.querySelector("form.profile-form");
  if (!form) { return; }

  var summary = document.querySelector(".error-summary");
  if (summary) { summary.focus(); }

  // --- interest boxes ---

  function renumber(fieldset, button) {
    var boxes = fieldset.querySelectorAll(".interest");
    var key = button.value;
    Array.prototype.forEach.call(boxes, function (box, index) {
      var n = index + 1;
      var area = box.querySelector("textarea");
      var label = box.querySelector("label");
      area.id = key + "-" + n;
      label.setAttribute("for", area.id);
      label.textContent = button.dataset.boxLabel + " " + n;
      var remove = box.querySelector(".remove-box");
      if (remove) {
        remove.textContent = button.dataset.removeLabel.replace("{box}", label.textContent);
        remove.hidden = boxes.length < 2;
      }
    });
    button.hidden = boxes.length >= Number(button.dataset.max);
  }

  function addRemove(box, fieldset, button) {
    var remove = document.createElement("button");
    remove.type = "button";
    remove.className = "link remove-box";
    remove.addEventListener("click", function () {
      var next = box.nextElementSibling && box.nextElementSibling.querySelector("textarea");
      box.remove();
      renumber(fieldset, button);
      (next || button).focus();
    });
    box.appendChild(remove);
  }

  Array.prototype.forEach.call(form.querySelectorAll(".add-box"), function (button) {
    var fieldset = button.closest("fieldset");
    button.type = "button";  // Enter in a text box submits the form, not "add another"
    Array.prototype.forEach.call(fieldset.querySelectorAll(".interest"), function (box) {
      addRemove(box, fieldset, button);
    });
    renumber(fieldset, button);
    button.addEventListener("click", function () {
      var boxes = fieldset.querySelectorAll(".interest");
      var last = boxes[boxes.length - 1];
      var box = last.cloneNode(true);
      box.classList.remove("has-error");
      Array.prototype.forEach.call(box.querySelectorAll(".error, .remove-box"), function (gone) { gone.remove(); });
      var area = box.querySelector("textarea");
      area.value = "";
      area.removeAttribute("aria-invalid");
      area.removeAttribute("aria-describedby");
      area.removeAttribute("autofocus");
      last.after(box);
      addRemove(box, fieldset, button);
      renumber(fieldset, button);
      area.focus();
    });
  });

  // --- steps on a phone ---

  var total = Number(form.dataset.steps || 0);
  if (!total) { return; }
  var steps = Array.prototype.slice.call(form.querySelectorAll(".form-step"));
  var progress = form.querySelector(".form-progress");
  var progressText = form.querySelector(".form-progress-text");
  var submit = form.querySelector(".form-submit");
  var narrow = window.matchMedia("(max-width: 40rem)");
  var current = 0;

  function title(index) { return steps[index].querySelector("h2").textContent; }

  function show(index, moveFocus) {
    current = index;
    var stepping = narrow.matches;
    progress.hidden = !stepping;
    steps.forEach(function (step, i) { step.hidden = stepping && i !== index; });
    // After a failed submit the person fixes one step and sends at once, without walking to the end.
    submit.hidden = stepping && index !== total - 1 && !summary;
    progressText.textContent = form.dataset.progress.replace("{n}", index + 1).replace("{total}", total)
      + ": " + title(index);
    Array.prototype.forEach.call(progress.querySelectorAll("li"), function (item, i) {
      if (i === index) { item.setAttribute("aria-current", "step"); } else { item.removeAttribute("aria-current"); }
      item.classList.toggle("done", i < index);
    });
    if (moveFocus && stepping) {
      steps[index].querySelector("h2").focus();
      progress.scrollIntoView({ block: "start" });
    }
  }

  steps.forEach(function (step, index) {
    var nav = document.createElement("div");
    nav.className = "actions step-nav";
    if (index > 0) {
      var back = document.createElement("button");
      back.type = "button";
      back.textContent = form.dataset.back;
      back.addEventListener("click", function () { show(index - 1, true); });
      nav.appendChild(back);
    }
    if (index < total - 1) {
      var next = document.createElement("button");
      next.type = "button";
      next.className = "primary";
      next.textContent = form.dataset.next.replace("{step}", title(index + 1));
      next.addEventListener("click", function () { show(index + 1, true); });
      nav.appendChild(next);
    }
    step.appendChild(nav);
  });

  function stepOf(element) {
    var step = element && element.closest(".form-step");
    return step ? steps.indexOf(step) : -1;
  }

  // After a failed submit, start at the first step with a mistake; the summary's links open their step.
  var firstError = form.querySelector("[aria-invalid=true]");
  show(Math.max(stepOf(firstError), 0), false);
  if (summary) {
    summary.addEventListener("click", function (event) {
      var link = event.target.closest("a[href^='#']");
      var target = link && document.getElementById(link.getAttribute("href").slice(1));
      if (target && stepOf(target) >= 0) {
        show(stepOf(target), false);
        event.preventDefault();
        target.focus();
      }
    });
  }
  narrow.addEventListener("change", function () { show(current, false); });
  // Steps hide fields the browser may want to focus (a required box left empty); never trap them hidden.
  form.addEventListener("invalid", function (event) { show(Math.max(stepOf(event.target), 0), false); }, true);
}());
