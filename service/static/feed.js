// The suggestion feed without page loads: answers and undo go to the JSON API and the next card is
// swapped in. Keys: → / I interested, ← / N not now, U undo; swipe the card right or left.
// Without JavaScript the same forms post to the pages, so nothing here is required.
(function () {
  "use strict";

  var feed = document.querySelector("[data-feed]");
  if (!feed || !window.fetch) {
    return;
  }
  var API = "/api/v1/participants/me/feed";
  var card = feed.querySelector("[data-card]");
  var answerForm = card.querySelector("[data-answer]");
  var empty = feed.querySelector("[data-feed-empty]");
  var undoForm = document.querySelector("[data-undo]");
  var status = document.querySelector("[data-status]");
  var progress = document.querySelector("[data-progress]");
  var busy = false;
  var SAID = "koble-feed-said";

  function field(root, name) {
    return root.querySelector('[data-field="' + name + '"]');
  }

  // The explanation as text nodes, the words of `terms` inside its quotes in <mark> (as the page
  // renders it, matching.explain.render_html); no HTML is parsed, so nothing in it can run.
  function explain(element, text, terms) {
    element.textContent = "";
    var word = /[\p{L}\p{N}][\p{L}\p{N}_-]*[\p{L}\p{N}]|[\p{L}\p{N}]/gu;
    var depth = 0, last = 0, match;
    function quoted(upTo) {
      for (var i = last; i < upTo; i++) {
        var c = text.charAt(i);
        depth += (c === "\u00ab" || c === "\u201c") ? 1 : (c === "\u00bb" || c === "\u201d") ? -1 : 0;
      }
    }
    var plain = 0;
    while ((match = word.exec(text)) !== null) {
      quoted(match.index);
      last = match.index;
      if (depth > 0 && terms.indexOf(match[0].toLowerCase()) >= 0) {
        element.appendChild(document.createTextNode(text.slice(plain, match.index)));
        var mark = document.createElement("mark");
        mark.textContent = match[0];
        element.appendChild(mark);
        plain = match.index + match[0].length;
      }
    }
    element.appendChild(document.createTextNode(text.slice(plain)));
  }

  function token() {
    var input = answerForm.querySelector('input[name="csrftoken"]');
    return input ? input.value : "";
  }

  function say(text, kind, matchUrl) {
    status.textContent = "";
    var box = document.createElement("div");
    box.className = "notice " + (kind || "success");
    var p = document.createElement("p");
    p.textContent = text;
    if (matchUrl) {
      var link = document.createElement("a");
      link.href = "/me/matches";
      link.textContent = status.getAttribute("data-matches-label");
      p.appendChild(document.createTextNode(" "));
      p.appendChild(link);
    }
    box.appendChild(p);
    status.appendChild(box);
  }

  function fillList(list, items) {
    list.textContent = "";
    (items.length ? items : [list.getAttribute("data-empty")]).forEach(function (text) {
      var li = document.createElement("li");
      li.textContent = text;
      list.appendChild(li);
    });
  }

  // The same avatar as templates/kit/_avatar.html: the photo, or initials on the kind's colour.
  function fillAvatar(box, data) {
    if (!box) {
      return;
    }
    var words = data.name.trim().split(/\s+/).filter(Boolean);
    var el;
    if (data.photo_url) {
      el = document.createElement("img");
      el.src = data.photo_url;
      el.alt = data.name;
      el.width = el.height = 64;
    } else {
      el = document.createElement("span");
      el.setAttribute("role", "img");
      el.setAttribute("aria-label", data.name);
      var letters = document.createElement("span");
      letters.setAttribute("aria-hidden", "true");
      letters.textContent = words.length ? (words[0][0] + (words.length > 1 ? words[words.length - 1][0] : "")).toUpperCase() : "?";
      el.appendChild(letters);
      el.classList.add("avatar-" + (data.kind || "unknown"));
    }
    el.classList.add("avatar", "avatar-64");
    box.textContent = "";
    box.appendChild(el);
  }

  // The page renders the dead ends itself (matches in progress, tips, the digest form): when the last
  // card is answered, reload it, keeping what the answer said for the reloaded page's status line.
  function deadEnd(next, said) {
    if (next.card || (next.reason !== "capacity" && next.reason !== "empty") || !window.sessionStorage) {
      return false;
    }
    window.sessionStorage.setItem(SAID, JSON.stringify(said));
    window.location.reload();
    return true;
  }

  function showProgress(next) {
    progress.hidden = !(next.card && next.progress);
    if (next.progress) {
      field(progress, "progress").textContent = next.progress.label;
    }
  }

  function show(next, focusCard) {
    var data = next.card;
    showProgress(next);
    card.classList.remove("leaving-yes", "leaving-no");
    card.style.transform = "";
    if (data) {
      field(card, "name").textContent = data.name;
      var meta = data.kind_label;
      if (data.organisation && data.organisation !== data.name) {
        meta += ", " + data.organisation;
      }
      field(card, "meta").textContent = meta;
      explain(field(card, "explanation"), data.explanation, data.shared_terms || []);
      fillList(field(card, "offers"), data.offers);
      fillList(field(card, "seeks"), data.seeks);
      fillAvatar(field(card, "avatar"), data);
      answerForm.action = data.answer_url;
      answerForm.setAttribute("data-candidate", data.external_id);
      card.hidden = false;
      empty.hidden = true;
      if (focusCard) {
        field(card, "name").focus();
      }
    } else {
      card.hidden = true;
      field(empty, "message").textContent = next.message || "";
      empty.classList.toggle("warning", next.reason === "capacity");
      empty.hidden = false;
    }
    undoForm.hidden = !next.undo;
    if (next.undo) {
      field(undoForm, "undo").textContent = next.undo.label;
    }
  }

  function post(path, body) {
    return fetch(API + path, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json", "x-csrftoken": token() },
      body: JSON.stringify(body),
    }).then(function (response) {
      return response.json().then(function (json) {
        return { ok: response.ok, status: response.status, json: json };
      });
    });
  }

  // Anything unexpected (signed out, a network error): post the plain form and let the page answer.
  function fallback(form, choice) {
    if (choice) {
      var input = document.createElement("input");
      input.type = "hidden";
      input.name = "answer";
      input.value = choice;
      form.appendChild(input);
    }
    form.submit();
  }

  function refused(result, form, choice) {
    var detail = result.json && result.json.detail;
    if (detail && detail.msg) {
      say(detail.msg, "warning");
      return;
    }
    fallback(form, choice);
  }

  function candidate() {
    return answerForm.getAttribute("data-candidate");
  }

  function answer(choice) {
    if (busy || card.hidden) {
      return;
    }
    busy = true;
    card.classList.add(choice === "interested" ? "leaving-yes" : "leaving-no");
    post("/answers", { candidate: candidate(), answer: choice })
      .then(function (result) {
        if (!result.ok) {
          card.classList.remove("leaving-yes", "leaving-no");
          return refused(result, answerForm, choice);
        }
        var mutual = result.json.match && result.json.match.state === "mutual";
        if (deadEnd(result.json.next, { text: result.json.message, match: mutual })) {
          return;
        }
        say(result.json.message, "success", mutual);
        show(result.json.next, true);
      })
      .catch(function () {
        fallback(answerForm, choice);
      })
      .then(function () {
        busy = false;
      });
  }

  function undo() {
    if (busy || undoForm.hidden) {
      return;
    }
    busy = true;
    post("/undo", {})
      .then(function (result) {
        if (!result.ok) {
          return refused(result, undoForm, null);
        }
        say(result.json.message, "success");
        show(result.json.next, true);
      })
      .catch(function () {
        fallback(undoForm, null);
      })
      .then(function () {
        busy = false;
      });
  }

  answerForm.addEventListener("submit", function (event) {
    event.preventDefault();
    var button = event.submitter || document.activeElement;
    answer(button && button.value === "not_now" ? "not_now" : "interested");
  });

  undoForm.addEventListener("submit", function (event) {
    event.preventDefault();
    undo();
  });

  // Arrows work anywhere but in a text field; the letters only while focus is in the feed or the undo
  // button (WCAG 2.1.4: single-character shortcuts must not fire while someone types or uses speech).
  var ACTIONS = { arrowright: "interested", arrowleft: "not_now", i: "interested", n: "not_now", u: "undo" };
  document.addEventListener("keydown", function (event) {
    var target = event.target;
    if (event.altKey || event.ctrlKey || event.metaKey || event.shiftKey ||
        (target && /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName))) {
      return;
    }
    var key = event.key.toLowerCase();
    var action = ACTIONS[key];
    var letter = key.length === 1;
    if (!action || (letter && !(feed.contains(target) || undoForm.contains(target)))) {
      return;
    }
    event.preventDefault();
    if (action === "undo") {
      undo();
    } else {
      answer(action);
    }
  });

  // Swipe: follow the finger, answer past a third of the card's width, else spring back.
  var startX = null;
  var startY = null;
  card.addEventListener("touchstart", function (event) {
    startX = event.touches[0].clientX;
    startY = event.touches[0].clientY;
  }, { passive: true });
  card.addEventListener("touchmove", function (event) {
    if (startX === null) {
      return;
    }
    var dx = event.touches[0].clientX - startX;
    if (Math.abs(dx) > Math.abs(event.touches[0].clientY - startY)) {
      card.style.transform = "translateX(" + dx + "px) rotate(" + dx / 40 + "deg)";
    }
  }, { passive: true });
  card.addEventListener("touchend", function (event) {
    if (startX === null) {
      return;
    }
    var dx = event.changedTouches[0].clientX - startX;
    var dy = event.changedTouches[0].clientY - startY;
    startX = null;
    card.style.transform = "";
    if (Math.abs(dx) > card.offsetWidth / 3 && Math.abs(dx) > Math.abs(dy)) {
      answer(dx > 0 ? "interested" : "not_now");
    }
  });

  var said = window.sessionStorage && window.sessionStorage.getItem(SAID);
  if (said) {
    window.sessionStorage.removeItem(SAID);
    said = JSON.parse(said);
    say(said.text, "success", said.match);
  }

  document.querySelector("[data-keys]").hidden = false;
}());
