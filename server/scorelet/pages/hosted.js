// The hosted rating page's only script. The page works without it: it is a plain form that
// posts back to the page. When the widget runtime has loaded, mount it over the form, and take
// the form away only once the widget is on screen, so a failure leaves the form in place.
(function (d) {
  var el = d.querySelector(".mount[data-token]");
  var S = window.Scorelet;
  if (!el || !S || !S.mount) return;
  el.addEventListener("scorelet:ready", function (e) {
    var form = el.querySelector("form");
    if (form && e.detail && e.detail.shown) form.remove();
  });
  S.mount(el, {token: el.getAttribute("data-token")});
})(document);
