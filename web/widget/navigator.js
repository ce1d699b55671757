/*
 * Supplier Navigator chat widget: plain JavaScript on socket.io-client, talking to Rasa's socket.io channel.
 *
 * Embed it with one tag (the other files are found next to it, on the same server):
 *   <script src="https://navigator.example/widget/navigator.js" defer
 *           data-title="Supplier Navigator"        (optional: the panel's heading)
 *           data-lang="en"                        (optional: translations/<lang>/common.json; default: the page's lang)
 *           data-start-topic="vor-what-is"        (optional: answer this topic when a conversation starts)
 *           data-start-flow="name"                (optional: start this flow when a conversation starts)
 *           data-server-url="https://rasa.example"></script>  (optional: else /config.js of the same server)
 *
 * Deep links: ?topic=<knowledge id> sends "/topic_<id with - as _>", ?flow=<name> sends "/start_<name>".
 * The conversation (session id and history) is kept in localStorage for a day, like Rasa's session expiry.
 * Every piece of text is put into the page as text nodes, never as HTML, so nothing typed by a founder or
 * sent by the server can become markup or script.
 */
(function () {
  "use strict";
  if (window.SupplierNavigator) return; // included twice: keep the first

  var script = document.currentScript || document.querySelector("script[src*='widget/navigator.js']");
  var data = (script && script.dataset) || {};
  var ROOT = new URL("../", script ? script.src : location.href).href;
  var STORAGE_KEY = "supplierNavigator.v1";
  var MAX_AGE_MS = 24 * 60 * 60 * 1000;
  var TOPIC_RE = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;
  var FLOW_RE = /^[a-z0-9]+(?:_[a-z0-9]+)*$/;
  // A handoff reference ("H00042") in a bot message means the request for a person was recorded.
  var HANDOFF_RE = /\b(H\d{5,})\b/;
  var SAFE_PROTOCOLS = ["http:", "https:", "mailto:", "tel:"];

  var strings = {};
  var state;
  var socket = null;
  var ready = false;        // connected and the session confirmed: messages can go out
  var wasOffline = false;
  var resetting = false;
  var typingTimer = null;
  var statusTimer = null;
  var el = {};

  // ------------------------------------------------------------------ small helpers

  function t(key, values) {
    var text = Object.prototype.hasOwnProperty.call(strings, key) ? strings[key] : key;
    return text.replace(/\{(\w+)\}/g, function (whole, name) {
      return values && values[name] != null ? String(values[name]) : whole;
    });
  }

  function make(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) {
      var value = attrs[name];
      if (value == null || value === false) return;
      if (name === "text") node.textContent = value;
      else if (name === "className") node.className = value;
      else node.setAttribute(name, value === true ? "" : value);
    });
    (children || []).forEach(function (child) { if (child) node.appendChild(child); });
    return node;
  }

  function chatIcon() {
    var ns = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("class", "sn-launcher-icon");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    var path = document.createElementNS(ns, "path");
    path.setAttribute("d", "M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z");
    path.setAttribute("fill", "currentColor");
    svg.appendChild(path);
    return svg;
  }

  function loadScript(src) {
    return new Promise(function (resolve, reject) {
      var tag = make("script", { src: src });
      tag.onload = resolve;
      tag.onerror = function () { reject(new Error("could not load " + src)); };
      document.head.appendChild(tag);
    });
  }

  function fetchJson(url) {
    return fetch(url, { credentials: "omit" }).then(function (response) {
      if (!response.ok) throw new Error(url + ": HTTP " + response.status);
      return response.json();
    });
  }

  // ------------------------------------------------------------------ stored conversation

  function freshState() {
    return { sessionId: null, updated: Date.now(), open: false, seq: 0, messages: [] };
  }

  function loadState() {
    try {
      var saved = JSON.parse(localStorage.getItem(STORAGE_KEY) || "null");
      if (saved && Array.isArray(saved.messages) && Date.now() - (saved.updated || 0) < MAX_AGE_MS) return saved;
    } catch (error) { /* unreadable or blocked storage: start afresh */ }
    return freshState();
  }

  function save() {
    state.updated = Date.now();
    try { localStorage.setItem(STORAGE_KEY, JSON.stringify(state)); } catch (error) { /* private mode, full */ }
  }

  function addMessage(message) {
    state.seq += 1;
    message.id = state.seq;
    state.messages.push(message);
    save();
    return message;
  }

  // ------------------------------------------------------------------ safe Markdown (bold, lists, links)

  function safeHref(url) {
    try {
      var parsed = new URL(url, location.href);
      return SAFE_PROTOCOLS.indexOf(parsed.protocol) >= 0 ? parsed.href : null;
    } catch (error) { return null; }
  }

  function link(label, url, parent, allowLinks) {
    var href = safeHref(url);
    if (!href) { parent.appendChild(document.createTextNode(label)); return; }
    var a = make("a", { href: href, target: "_blank", rel: "noopener noreferrer" });
    inline(label, a, false);
    a.appendChild(make("span", { className: "sn-vh", text: " " + t("messages.newTab") }));
    parent.appendChild(a);
  }

  var INLINE_RE = /\*\*([^\n]+?)\*\*|\[([^\]\n]+)\]\(([^()\s]+)\)|(https?:\/\/[^\s<>"]*[^\s<>".,;:!?)'])/g;

  function inline(text, parent, allowLinks) {
    var last = 0, match;
    INLINE_RE.lastIndex = 0;
    var matches = [];
    while ((match = INLINE_RE.exec(text)) !== null) matches.push({ m: match, index: match.index, end: INLINE_RE.lastIndex });
    matches.forEach(function (found) {
      var m = found.m;
      if (found.index > last) parent.appendChild(document.createTextNode(text.slice(last, found.index)));
      if (m[1] !== undefined) {
        var strong = make("strong");
        inline(m[1], strong, allowLinks);
        parent.appendChild(strong);
      } else if (m[2] !== undefined && allowLinks !== false) {
        link(m[2], m[3], parent);
      } else if (m[4] !== undefined && allowLinks !== false) {
        link(m[4], m[4], parent);
      } else {
        parent.appendChild(document.createTextNode(m[0]));
      }
      last = found.end;
    });
    if (last < text.length) parent.appendChild(document.createTextNode(text.slice(last)));
  }

  function renderMarkdown(text, container) {
    String(text || "").replace(/\r\n?/g, "\n").split(/\n{2,}/).forEach(function (block) {
      var list = null, listTag = null, paragraph = null;
      block.split("\n").forEach(function (line) {
        var bullet = /^\s*[-*•]\s+(.*)$/.exec(line);
        var numbered = /^\s*\d+[.)]\s+(.*)$/.exec(line);
        if (bullet || numbered) {
          var tag = bullet ? "ul" : "ol";
          if (!list || listTag !== tag) { list = make(tag); listTag = tag; container.appendChild(list); }
          var item = make("li");
          inline((bullet || numbered)[1], item, true);
          list.appendChild(item);
          paragraph = null;
        } else if (line.trim()) {
          list = null;
          if (!paragraph) { paragraph = make("p"); container.appendChild(paragraph); }
          else paragraph.appendChild(make("br"));
          inline(line, paragraph, true);
        }
      });
    });
    return container;
  }

  // ------------------------------------------------------------------ the widget's DOM

  function build() {
    var title = data.title || t("panel.title");
    el.root = make("aside", { className: "sn-root", "aria-label": title, lang: state.lang });
    el.launcher = make("button", { type: "button", className: "sn-launcher", "aria-expanded": "false",
                                   "aria-controls": "sn-panel" }, [
      chatIcon(),
      make("span", { text: t("launcher.open") }),
    ]);
    el.title = make("h2", { id: "sn-title", className: "sn-title", text: title });
    el.newButton = make("button", { type: "button", className: "sn-header-button", text: t("panel.newConversation") });
    el.closeButton = make("button", { type: "button", className: "sn-header-button sn-close",
                                      "aria-label": t("panel.close") }, [
      make("span", { "aria-hidden": "true", text: "×" }),
    ]);
    el.status = make("div", { className: "sn-status", role: "status" });
    el.list = make("ol", { className: "sn-messages" });
    el.scroll = make("div", { className: "sn-scroll", tabindex: "0", role: "region",
                              "aria-label": t("messages.label") }, [el.list]);
    el.typing = make("div", { className: "sn-typing", hidden: true }, [
      make("span", { className: "sn-dots", "aria-hidden": "true" }, [make("span"), make("span"), make("span")]),
      make("span", { className: "sn-typing-text", text: t("typing") }),
    ]);
    el.input = make("input", { id: "sn-input", className: "sn-input", type: "text", autocomplete: "off",
                               maxlength: "1000", placeholder: t("input.placeholder") });
    el.send = make("button", { type: "submit", className: "sn-send", text: t("input.send") });
    el.form = make("form", { className: "sn-form" }, [
      make("label", { for: "sn-input", className: "sn-vh", text: t("input.label") }), el.input, el.send,
    ]);
    el.panel = make("section", { id: "sn-panel", className: "sn-panel", "aria-labelledby": "sn-title", hidden: true }, [
      make("div", { className: "sn-header" }, [
        make("div", { className: "sn-heading" }, [el.title, el.closeButton]),
        make("div", { className: "sn-toolbar" }, [
          make("p", { className: "sn-subtitle", text: t("panel.subtitle") }), el.newButton]),
      ]),
      el.status, el.scroll, el.typing, el.form,
    ]);
    // Announces each new bot message once; emptied when the founder sends, never filled from history.
    el.live = make("div", { className: "sn-vh sn-live", "aria-live": "polite", "aria-atomic": "false" });
    el.root.appendChild(el.panel);
    el.root.appendChild(el.launcher);
    el.root.appendChild(el.live);
    document.body.appendChild(el.root);

    el.launcher.addEventListener("click", function () { if (el.panel.hidden) open(true); else close(); });
    el.closeButton.addEventListener("click", close);
    el.newButton.addEventListener("click", newConversation);
    el.panel.addEventListener("keydown", function (event) {
      if (event.key === "Escape" || event.key === "Esc") { event.preventDefault(); close(); }
    });
    el.form.addEventListener("submit", function (event) {
      event.preventDefault();
      var text = el.input.value.trim();
      if (!text) { el.input.focus(); return; }
      el.input.value = "";
      send(text, text);
    });
  }

  function renderAll() {
    el.list.textContent = "";
    var welcome = make("li", { className: "sn-msg sn-msg--bot sn-welcome" }, [
      make("span", { className: "sn-vh", text: t("messages.bot") + " " }),
      make("div", { className: "sn-bubble", text: t("messages.welcome") }),
    ]);
    el.list.appendChild(welcome);
    state.messages.forEach(function (message) { if (!message.silent) el.list.appendChild(renderMessage(message)); });
    scrollToEnd();
  }

  function renderMessage(message) {
    var item;
    if (message.from === "notice") {
      item = make("li", { className: "sn-notice", "data-kind": message.kind }, [
        make("p", { className: "sn-notice-title" }, [make("strong", { text: t("handoff.title") })]),
        make("p", { text: t("handoff.body", { reference: message.reference }) }),
      ]);
      return item;
    }
    var mine = message.from === "user";
    var bubble = make("div", { className: "sn-bubble" });
    if (mine) bubble.textContent = message.text; // what a founder types is shown as typed, never as markup
    else renderMarkdown(message.text, bubble);
    item = make("li", { className: "sn-msg " + (mine ? "sn-msg--user" : "sn-msg--bot"), "data-id": message.id }, [
      make("span", { className: "sn-vh", text: t(mine ? "messages.you" : "messages.bot") + " " }), bubble,
    ]);
    if (mine && message.pending) item.appendChild(make("p", { className: "sn-pending", text: t("messages.pending") }));
    if (message.buttons && message.buttons.length) item.appendChild(renderButtons(message));
    return item;
  }

  function renderButtons(message) {
    var group = make("div", { className: "sn-replies", role: "group", "aria-label": t("quickReplies.label") });
    message.buttons.forEach(function (button) {
      var chosen = message.answered && message.chosen === button.payload;
      var node = make("button", { type: "button", className: "sn-reply" + (chosen ? " sn-reply--chosen" : ""),
                                  disabled: !!message.answered }, [make("span", { text: button.title })]);
      if (chosen) node.appendChild(make("span", { className: "sn-vh", text: " (" + t("quickReplies.chosen") + ")" }));
      node.addEventListener("click", function () { choose(message, button); });
      group.appendChild(node);
    });
    return group;
  }

  function rerender(message) {
    var old = el.list.querySelector("li[data-id='" + message.id + "']");
    if (old) old.replaceWith(renderMessage(message));
  }

  function append(message) {
    el.list.appendChild(renderMessage(message));
    scrollToEnd();
  }

  function scrollToEnd() {
    el.scroll.scrollTop = el.scroll.scrollHeight;
  }

  function announce(node) {
    el.live.appendChild(node);
  }

  function setTyping(on) {
    clearTimeout(typingTimer);
    el.typing.hidden = !on;
    if (on) typingTimer = setTimeout(function () { el.typing.hidden = true; }, 45000);
    scrollToEnd();
  }

  function setStatus(kind) {
    clearTimeout(statusTimer);
    el.status.className = "sn-status" + (kind ? " sn-status--" + kind : "");
    el.status.textContent = kind ? t("status." + kind) : "";
    if (kind === "reconnected") statusTimer = setTimeout(function () { setStatus(null); }, 4000);
  }

  // ------------------------------------------------------------------ conversation

  function open(focus) {
    el.panel.hidden = false;
    el.launcher.setAttribute("aria-expanded", "true");
    el.root.classList.add("sn-open");
    if (!state.open) { state.open = true; save(); }
    connect();
    scrollToEnd();
    if (focus) el.input.focus();
  }

  function close() {
    el.panel.hidden = true;
    el.launcher.setAttribute("aria-expanded", "false");
    el.root.classList.remove("sn-open");
    state.open = false;
    save();
    el.launcher.focus();
  }

  /** Sends a message: `display` is shown as the founder's bubble (none for a deep link's start payload). */
  function send(payload, display) {
    el.live.textContent = ""; // only the replies to this message will be announced
    var message = addMessage({ from: "user", text: display || "", payload: payload, pending: true,
                               silent: !display });
    if (display) append(message);
    flush();
  }

  function choose(message, button) {
    if (message.answered) return;
    message.answered = true;
    message.chosen = button.payload;
    save();
    rerender(message);
    el.input.focus(); // the pressed button is now disabled: keep keyboard focus in a useful place
    send(button.payload, button.title);
  }

  function flush() {
    if (!ready) {
      state.messages.forEach(function (message) { if (message.pending && !message.silent) rerender(message); });
      return;
    }
    var sent = false;
    state.messages.forEach(function (message) {
      if (message.from !== "user" || !message.pending) return;
      socket.emit("user_uttered", { message: message.payload, session_id: state.sessionId });
      message.pending = false;
      sent = true;
      if (!message.silent) rerender(message);
    });
    if (sent) { save(); setTyping(true); }
  }

  function receive(reply) {
    if (!reply || typeof reply !== "object") return;
    var text = reply.text || "";
    var buttons = (reply.quick_replies || reply.buttons || []).filter(function (b) {
      return b && typeof b.title === "string" && typeof b.payload === "string";
    }).map(function (b) { return { title: b.title, payload: b.payload }; });
    if (!text && reply.attachment && reply.attachment.type === "image") {
      var src = reply.attachment.payload && reply.attachment.payload.src;
      if (src && safeHref(src)) text = src;
    }
    if (!text && !buttons.length) return;
    setTyping(false);
    var message = addMessage({ from: "bot", text: text, buttons: buttons });
    append(message);
    announce(renderMarkdown(text, make("div")));
    var handoff = HANDOFF_RE.exec(text);
    if (handoff) {
      var notice = addMessage({ from: "notice", kind: "handoff", reference: handoff[1] });
      append(notice);
      announce(make("p", { text: t("handoff.title") + ". " + t("handoff.body", { reference: handoff[1] }) }));
    }
  }

  function newConversation() {
    var wasOpen = state.open;
    state = freshState();
    state.open = wasOpen;
    save();
    renderAll();
    setTyping(false);
    el.live.textContent = "";
    announce(make("p", { text: t("panel.newConversationDone") }));
    if (socket) {
      // A new socket gets a new session id from the server; the old conversation's replies stop arriving.
      ready = false;
      resetting = true;
      socket.disconnect();
      socket.connect();
    }
    el.input.focus();
  }

  // ------------------------------------------------------------------ connection

  function connect() {
    if (socket) return;
    if (typeof window.io !== "function") { setStatus("noClient"); return; }
    setStatus("connecting");
    el.root.setAttribute("data-connection", "connecting");
    socket = window.io(state.serverUrl, { path: "/socket.io", reconnectionDelay: 500, reconnectionDelayMax: 4000 });
    socket.on("connect", function () {
      socket.emit("session_request", { session_id: state.sessionId });
    });
    socket.on("session_confirm", function (sessionId) {
      var id = typeof sessionId === "string" ? sessionId : sessionId && sessionId.session_id;
      if (!id) return;
      state.sessionId = id;
      save();
      ready = true;
      resetting = false;
      el.root.setAttribute("data-connection", "online");
      setStatus(wasOffline ? "reconnected" : null);
      wasOffline = false;
      flush();
    });
    function offline() {
      ready = false;
      if (resetting) return;
      el.root.setAttribute("data-connection", "offline");
      wasOffline = true;
      setTyping(false);
      setStatus("offline");
    }
    socket.on("disconnect", offline);
    socket.on("connect_error", offline);
    socket.on("bot_uttered", receive);
  }

  function deepLinkStart() {
    var params = new URLSearchParams(location.search);
    var topic = params.get("topic"), flow = params.get("flow");
    var payload = null;
    if (topic !== null || flow !== null) {
      if (topic && TOPIC_RE.test(topic)) payload = "/topic_" + topic.replace(/-/g, "_");
      else if (flow && FLOW_RE.test(flow)) payload = "/start_" + flow;
      // A reload must not ask again: the link's parameters are consumed once.
      params.delete("topic");
      params.delete("flow");
      var rest = params.toString();
      history.replaceState(history.state, "", location.pathname + (rest ? "?" + rest : "") + location.hash);
      return payload;
    }
    if (state.messages.length) return null; // data-start-* only begin a new conversation
    if (data.startTopic && TOPIC_RE.test(data.startTopic)) return "/topic_" + data.startTopic.replace(/-/g, "_");
    if (data.startFlow && FLOW_RE.test(data.startFlow)) return "/start_" + data.startFlow;
    return null;
  }

  // ------------------------------------------------------------------ start-up

  function serverUrl() {
    if (data.serverUrl) return Promise.resolve(data.serverUrl);
    if (window.NAVIGATOR_CONFIG && window.NAVIGATOR_CONFIG.rasaUrl) return Promise.resolve(window.NAVIGATOR_CONFIG.rasaUrl);
    return loadScript(ROOT + "config.js").then(function () {
      return (window.NAVIGATOR_CONFIG && window.NAVIGATOR_CONFIG.rasaUrl) || location.origin;
    });
  }

  function translations(lang) {
    return fetchJson(ROOT + "translations/" + encodeURIComponent(lang) + "/common.json").catch(function () {
      return lang === "en" ? {} : translations("en");
    });
  }

  function start() {
    var lang = (data.lang || document.documentElement.lang || "en").toLowerCase().split("-")[0];
    if (!/^[a-z]{2,3}$/.test(lang)) lang = "en";
    var css = make("link", { rel: "stylesheet", href: ROOT + "widget/navigator.css" });
    document.head.appendChild(css);
    var client = typeof window.io === "function" ? Promise.resolve() :
      loadScript(ROOT + "vendor/socket.io.min.js").catch(function () { /* reported when connecting */ });
    Promise.all([translations(lang), serverUrl(), client]).then(function (results) {
      strings = results[0] || {};
      state = loadState();
      state.lang = lang;
      state.serverUrl = results[1];
      build();
      renderAll();
      var payload = deepLinkStart();
      if (payload) {
        open(true);
        send(payload, null);
      } else if (state.open) {
        open(false); // reopened after a reload or a page change: don't take focus away from the page
      }
      if (state.messages.some(function (m) { return m.pending; })) connect();
      el.root.setAttribute("data-ready", "true");
    });
  }

  window.SupplierNavigator = {
    open: function () { if (el.panel) open(true); },
    close: function () { if (el.panel) close(); },
    newConversation: function () { if (el.panel) newConversation(); },
  };

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
