/*
 * Scorelet widget. Paste a touchpoint's tag where the widget should appear:
 *   <script src="https://scorelet.example.com/s/EMBED_TOKEN.js" async></script>
 * or load the runtime and mount from JavaScript (calls made before it loads are queued):
 *   <script>window.Scorelet=window.Scorelet||function(){(Scorelet.q=Scorelet.q||[]).push(arguments)}</script>
 *   <script src="https://scorelet.example.com/widget.js" async></script>
 *   Scorelet("mount", element, {token: "s.…"})   // or Scorelet.mount(element, {...}) once loaded
 */
(function (w, d) {
  "use strict";
  var old = w.Scorelet;
  if (old && old.v) return;
  var me = d.currentScript;
  var API = me && me.src ? new URL(me.src).origin : "";
  var live = new WeakMap();
  var warned = 0;
  var sheet;
  // One line per language, in this order: CSAT question, NPS question, NPS low, NPS high,
  // five faces (very unsatisfied .. very satisfied), "1 star", "N stars", "N out of M",
  // comment prompt, send, skip, thank-you, failure, retry, close.
  var T = {
    en: "How satisfied are you?|How likely are you to recommend us to a friend or colleague?|Not at all likely|Extremely likely|Very unsatisfied|Unsatisfied|Neutral|Satisfied|Very satisfied|{n} star|{n} stars|{n} out of {m}|Anything you'd like to add?|Send|Skip|Thank you for your feedback!|Your rating couldn't be sent.|Try again|Close",
    de: "Wie zufrieden sind Sie?|Wie wahrscheinlich ist es, dass Sie uns einem Freund oder Kollegen empfehlen?|Sehr unwahrscheinlich|Sehr wahrscheinlich|Sehr unzufrieden|Unzufrieden|Neutral|Zufrieden|Sehr zufrieden|{n} Stern|{n} Sterne|{n} von {m}|Möchten Sie noch etwas hinzufügen?|Senden|Überspringen|Vielen Dank für Ihr Feedback!|Ihre Bewertung konnte nicht gesendet werden.|Erneut versuchen|Schließen",
    fr: "Êtes-vous satisfait ?|Quelle est la probabilité que vous nous recommandiez à un ami ou un collègue ?|Pas du tout probable|Très probable|Très insatisfait|Insatisfait|Neutre|Satisfait|Très satisfait|{n} étoile|{n} étoiles|{n} sur {m}|Souhaitez-vous ajouter quelque chose ?|Envoyer|Passer|Merci pour votre avis !|Votre note n'a pas pu être envoyée.|Réessayer|Fermer",
    es: "¿Qué tan satisfecho está?|¿Qué probabilidad hay de que nos recomiende a un amigo o colega?|Nada probable|Muy probable|Muy insatisfecho|Insatisfecho|Neutral|Satisfecho|Muy satisfecho|{n} estrella|{n} estrellas|{n} de {m}|¿Algo más que quiera añadir?|Enviar|Omitir|¡Gracias por su opinión!|No se pudo enviar su valoración.|Reintentar|Cerrar",
    pt: "Qual é o seu nível de satisfação?|Qual a probabilidade de nos recomendar a um amigo ou colega?|Nada provável|Muito provável|Muito insatisfeito|Insatisfeito|Neutro|Satisfeito|Muito satisfeito|{n} estrela|{n} estrelas|{n} de {m}|Gostaria de acrescentar algo?|Enviar|Pular|Obrigado pelo seu feedback!|Não foi possível enviar a sua avaliação.|Tentar novamente|Fechar",
    nl: "Hoe tevreden bent u?|Hoe waarschijnlijk is het dat u ons aanbeveelt bij een vriend of collega?|Zeer onwaarschijnlijk|Zeer waarschijnlijk|Zeer ontevreden|Ontevreden|Neutraal|Tevreden|Zeer tevreden|{n} ster|{n} sterren|{n} van {m}|Wilt u nog iets toevoegen?|Verzenden|Overslaan|Bedankt voor uw feedback!|Uw beoordeling kon niet worden verzonden.|Opnieuw proberen|Sluiten",
    it: "Quanto è soddisfatto?|Quanto è probabile che ci raccomandi a un amico o collega?|Per niente probabile|Estremamente probabile|Molto insoddisfatto|Insoddisfatto|Neutrale|Soddisfatto|Molto soddisfatto|{n} stella|{n} stelle|{n} su {m}|Vuole aggiungere qualcosa?|Invia|Salta|Grazie per il suo feedback!|Impossibile inviare la valutazione.|Riprova|Chiudi",
    ja: "ご満足いただけましたか？|友人や同僚に私たちを勧める可能性はどのくらいありますか？|まったく勧めない|強く勧める|とても不満|不満|普通|満足|とても満足|星{n}つ|星{n}つ|{m}点中{n}点|ほかにご意見はありますか？|送信|スキップ|ご意見ありがとうございました！|評価を送信できませんでした。|再試行|閉じる",
    zh: "您满意吗？|您向朋友或同事推荐我们的可能性有多大？|完全不可能|极有可能|非常不满意|不满意|一般|满意|非常满意|{n} 星|{n} 星|{n}/{m}|还有什么想补充的吗？|提交|跳过|感谢您的反馈！|无法提交您的评分。|重试|关闭"
  };
  var STAR = "M12 2.5l2.9 6 6.6.9-4.8 4.6 1.2 6.5L12 17.3l-5.9 3.2 1.2-6.5-4.8-4.6 6.6-.9z";
  var CSS = `
    :host{display:block}
    .w{all:initial;display:block;container-type:inline-size;position:relative;box-sizing:border-box;max-width:var(--scorelet-width,32rem);padding:16px;
      --a:var(--scorelet-accent,#1d4ed8);--on:var(--scorelet-on-accent,#fff);--bg:var(--scorelet-bg,#fff);--fg:var(--scorelet-fg,#111827);
      --mu:var(--scorelet-muted,#4b5563);--bd:var(--scorelet-border,#9ca3af);--st:var(--scorelet-star,#b45309);
      border:1px solid var(--bd);border-radius:var(--scorelet-radius,12px);background:var(--bg);color:var(--fg);font:15px/1.4 var(--scorelet-font,system-ui,sans-serif)}
    @media (prefers-color-scheme:dark){.w{--a:var(--scorelet-accent,#93c5fd);--on:var(--scorelet-on-accent,#111827);--bg:var(--scorelet-bg,#111827);
      --fg:var(--scorelet-fg,#f9fafb);--mu:var(--scorelet-muted,#d1d5db);--bd:var(--scorelet-border,#6b7280);--st:var(--scorelet-star,#fbbf24)}}
    *{box-sizing:border-box}
    [hidden]{display:none!important}
    p{margin:0 0 12px;font-weight:600}
    button,textarea{font:inherit;color:inherit;margin:0}
    button{cursor:pointer;background:none;border:1px solid var(--bd);border-radius:8px;padding:0 14px;min-height:40px}
    :focus-visible{outline:3px solid var(--a);outline-offset:2px}
    .r{display:flex;flex-wrap:wrap;gap:4px}
    .o{display:flex;align-items:center;justify-content:center;padding:0;min-width:40px;color:var(--mu)}
    .s .o,.f .o{border-color:transparent;border-radius:50%}
    .s .on{color:var(--st)}
    .s .on svg{fill:currentColor}
    .f .o:hover{color:var(--fg)}
    .f [aria-checked=true],.n [aria-checked=true],.p{background:var(--a);color:var(--on);border-color:var(--a)}
    svg{width:32px;height:32px;fill:none;stroke:currentColor;stroke-width:1.6;stroke-linecap:round;stroke-linejoin:round}
    .y{fill:currentColor;stroke:none}
    .n{display:grid;grid-template-columns:repeat(var(--n),minmax(0,1fr))}
    .n .o{min-width:0;color:inherit}
    @container (max-width:420px){.n{grid-template-columns:repeat(var(--m),minmax(0,1fr))}}
    .e,.c{display:flex;justify-content:space-between;gap:8px;margin-top:6px;font-size:13px;color:var(--mu)}
    .c{min-height:1.4em}
    label{display:block;margin:12px 0 6px}
    textarea{display:block;width:100%;min-height:72px;padding:8px;border:1px solid var(--bd);border-radius:8px;background:var(--bg);resize:vertical}
    .b{display:flex;flex-wrap:wrap;gap:8px;margin-top:8px}
    .x{position:absolute;top:4px;right:4px;border:0;min-height:32px;padding:0 10px}
    .z{margin-top:8px}
    .z:empty{display:none}
    .t{margin:0;font-weight:600}
  `;

  function warn(m) {
    if (!warned++) {
      try { console.warn("Scorelet: " + m); } catch (e) { /* no console */ }
    }
  }
  // Nothing Scorelet does may throw into the host page: every entry point goes through here.
  function safe(f) {
    return function () {
      try { return f.apply(this, arguments); } catch (e) { warn(e && e.message || e); }
    };
  }
  function h(tag, parent, cls, text) {
    var e = d.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = text;
    if (parent) parent.appendChild(e);
    return e;
  }
  function attrs(e, o) {
    for (var k in o) e.setAttribute(k, o[k]);
    return e;
  }
  function svg(parent, shapes) {
    var ns = "http://www.w3.org/2000/svg", s = attrs(d.createElementNS(ns, "svg"), {viewBox: "0 0 24 24", "aria-hidden": "true"});
    shapes.forEach(function (x) { s.appendChild(attrs(d.createElementNS(ns, x[0]), x[1])); });
    parent.appendChild(s);
  }
  function face(k) {
    var y = 15.5 - k / 4;
    return [["circle", {cx: 12, cy: 12, r: 10}], ["circle", {cx: 9, cy: 10, r: 1.3, "class": "y"}],
      ["circle", {cx: 15, cy: 10, r: 1.3, "class": "y"}], ["path", {d: "M8 " + y + "Q12 " + (y + k) + " 16 " + y}]];
  }
  function fmt(s, n, m) {
    return s.replace("{n}", n).replace("{m}", m);
  }
  function assign(a, b) {
    var o = {}, k;
    for (k in a) o[k] = a[k];
    for (k in b) if (b[k] !== undefined) o[k] = b[k];
    return o;
  }
  // The touchpoint's locale wins, then the page's lang, then the browser's languages.
  function lang(c) {
    var l = [c.locale, d.documentElement.lang].concat(navigator.languages || [navigator.language]);
    for (var i = 0; i < l.length; i++) {
      var k = String(l[i] || "").slice(0, 2).toLowerCase();
      if (T[k]) return k;
    }
    return "en";
  }
  function uuid() {
    var b = crypto.getRandomValues(new Uint8Array(16)), s = "", i;
    b[6] = b[6] & 15 | 64;
    b[8] = b[8] & 63 | 128;
    for (i = 0; i < 16; i++) s += (i == 4 || i == 6 || i == 8 || i == 10 ? "-" : "") + (b[i] + 256).toString(16).slice(1);
    return s;
  }
  function wait(ms) {
    return new Promise(function (r) { setTimeout(r, ms); });
  }
  // JSON as text/plain with keepalive: a simple request (no preflight) that survives leaving
  // the page. Network errors and 5xx/429 are retried with backoff; other errors are final.
  function send(c, method, path, body, tries) {
    body.token = c.token;
    return fetch(c.api + path, {method: method, body: JSON.stringify(body), headers: {"Content-Type": "text/plain"}, keepalive: true, credentials: "omit"})
      .then(function (r) {
        if (r.ok) return r.status == 204 ? null : r.json();
        return r.json().then(null, function () { return {}; }).then(function (p) {
          var e = Error(p.detail || "HTTP " + r.status);
          e.status = r.status;
          e.code = p.code;
          throw e;
        });
      })
      .then(null, function (e) {
        tries = tries || 0;
        if (e.status && e.status < 500 && e.status != 429 || tries > 1) throw e;
        return wait(500 * Math.pow(3, tries)).then(function () { return send(c, method, path, body, tries + 1); });
      });
  }
  function whenReady(f) {
    if (d.readyState == "loading") d.addEventListener("DOMContentLoaded", safe(f));
    else f();
  }
  function style(root) {
    try {
      if (!sheet) {
        sheet = new CSSStyleSheet();
        sheet.replaceSync(CSS);
      }
      root.adoptedStyleSheets = [sheet];
    } catch (e) {
      h("style", root, 0, CSS);
    }
  }
  function cooldownKey(c) {
    return "scorelet:" + (c.slug || c.token);
  }
  // Cooldown applies to anonymous (embed-token) widgets; a subject token is one conversation.
  function cooling(c) {
    try {
      return c.cooldown !== false && /^e\./.test(c.token) && +localStorage.getItem(cooldownKey(c)) > Date.now();
    } catch (e) {
      return false;
    }
  }
  function cool(c) {
    try {
      if (c.cooldown_days > 0 && /^e\./.test(c.token)) localStorage.setItem(cooldownKey(c), Date.now() + c.cooldown_days * 864e5);
    } catch (e) { /* storage blocked: ask again next time */ }
  }

  function unmount(el) {
    var x = live.get(el);
    live.delete(el);
    if (x && x.stop) x.stop();
  }

  function render(el, c) {
    unmount(el);
    c.api = c.api || API;
    var host = attrs(h("div"), {"data-scorelet": c.slug || ""}), root = host.attachShadow({mode: "open"});
    var L = T[lang(c)].split("|"), dead = 0, done = 0, sel = null, id = uuid(), tasks = [], busy = 0, seen;
    var inst = {stop: function () { dead = 1; if (seen) seen.disconnect(); host.remove(); }};
    live.set(el, inst);
    el.appendChild(host);
    function emit(name, detail) {
      if (!dead) host.dispatchEvent(new CustomEvent("scorelet:" + name, {bubbles: true, composed: true, detail: assign({touchpoint: c.slug}, detail)}));
    }
    if (cooling(c)) return emit("ready", {shown: false, reason: "cooldown"});
    style(root);
    var nps = c.metric == "nps", lo = c.min, hi = c.max, n = hi - lo + 1;
    var kind = c.scale == "stars" ? "s" : /^smileys/.test(c.scale) ? "f" : "n";
    var wrap = attrs(h("div", root, "w"), {lang: lang(c)});
    var body = h("div", wrap);
    var q = attrs(h("p", body, 0, c.question || L[nps ? 1 : 0]), {id: "q"});
    var grp = attrs(h("div", body, "r " + kind), {role: "radiogroup", "aria-labelledby": "q"});
    var btns = [], labels = [], v, i;
    grp.style.setProperty("--n", n);
    grp.style.setProperty("--m", n > 7 ? Math.ceil(n / 2) : n);
    for (v = lo; v <= hi; v++) {
      i = v - lo;
      var label = kind == "s" ? fmt(L[v == 1 ? 9 : 10], v) : kind == "f" ? L[n == 3 ? 4 + v : 3 + v] : fmt(L[11], v, hi);
      var b = attrs(h("button", grp, "o", kind == "n" ? v : null), {type: "button", role: "radio", "aria-checked": "false", "aria-label": label, tabindex: i ? -1 : 0, "data-score": v});
      if (kind == "s") svg(b, [["path", {d: STAR}]]);
      if (kind == "f") svg(b, face(n == 3 ? 4 * i - 4 : 2 * i - 4));
      b.onclick = safe(choose.bind(null, v));
      b.onmouseenter = b.onfocus = safe(paint.bind(null, v));
      btns.push(b);
      labels.push(label);
    }
    grp.onmouseleave = grp.onfocusout = safe(function () { paint(sel); });
    grp.onkeydown = safe(function (e) {
      var k = e.key, j = btns.indexOf(e.target);
      j = /Right|Down/.test(k) ? j + 1 : /Left|Up/.test(k) ? j - 1 : k == "Home" ? 0 : k == "End" ? n - 1 : null;
      if (j == null) return;
      e.preventDefault();
      rove((j + n) % n).focus();
    });
    var low = c.low_label || (nps ? L[2] : kind == "n" ? L[4] : ""), high = c.high_label || (nps ? L[3] : kind == "n" ? L[8] : "");
    if (low || high) {
      var ends = h("div", body, "e");
      h("span", ends, 0, low);
      h("span", ends, 0, high);
    }
    var cap = kind == "n" ? null : attrs(h("div", body, "c"), {"aria-hidden": "true"});
    var form = h("div", body);
    form.hidden = true;
    var ta = attrs(h("textarea", 0), {id: "m", maxlength: 2000});
    attrs(h("label", form, 0, c.comment_prompt || L[12]), {"for": "m"});
    form.appendChild(ta);
    var bar = h("div", form, "b");
    h("button", bar, "p", L[13]).onclick = safe(function () {
      var text = ta.value.trim();
      if (text) run(function () {
        return send(c, "PATCH", "/api/v1/responses/" + id, {comment: text}).then(function (r) { emit("comment", {id: id, comment: text, response: r}); });
      });
      finish();
    });
    h("button", bar, 0, L[14]).onclick = safe(finish);
    var status = attrs(h("div", wrap, "z"), {role: "status", "aria-live": "polite", tabindex: -1});
    var retry = h("button", wrap, "p", L[17]);
    retry.hidden = true;
    retry.onclick = safe(pump);
    if (c.dismissible) {
      attrs(h("button", wrap, "x", "×"), {"aria-label": L[18]}).onclick = safe(function () {
        cool(c);
        emit("done", {dismissed: true});
        unmount(el);
      });
    }

    function rove(j) {
      btns.forEach(function (b, k) { b.tabIndex = k == j ? 0 : -1; });
      return btns[j];
    }
    // Stars fill up to the hovered or focused one; the caption names the option in words.
    function paint(p) {
      btns.forEach(function (b, k) { b.classList.toggle("on", kind == "s" && p != null && k + lo <= p); });
      if (cap) cap.textContent = p == null ? "" : labels[p - lo];
    }
    function choose(s) {
      if (done) return;
      sel = s;
      btns.forEach(function (b, k) { b.setAttribute("aria-checked", k + lo == s); });
      rove(s - lo);
      paint(s);
      run(function () {
        var score = sel;
        return send(c, "POST", "/api/v1/responses", {id: id, score: score, context: c.context}).then(function (r) {
          cool(c);
          emit("score", {id: id, score: score, response: r});
        });
      });
      if (c.comment === false) finish();
      else form.hidden = false;
    }
    function finish() {
      done = 1;
      run(function () {
        body.hidden = true;
        status.className = "z t";
        status.textContent = c.thank_you || L[15];
        if (wrap.contains(root.activeElement)) status.focus();
        emit("done", {id: id, score: sel});
      });
    }
    // Sends go out one at a time, in order; a failure stops the queue until "Try again".
    function run(task) {
      tasks.push(task);
      pump();
    }
    function pump() {
      if (busy || dead || !tasks.length) return;
      busy = 1;
      retry.hidden = true;
      if (!done) status.textContent = "";
      Promise.resolve().then(tasks[0]).then(function () {
        busy = 0;
        tasks.shift();
        pump();
      }, function (e) {
        busy = 0;
        if (dead) return;
        status.textContent = L[16];
        retry.hidden = false;
        warn(e.message);
        emit("error", {code: e.code || "network_error", status: e.status || 0, detail: e.message});
      });
    }
    paint(null);
    // An impression counts once, when the widget is actually on screen.
    function shown() {
      if (!dead) send(c, "POST", "/api/v1/impressions", {}).then(null, function () { /* best effort */ });
    }
    if (w.IntersectionObserver) {
      seen = new IntersectionObserver(function (es) {
        if (es.some(function (x) { return x.isIntersecting; })) {
          seen.disconnect();
          shown();
        }
      });
      seen.observe(wrap);
    } else shown();
    emit("ready", {shown: true, scale: c.scale, locale: lang(c)});
  }

  // From a loader: the touchpoint's config and the <script> that carried it.
  function load(c, s) {
    var ds = s && s.dataset || {}, t = ds.target, p = s && s._scorelet;
    if (p) {
      if (live.get(p.el) == s) render(p.el, assign(c, p.o));
      return;
    }
    c = assign(c, {locale: ds.locale, comment: ds.comment == "false" ? false : undefined});
    if (t) {
      return whenReady(function () {
        var e = d.querySelector(t);
        if (e) render(e, c);
        else warn("no element matches data-target " + t);
      });
    }
    var e = h("div");
    if (s && s.parentNode && s.parentNode != d.head) s.parentNode.insertBefore(e, s);
    else whenReady(function () { d.body.appendChild(e); });
    render(e, c);
  }

  // Mount from JavaScript. With only a token, fetch the touchpoint's loader to learn its config.
  function mount(el, o) {
    if (typeof el == "string") el = d.querySelector(el);
    if (!el || !o || !o.token) return warn("mount(element, {token}) needs an element and a token");
    if (o.scale) {
      var top = /\d+$/.exec(o.scale), nps = o.scale == "nps";
      return render(el, assign({metric: nps ? "nps" : "csat", min: nps ? 0 : 1, max: nps ? 10 : top ? +top[0] : 5}, o));
    }
    unmount(el);
    var s = h("script");
    s.src = (o.api || API) + "/s/" + encodeURIComponent(o.token) + ".js";
    s.async = true;
    s._scorelet = {el: el, o: o};
    live.set(el, s);
    d.head.appendChild(s);
  }

  var methods = {load: load, mount: mount, unmount: unmount};
  var S = safe(function (name) {
    if (!methods[name]) return warn("unknown call " + name);
    return methods[name].apply(null, [].slice.call(arguments, 1));
  });
  S.v = 1;
  S.mount = function (el, o) { return S("mount", el, o); };
  S.unmount = function (el) { return S("unmount", el); };
  w.Scorelet = S;
  ((old && old.q) || []).forEach(function (a) { S.apply(null, a); });
})(window, document);
