// Review queue (progressive enhancement: every action is also a plain form that works without this).
// Keys: j / k next / previous pair; a approve; r type a reason to reject; s open the snooze day; u undo the
// last approval. Decisions are sent with fetch and answered in place: the page keeps its scroll position,
// focus moves to the next pair, and an approval shows "Undo" until its introduction emails go.
(function () {
  "use strict";
  var items = Array.prototype.slice.call(document.querySelectorAll(".queue-item"));
  var status = document.getElementById("queue-status");
  if (!items.length) { return; }
  var current = -1;
  var lastApproved = null;

  function mark(index) {
    if (current >= 0 && items[current]) { items[current].classList.remove("current"); }
    current = index;
    items[current].classList.add("current");
  }

  function focusItem(index) {
    if (index < 0 || index >= items.length) { return; }
    mark(index);
    items[current].focus({ preventScroll: true });
    items[current].scrollIntoView({ block: "nearest" });
  }

  function nextOpen(from, step) {
    for (var i = from + step; i >= 0 && i < items.length; i += step) {
      if (!items[i].classList.contains("decided")) { return i; }
    }
    return -1;
  }

  function say(text) {
    if (!status) { return; }
    status.textContent = "";
    var p = document.createElement("p");
    p.className = "notice success";
    p.textContent = text;
    status.appendChild(p);
  }

  function typing(target) {
    var tag = target && target.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || (target && target.isContentEditable);
  }

  function send(form) {
    return fetch(form.action, {
      method: "POST", credentials: "same-origin",
      headers: { "Accept": "application/json", "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams(new FormData(form)).toString()
    }).then(function (response) {
      return response.json().then(function (body) { return { status: response.status, body: body }; });
    });
  }

  function showError(form, body) {
    var input = form.querySelector("[name=" + body.field + "]");
    var error = input && document.getElementById(input.id + "-error");
    if (!input || !error) { say(body.error); return; }
    error.textContent = body.error;
    error.hidden = false;
    input.setAttribute("aria-invalid", "true");
    input.setAttribute("aria-describedby", error.id);
    input.focus();
  }

  function undoForm(item, matchId) {
    var template = item.querySelector(".approve-form");
    var form = document.createElement("form");
    form.method = "post";
    form.action = "/staff/queue/" + matchId + "/undo";
    form.className = "undo-form";
    ["csrftoken", "back"].forEach(function (name) {
      var field = template.querySelector("[name=" + name + "]");
      if (field) { form.appendChild(field.cloneNode(true)); }
    });
    var button = document.createElement("button");
    button.type = "submit";
    button.className = "button";
    button.textContent = item.parentNode.dataset.undo;
    form.appendChild(button);
    form.addEventListener("submit", function (event) { event.preventDefault(); undo(item, form); });
    return form;
  }

  function decided(item, body, withUndo) {
    var bar = document.createElement("div");
    bar.className = "decided-bar";
    var title = item.querySelector(".pair-title label");
    var p = document.createElement("p");
    p.textContent = (title ? title.textContent + ": " : "") + body.message;
    bar.appendChild(p);
    if (withUndo) {
      var form = undoForm(item, body.match_id);
      bar.appendChild(form);
      lastApproved = { item: item, form: form };
      var left = new Date(body.undo_until).getTime() - Date.now();
      window.setTimeout(function () {  // the grace period is over: the worker is sending the introductions
        if (!form.isConnected) { return; }
        var sent = document.createElement("p");
        sent.textContent = item.parentNode.dataset.sent;
        form.replaceWith(sent);
      }, Math.max(left, 0));
    }
    item.appendChild(bar);
    item.classList.add("decided");
    say(p.textContent);
    var index = items.indexOf(item);
    var next = nextOpen(index, 1);
    focusItem(next >= 0 ? next : index);
  }

  function undo(item, form) {
    send(form).then(function (answer) {
      var bar = item.querySelector(".decided-bar");
      if (answer.status !== 200) {
        say(answer.body.error || answer.body.detail || "");
        if (form.isConnected) { form.remove(); }
        return;
      }
      if (bar) { bar.remove(); }
      item.classList.remove("decided");
      if (lastApproved && lastApproved.item === item) { lastApproved = null; }
      say(answer.body.message);
      focusItem(items.indexOf(item));
    });
  }

  function decide(form, event) {
    event.preventDefault();
    var item = form.closest(".queue-item");
    send(form).then(function (answer) {
      if (answer.status === 422) { showError(form, answer.body); return; }
      if (answer.status !== 200) {
        decided(item, { message: answer.body.error || "", match_id: item.dataset.match }, false);
        return;
      }
      decided(item, answer.body, answer.body.state === "approved" && answer.body.undo_until);
    }).catch(function () { form.submit(); });  // the network or the script failed: the plain form still works
  }

  items.forEach(function (item, index) {
    item.addEventListener("focusin", function () { if (current !== index) { mark(index); } });
    item.querySelectorAll(".approve-form, .reject-form, .snooze-form").forEach(function (form) {
      form.addEventListener("submit", function (event) { decide(form, event); });
    });
  });

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) { return; }
    var item = current >= 0 ? items[current] : null;
    var open = item && !item.classList.contains("decided");
    if (event.key === "j") { focusItem(nextOpen(current, 1)); event.preventDefault(); }
    else if (event.key === "k") { focusItem(Math.max(nextOpen(current, -1), 0)); event.preventDefault(); }
    else if (event.key === "a" && open) {
      var approve = item.querySelector(".approve-form");
      if (approve) { event.preventDefault(); approve.requestSubmit(); }
    } else if ((event.key === "r" || event.key === "s") && open) {
      var field = item.querySelector(event.key === "r" ? ".reject-form input[name=reason]" : ".snooze-form input[name=until]");
      var fold = field && field.closest("details");
      if (fold) { fold.open = true; }
      if (field) { event.preventDefault(); field.focus(); }
    } else if (event.key === "u" && lastApproved && lastApproved.form.isConnected) {
      event.preventDefault();
      undo(lastApproved.item, lastApproved.form);
    }
  });
})();
