/* The officers' link builder: topics from GET /api/topics and flows from GET /api/flows (only flows that exist),
   a deep link to the chosen one (?topic=<id> or ?flow=<name>), copy to the clipboard, and a QR code. */
(function () {
  "use strict";
  var strings = {};
  var $ = function (id) { return document.getElementById(id); };
  var target = $("target"), page = $("page"), link = $("link"), copy = $("copy"), open = $("open");

  function t(key, values) {
    var text = strings[key] || key;
    return text.replace(/\{(\w+)\}/g, function (whole, name) { return values && name in values ? values[name] : whole; });
  }

  function json(url) {
    return fetch(url).then(function (r) { if (!r.ok) throw new Error(url + ": " + r.status); return r.json(); });
  }

  function option(value, label) {
    var node = document.createElement("option");
    node.value = value;
    node.textContent = label;
    return node;
  }

  function build() {
    var chosen = target.value;
    if (!chosen) { link.value = ""; copy.disabled = true; open.hidden = true; $("qr").hidden = true; return; }
    var url;
    try { url = new URL(page.value || "/", location.href); } catch (e) { url = new URL("/", location.href); }
    url.searchParams.delete("topic");
    url.searchParams.delete("flow");
    var parts = chosen.split(":");
    url.searchParams.set(parts[0], parts[1]);
    link.value = url.href;
    copy.disabled = false;
    open.href = url.href;
    open.hidden = false;
    $("copied").textContent = "";
    if (typeof window.qrcode === "function") {
      var qr = window.qrcode(0, "M");
      qr.addData(url.href);
      qr.make();
      var data = qr.createDataURL(6, 4);
      $("qr-image").src = data;
      $("qr-image").alt = t("links.qrAlt", { link: url.href });
      $("qr-download").href = data;
      $("qr").hidden = false;
    }
  }

  function copyLink() {
    var done = function () { $("copied").textContent = t("links.copied"); };
    var fallback = function () {
      link.select();
      try { if (document.execCommand("copy")) { done(); return; } } catch (e) { /* fall through */ }
      $("copied").textContent = t("links.copyFailed");
    };
    if (navigator.clipboard && navigator.clipboard.writeText) navigator.clipboard.writeText(link.value).then(done, fallback);
    else fallback();
  }

  json("/translations/" + (document.documentElement.lang || "en") + "/common.json").catch(function () { return {}; })
    .then(function (loaded) {
      strings = loaded;
      document.querySelectorAll("[data-i18n]").forEach(function (node) {
        if (strings[node.dataset.i18n]) node.textContent = strings[node.dataset.i18n];
      });
      page.value = new URL("/", location.href).href;
      return Promise.all([json("/api/topics"), json("/api/flows").catch(function () { return []; })]);
    })
    .then(function (lists) {
      var topics = lists[0], flows = lists[1];
      var topicGroup = document.createElement("optgroup");
      topicGroup.label = t("links.topics");
      topics.forEach(function (topic) { topicGroup.appendChild(option("topic:" + topic.id, topic.title)); });
      target.appendChild(topicGroup);
      if (flows.length) { // only flows that exist are offered; with none, the list has topics only
        var flowGroup = document.createElement("optgroup");
        flowGroup.label = t("links.flows");
        flows.forEach(function (flow) {
          var key = "flows." + flow.name; // a translated name when the translations file has one
          flowGroup.appendChild(option("flow:" + flow.name, strings[key] || flow.title));
        });
        target.appendChild(flowGroup);
      }
      target.disabled = false;
      $("count").textContent = t("links.count", { topics: topics.length, flows: flows.length });
      var wanted = new URLSearchParams(location.search);
      if (wanted.get("topic")) { target.value = "topic:" + wanted.get("topic"); build(); }
    })
    .catch(function () { $("count").textContent = t("links.loadFailed"); });

  target.addEventListener("change", build);
  page.addEventListener("input", build);
  copy.addEventListener("click", copyLink);
  $("builder").addEventListener("submit", function (event) { event.preventDefault(); });
})();
