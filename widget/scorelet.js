/*
 * Scorelet widget. Paste a touchpoint's tag where the widget should appear:
 *   <script src="https://scorelet.example.com/s/EMBED_TOKEN.js" async></script>
 * or load the runtime and mount from JavaScript (calls made before it loads are queued):
 *   <script>window.Scorelet=window.Scorelet||function(){(Scorelet.q=Scorelet.q||[]).push(arguments)}</script>
 *   <script src="https://scorelet.example.com/widget.js" async></script>
 *   Scorelet("mount", element, {token: "s.…"})   // or Scorelet.mount(element, {...}) once loaded
 * A tag with data-dismissible (or mount's {dismissible: true}) gets a close button.
 * Signed-in people: data-identity="i.…" on the tag, mount's {identity}, or Scorelet("identify", "i.…")
 * before the widget loads; the server then decides whether to ask (a "no" fires scorelet:skip).
 * A touchpoint with --trigger event:NAME appears once the page calls Scorelet("track", NAME).
 */
((w, d) => {
  let old = w.Scorelet;
  if (old && old.v) return;
  let me = d.currentScript;
  // The API lives where this script came from.
  let API = me && me.src ? new URL(me.src).origin : "";
  let live = new WeakMap();
  let warned = 0;
  let sheet;
  // The identity given by Scorelet("identify", …); the events the page tracked, and the widgets
  // waiting for an event (each checks whether it is its own).
  let idn, fired = {}, waits = [];
  // The loader carries the widget's strings, by name, in the language it will speak (c.strings,
  // from widget/strings.json). Every language the server has strings for:
  let LANGS = /^(%LANGS%)$/;
  let STAR = "M12 2.5l2.9 6 6.6.9-4.8 4.6 1.2 6.5L12 17.3l-5.9 3.2 1.2-6.5-4.8-4.6 6.6-.9z";
  // widget/scorelet.css, minified (widget.py puts it here).
  let CSS = `%CSS%`;

  let warn = (m) => warned++ || console.warn("Scorelet: " + m);
  // Nothing Scorelet does may throw into the host page: every entry point goes through here.
  let safe = (f) => function () {
    try { return f.apply(this, arguments); } catch (e) { warn(e.message || e); }
  };
  let h = (tag, parent, cls, text) => {
    let e = d.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = text;
    if (parent) parent.append(e);
    return e;
  };
  let at = (e, o) => {
    for (let k in o) e.setAttribute(k, o[k]);
    return e;
  };
  let svg = (parent, shapes) => {
    let ns = "http://www.w3.org/2000/svg", s = at(d.createElementNS(ns, "svg"), {viewBox: "0 0 24 24", "aria-hidden": "true"});
    for (let [t, a] of shapes) s.append(at(d.createElementNS(ns, t), a));
    parent.append(s);
  };
  // A face from frowning (k = -4) to beaming (k = 4).
  let face = (k, y = 15.5 - k / 4) => [["circle", {cx: 12, cy: 12, r: 10}], ["circle", {cx: 9, cy: 10, r: 1.3, class: "y"}],
    ["circle", {cx: 15, cy: 10, r: 1.3, class: "y"}], ["path", {d: `M8 ${y}Q12 ${y + k} 16 ${y}`}]];
  let fmt = (s, n, m) => s.replace("{n}", n).replace("{m}", m);
  // The three scales: the class their options get, each option's name (v: its score, n: how
  // many there are) and its drawing (i: its place); numbers are drawn as themselves.
  let stars = {kind: "s", label: (L, v) => fmt(v < 2 ? L.one_star : L.stars, v), icon: () => [["path", {d: STAR}]]};
  let faces = {kind: "f", label: (L, v, n) => L["face_" + (n == 3 ? v + 1 : v)], icon: (i, n) => face(n == 3 ? 4 * i - 4 : 2 * i - 4)};
  let numbers = {kind: "n", label: (L, v, n, max) => fmt(L.out_of, v, max)};
  let pick = (a, b) => {
    let o = {...a};
    for (let k in b) if (b[k] !== undefined) o[k] = b[k];
    return o;
  };
  let code = (l) => String(l || "").slice(0, 2).toLowerCase();
  // A random UUID, also on plain-http pages (crypto.randomUUID needs https): a blob: URL ends
  // in one (File API spec).
  let uuid = () => URL.createObjectURL(new Blob()).slice(-36);
  // JSON as text/plain with keepalive: a simple request (no preflight) that survives leaving
  // the page. Network errors and 5xx/429 are retried with backoff; other errors are final.
  let send = (c, method, path, body, n = 0) =>
    fetch(c.api + path, {method, body: JSON.stringify({...body, token: c.token}), headers: {"Content-Type": "text/plain"}, keepalive: true, credentials: "omit"})
      .then(async (r) => {
        if (r.ok) return r.status < 204 ? r.json() : null;
        let p = await r.json().catch(() => ({}));
        throw Object.assign(Error(p.detail || "HTTP " + r.status), {status: r.status, code: p.code});
      })
      .catch((e) => {
        if (e.status < 500 && e.status != 429 || n > 1) throw e;
        return new Promise((r) => setTimeout(r, 500 * 3 ** n)).then(() => send(c, method, path, body, n + 1));
      });
  let whenReady = (f) => d.readyState == "loading" ? d.addEventListener("DOMContentLoaded", safe(f)) : f();
  // Constructed style sheets are not inline styles, so a strict CSP page needs no 'unsafe-inline'.
  let style = (root) => {
    try {
      if (!sheet) (sheet = new CSSStyleSheet()).replaceSync(CSS);
      root.adoptedStyleSheets = [sheet];
    } catch (e) {
      h("style", root, 0, CSS);
    }
  };
  // Cooldown applies to anonymous (embed-token) widgets; a subject token is one conversation, and
  // for an identified person the server decides.
  let coolKey = (c) => /^e\./.test(c.token) && c.cooldown !== false && !c.identity && "scorelet:" + c.slug;
  let cooling = (c) => {
    try { return +localStorage.getItem(coolKey(c)) > Date.now(); } catch (e) { return false; }
  };
  let cool = (c) => {
    try { if (c.cooldown_days > 0 && coolKey(c)) localStorage.setItem(coolKey(c), Date.now() + c.cooldown_days * 864e5); } catch (e) {}
  };
  // A random id kept per browser: rating a touchpoint again replaces the earlier rating
  // instead of counting twice. None when storage is blocked.
  let client = () => {
    try {
      let k = "scorelet:client", v = localStorage.getItem(k);
      if (!/^[\w-]{16,64}$/.test(v)) localStorage.setItem(k, v = uuid());
      return v;
    } catch (e) {}
  };
  let unmount = (el) => {
    let x = live.get(el);
    live.delete(el);
    if (x && x.stop) x.stop();
  };

  // `o` holds the tag's or mount's overrides, already applied to `c`.
  let render = (el, c, o) => {
    unmount(el);
    c.api = c.api || API;
    // An identity the loader wasn't asked for: ask it again with the identity, so it carries the
    // server's answer (c.e) for that person.
    let I = c.identity = c.identity || idn;
    if (I && !o.identity) return mount(el, pick(o, {token: c.token, api: c.api, identity: I}));
    let host = at(h("div"), {"data-scorelet": c.slug || ""}), root = host.attachShadow({mode: "open"});
    let dead = 0, done = 0, sel = null, id = uuid(), tasks = [], busy = 0, seen, shown;
    let X = {stop: () => { dead = 1; if (seen) seen.disconnect(); host.remove(); }};
    live.set(el, X);
    el.append(host);
    let emit = (name, detail) => dead || host.dispatchEvent(new CustomEvent("scorelet:" + name, {bubbles: true, composed: true, detail: {touchpoint: c.slug, ...detail}}));
    // The server's answer for this person (or for anyone anonymous), else the browser's cooldown.
    // A loader that says no carries nothing else.
    let e = c.e || {show: !cooling(c), reason: "cooldown"};
    if (!e.show) return emit("ready", {shown: false, reason: e.reason}), emit("skip", e);
    // The touchpoint's locale (or an override) wins, then the page's lang, then the browser's.
    // A language the loader didn't carry is fetched once: the same loader, asked for it.
    let all = c.strings, ls = [c.locale, d.documentElement.lang, ...navigator.languages].map(code);
    let lg = ls.find((l) => LANGS.test(l)) || "en";
    if (!all[lg]) {
      if (!c.l) return mount(el, pick(o, {token: c.token, api: c.api, l: lg}));
      lg = Object.keys(all)[0];
    }
    let L = all[lg];
    // --trigger event:NAME: nothing shows until the page tracks NAME (before or after this).
    if (c.trigger && !fired[c.trigger]) return waits.push(() => fired[c.trigger] && live.get(el) == X && render(el, c, o));
    style(root);
    let nps = c.metric == "nps", lo = c.min, n = c.max - lo + 1;
    let scale = c.scale == "stars" ? stars : /^smileys/.test(c.scale) ? faces : numbers, kind = scale.kind;
    let wrap = at(h("div", root, c.dismissible ? "w d" : "w"), {lang: lg});
    let body = h("div", wrap);
    at(h("p", body, 0, c.question || (nps ? L.nps_question : L.csat_question)), {id: "q"});
    let grp = at(h("div", body, "r " + kind), {role: "radiogroup", "aria-labelledby": "q"});
    grp.style.setProperty("--n", n);
    grp.style.setProperty("--m", n > 7 ? Math.ceil(n / 2) : n);
    let btns = [...Array(n)].map((_, i) => {
      let v = i + lo;
      let label = scale.label(L, v, n, c.max);
      let b = at(h("button", grp, "o", scale.icon ? null : v), {type: "button", role: "radio", "aria-checked": false, "aria-label": label, title: label, tabindex: i ? -1 : 0, "data-score": v});
      if (scale.icon) svg(b, scale.icon(i, n));
      b.onclick = safe(() => choose(v));
      b.onmouseenter = b.onfocus = safe(() => paint(v));
      return b;
    });
    grp.onmouseleave = grp.onfocusout = safe(() => paint(sel));
    // Roving tabindex: arrows, Home and End move focus; Enter or Space chooses.
    grp.onkeydown = safe((e) => {
      let k = e.key, j = btns.indexOf(e.target);
      j = /Right|Down/.test(k) ? j + 1 : /Left|Up/.test(k) ? j - 1 : k == "Home" ? 0 : k == "End" ? n - 1 : null;
      if (j == null) return;
      e.preventDefault();
      rove((j + n) % n).focus();
    });
    let low = c.low_label || (nps ? L.nps_low : kind == "n" ? L.face_1 : ""), high = c.high_label || (nps ? L.nps_high : kind == "n" ? L.face_5 : "");
    if (low || high) {
      let ends = h("div", body, "e");
      h("span", ends, 0, low);
      h("span", ends, 0, high);
    }
    let form = h("div", body);
    form.hidden = true;
    let lab = at(h("label", form), {for: "m"});
    let ta = at(h("textarea", form), {id: "m", maxlength: 2000});
    let bar = h("div", form, "b");
    h("button", bar, "p", L.send).onclick = safe(() => {
      let comment = ta.value.trim();
      if (comment) {
        run(() => send(c, "PATCH", "/api/v1/responses/" + id, {comment}).then((r) => emit("comment", {id, comment, response: r})));
      }
      finish();
    });
    h("button", bar, 0, L.skip).onclick = safe(() => finish());
    let status = at(h("div", wrap, "z"), {role: "status", "aria-live": "polite", tabindex: -1});
    let retry = h("button", wrap, "p", L.retry);
    retry.hidden = true;
    retry.onclick = safe(() => pump());
    // Closing counts as an answer for the cooldown, and the server hears of it (per person).
    if (c.dismissible) {
      at(h("button", wrap, "x", "×"), {type: "button", "aria-label": L.close}).onclick = safe(() => {
        cool(c);
        send(c, "POST", "/api/v1/dismissals", {identity: I}).catch(() => 0);
        emit("dismiss", {id, score: sel});
        unmount(el);
      });
    }

    let rove = (j) => {
      btns.forEach((b, k) => b.tabIndex = k == j ? 0 : -1);
      return btns[j];
    };
    // Stars fill up to the hovered or focused one.
    let paint = (p) => btns.forEach((b, k) => b.classList.toggle("on", scale == stars && k + lo <= p));
    // Show a score as chosen (a click, or a conversation's earlier rating) without sending it.
    let mark = (s) => {
      sel = s;
      btns.forEach((b, k) => b.setAttribute("aria-checked", k + lo == s));
      rove(s - lo);
      paint(s);
    };
    let choose = (s) => {
      if (done) return;
      mark(s);
      // The follow-up question fits how it went: low, middle or top group of the scale.
      let b = c.bounds || [7, 9], g = s < b[0] ? 0 : s < b[1] ? 1 : 2;
      lab.textContent = o.comment_prompt || (c.prompts || [])[g] || c.comment_prompt || L["prompt_" + ["low", "neutral", "high"][g]];
      // Reads `sel` when it runs, so a change of mind re-posts the same id with the new score.
      run(() => {
        let score = sel;
        // `shown`: this widget counted its impression, so the rating counts toward the response
        // rate. Context comes from a subject token alone; only anonymous widgets send the page's.
        let body = {id, score, shown: !!shown, identity: I, ...(/^e\./.test(c.token) && {context: c.context, client: client()})};
        return send(c, "POST", "/api/v1/responses", body).then((r) => {
          // The stored id: a conversation rated before keeps its rating's id.
          id = r.id;
          cool(c);
          emit("score", {id, score, response: r});
        });
      });
      if (c.comment === false) finish();
      else form.hidden = false;
    };
    let finish = () => {
      done = 1;
      run(() => {
        body.hidden = true;
        status.textContent = c.thank_you || L.thank_you;
        if (wrap.contains(root.activeElement)) status.focus();
        emit("done", {id, score: sel});
      });
    };
    // Sends go out one at a time, in order; a failure stops the queue until "Try again".
    let run = (task) => {
      tasks.push(task);
      pump();
    };
    let pump = () => {
      if (busy || dead || !tasks.length) return;
      busy = 1;
      retry.hidden = true;
      if (!done) status.textContent = "";
      Promise.resolve().then(tasks[0]).then(() => {
        busy = 0;
        tasks.shift();
        pump();
      }, (e) => {
        busy = 0;
        if (dead) return;
        status.textContent = L.failed;
        retry.hidden = false;
        warn(e.message);
        emit("error", {code: e.code || "network_error", status: e.status || 0, detail: e.message});
      });
    };
    // An impression counts once, when the widget is actually on screen.
    seen = new IntersectionObserver((es) => {
      if (es.some((x) => x.isIntersecting)) {
        seen.disconnect();
        shown = 1;
        send(c, "POST", "/api/v1/impressions", {identity: I}).catch(() => 0);
      }
    });
    seen.observe(wrap);
    // A subject token is one conversation: show its earlier rating, if any, ready to change.
    if (/^s\./.test(c.token)) fetch(c.api + "/api/v1/responses/current?token=" + encodeURIComponent(c.token), {credentials: "omit"})
      .then((r) => r.json())
      .then(safe((b) => {
        let x = b.response;
        if (x && sel == null && !dead) {
          id = x.id;
          ta.value = x.comment || "";
          mark(x.score);
        }
      }))
      .catch(() => 0);
    emit("ready", {shown: true, scale: c.scale, locale: lg});
  };

  // From a loader: the touchpoint's config and the <script> that carried it.
  let load = (c, s) => {
    let ds = s ? s.dataset : {}, t = ds.target, p = s && s._scorelet;
    if (p) return live.get(p.el) == s && render(p.el, pick(c, p.o), p.o);
    // An identity in the tag's own URL (/s/TOKEN.js?identity=…) came with its answer already.
    let o = {locale: ds.locale || undefined, dismissible: ds.dismissible != null || undefined,
      identity: s && new URL(s.src).searchParams.get("identity")};
    c = pick(c, o);
    c.identity = c.identity || ds.identity;
    if (t) return whenReady(() => {
      let e = d.querySelector(t);
      e ? render(e, c, o) : warn("no element matches data-target " + t);
    });
    let e = h("div");
    if (s && s.parentNode && s.parentNode != d.head) s.before(e);
    else whenReady(() => d.body.append(e));
    render(e, c, o);
  };

  // Mount from JavaScript. With only a token, fetch the touchpoint's loader to learn its config,
  // telling it the language override (l) and the page's (p) so it carries the right strings.
  let mount = (el, o) => {
    if (typeof el == "string") el = d.querySelector(el);
    if (!el || !o || !o.token) return warn("mount(element, {token}) needs an element and a token");
    unmount(el);
    let s = h("script");
    s.src = (o.api || API) + "/s/" + encodeURIComponent(o.token) + ".js?l=" + code(o.l || o.locale) + "&p=" + code(d.documentElement.lang) + (o.identity ? "&identity=" + encodeURIComponent(o.identity) : "");
    s._scorelet = {el, o};
    live.set(el, s);
    d.head.append(s);
  };

  let track = (n) => {
    fired[n] = 1;
    waits.map((f) => f());
  };
  let methods = {load, mount, unmount, track, identify: (t) => idn = t};
  let S = safe((name, ...args) => methods[name] ? methods[name](...args) : warn("unknown call " + name));
  S.v = 1;
  S.mount = (el, o) => S("mount", el, o);
  S.unmount = (el) => S("unmount", el);
  w.Scorelet = S;
  for (let a of old && old.q || []) S(...a);
})(window, document);
