// Scorelet dashboard: the little the pages need a script for. Everything works without it
// (forms, links, charts); with it the page follows new ratings live, copy buttons copy,
// sign-in tells the server the browser's time zone, and the widget preview follows the form.
(() => {
  "use strict";
  const $ = (selector, root = document) => root.querySelector(selector);
  const $$ = (selector, root = document) => Array.from(root.querySelectorAll(selector));

  // Sign-in: days and weeks are cut in the browser's own time zone.
  for (const input of $$("[data-timezone]")) {
    try { input.value = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) {}
  }

  // Copy buttons: data-copy names the element whose text to copy.
  for (const button of $$("[data-copy]")) {
    button.addEventListener("click", () => {
      const source = $(button.dataset.copy);
      if (!source || !navigator.clipboard) return;
      const label = button.textContent;
      navigator.clipboard.writeText(source.textContent.trim()).then(() => {
        button.textContent = "Copied";
        setTimeout(() => { button.textContent = label; }, 1500);
      }, () => {});
    });
  }

  // Live: the server says when what this page shows has changed; the page fetches itself
  // again and swaps the regions that hold numbers, keeping focus where it was.
  const live = document.body.dataset.live;
  const status = $("#live-status");
  const say = (text) => { if (status) status.textContent = text; };
  let busy = false, again = false;
  const refresh = () => {
    if (busy) { again = true; return; }
    busy = true;
    fetch(location.href, {credentials: "same-origin", headers: {"X-Scorelet-Live": "1"}})
      .then((response) => {
        if (!response.ok || new URL(response.url).pathname !== location.pathname) throw new Error("gone");
        return response.text();
      })
      .then((html) => {
        const fresh = new DOMParser().parseFromString(html, "text/html");
        const focused = document.activeElement && document.activeElement.id;
        for (const region of $$("[data-live-region]", fresh)) {
          const old = region.id && document.getElementById(region.id);
          if (old) old.replaceWith(document.importNode(region, true));
        }
        if (focused && document.getElementById(focused)) document.getElementById(focused).focus();
        say("Updated " + new Date().toLocaleTimeString());
        document.dispatchEvent(new CustomEvent("scorelet:dashboard-updated"));
      })
      .catch(() => say("Live updates stopped: reload the page."))
      .finally(() => {
        busy = false;
        if (again) { again = false; refresh(); }
      });
  };
  if (live && window.EventSource) {
    const slug = live.startsWith("touchpoint:") ? live.slice("touchpoint:".length) : "";
    const events = new EventSource("/dashboard/live" + (slug ? "?t=" + encodeURIComponent(slug) : ""));
    events.addEventListener("change", refresh);
    events.addEventListener("ended", () => {
      events.close();
      say("Your session has ended: reload to sign in again.");
    });
    events.addEventListener("open", () => say("Live"));
  }

  // The widget preview follows the settings form as it is typed (nothing is saved or rated).
  const form = $("[data-preview-form]");
  const preview = $("[data-preview]");
  if (form && preview) {
    let timer;
    const value = (name) => {
      const field = form.elements[name];
      return field && field.value.trim() ? field.value.trim() : undefined;
    };
    form.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        if (!window.Scorelet || !window.Scorelet.mount) return;
        window.Scorelet.mount(preview, {
          token: "preview",
          api: location.origin + preview.dataset.preview,
          question: value("question"),
          low_label: value("low_label"),
          high_label: value("high_label"),
          comment_prompt: value("comment_prompt"),
          thank_you: value("thank_you"),
          locale: value("locale"),
        });
      }, 300);
    });
  }
})();
