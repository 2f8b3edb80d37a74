// The chat page: end the chat, mount the rating widget in the transcript, show live scores.
(function (d) {
  var scorelet = d.body.dataset.scorelet;
  // The queue stub from Scorelet's docs/embedding.md, then the runtime: calls made before it loads wait.
  window.Scorelet = window.Scorelet || function () { (Scorelet.q = Scorelet.q || []).push(arguments); };
  var runtime = d.createElement("script");
  runtime.src = scorelet + "/widget.js";
  runtime.async = true;
  d.head.appendChild(runtime);

  function el(tag, cls, text) {
    var e = d.createElement(tag);
    if (cls) e.className = cls;
    if (text) e.textContent = text;
    return e;
  }

  d.getElementById("end").addEventListener("click", function () {
    fetch("/end-chat", {method: "POST", headers: {"Content-Type": "application/json"},
      body: JSON.stringify({agent: d.getElementById("agent").value})})
      .then(function (r) { return r.json(); })
      .then(function (chat) {
        var transcript = d.getElementById("transcript");
        transcript.appendChild(el("div", "msg system", "Chat with " + chat.agent + " ended"));
        var bubble = el("div", "rating");
        transcript.appendChild(bubble);
        // The one line the chat UI needs:
        Scorelet("mount", bubble, {token: chat.token});
        showMinted(chat);
      });
  });

  function showMinted(chat) {
    var minted = d.getElementById("minted");
    minted.textContent = "";
    minted.appendChild(el("span", "", "Conversation " + chat.conversation + ", token: "));
    minted.appendChild(el("code", "", chat.token));
    var email = d.getElementById("email");
    email.textContent = "";
    email.appendChild(el("p", "", "An email after the chat would carry one link per score:"));
    for (var n = 1; n <= 5; n++) {
      var a = el("a", "", n + "★");
      a.href = chat.rating_url + "?score=" + n;
      a.target = "_blank";
      email.appendChild(a);
    }
  }

  function refresh() {
    fetch("/stats").then(function (r) { return r.json(); }).then(function (body) {
      var rows = d.getElementById("stats");
      rows.textContent = "";
      Object.keys(body.agents).forEach(function (agent) {
        var s = body.agents[agent], tr = el("tr");
        tr.appendChild(el("td", "", agent));
        tr.appendChild(el("td", "", s.score == null ? "–" : s.score + "%"));
        tr.appendChild(el("td", "", String(s.responses)));
        rows.appendChild(tr);
      });
    }).catch(function () {});
  }
  d.addEventListener("scorelet:score", function () { setTimeout(refresh, 100); });
  refresh();
  setInterval(refresh, 3000);
})(document);
