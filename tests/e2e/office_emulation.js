/* A stand-in for Office.js in the browser tests: one Outlook mailbox item, in compose or read
 * mode, with the parts of the API the add-in uses (recipients, body, subject, internet headers,
 * sessionData, custom properties, RecipientsChanged, SSO, nested app authentication's bridge,
 * dialogs, Office.actions and event.completed). The test sets `window.__officeEmulation` before
 * the page loads:
 *   {mode: "compose" | "read", user: {email, name}, accessToken: string | null,
 *    item: {to, cc, bcc, subject, body: {type, content}, internetHeaders, sessionData, ...}}
 * and reads the same object back to see what the add-in did. `send()` runs the OnMessageSend
 * handler and resolves with the options it passed to event.completed. */
(function () {
  "use strict";

  var emu = window.__officeEmulation || {};
  window.__officeEmulation = emu;
  emu.mode = emu.mode || "compose";
  emu.user = emu.user || { email: "rep@example.com", name: "Rep" };
  emu.item = emu.item || {};
  emu.completed = emu.completed || [];
  emu.dialogs = [];
  emu.actions = {};
  emu.handlers = {};
  var it = emu.item;
  ["to", "cc", "bcc"].forEach(function (k) { it[k] = (it[k] || []).map(recipient); });
  it.subject = it.subject || "";
  it.body = it.body || { type: "html", content: "<p></p>" };
  it.internetHeaders = it.internetHeaders || {};
  it.sessionData = it.sessionData || {};
  it.customProperties = it.customProperties || {};

  function recipient(r) {
    if (typeof r === "string") return { emailAddress: r, displayName: r, recipientType: "other" };
    return { emailAddress: r.emailAddress || r.email, displayName: r.displayName || r.name || r.emailAddress || r.email,
      recipientType: r.recipientType || "externalUser" };
  }

  function callbackOf(args) {
    for (var i = args.length - 1; i >= 0; i--) if (typeof args[i] === "function") return args[i];
    return function () {};
  }

  function ok(args, value) {
    var cb = callbackOf(args);
    setTimeout(function () { cb({ status: "succeeded", value: value, error: null, asyncContext: null }); }, 0);
  }

  function fail(args, code, message) {
    var cb = callbackOf(args);
    setTimeout(function () {
      cb({ status: "failed", value: undefined, error: { code: code, name: code, message: message } });
    }, 0);
  }

  function fire(type) {
    (emu.handlers[type] || []).forEach(function (h) { setTimeout(function () { h({ type: type }); }, 0); });
  }

  function recipients(field) {
    return {
      getAsync: function () { ok(arguments, it[field].map(function (r) { return Object.assign({}, r); })); },
      setAsync: function (list) { it[field] = list.map(recipient); fire("olkRecipientsChanged"); ok(arguments); },
      addAsync: function (list) { it[field] = it[field].concat(list.map(recipient)); fire("olkRecipientsChanged"); ok(arguments); },
    };
  }

  function text(html) {
    var d = document.createElement("div");
    d.innerHTML = html;
    return d.textContent;
  }

  var composeItem = {
    itemType: "message",
    to: recipients("to"),
    cc: recipients("cc"),
    bcc: recipients("bcc"),
    subject: {
      getAsync: function () { ok(arguments, it.subject); },
      setAsync: function (value) { it.subject = value; ok(arguments); },
    },
    body: {
      getTypeAsync: function () { ok(arguments, it.body.type); },
      getAsync: function (coercion) {
        ok(arguments, coercion === "html" && it.body.type === "html" ? it.body.content
          : it.body.type === "html" ? text(it.body.content) : it.body.content);
      },
      setAsync: function (data) { it.body.content = data; ok(arguments); },
      setSelectedDataAsync: function (data) { it.body.content += data; ok(arguments); },
    },
    internetHeaders: {
      setAsync: function (headers) { Object.assign(it.internetHeaders, headers); ok(arguments); },
      getAsync: function (names) {
        var out = {};
        names.forEach(function (n) { if (n in it.internetHeaders) out[n] = it.internetHeaders[n]; });
        ok(arguments, out);
      },
      removeAsync: function (names) { names.forEach(function (n) { delete it.internetHeaders[n]; }); ok(arguments); },
    },
    sessionData: {
      setAsync: function (name, value) { it.sessionData[name] = String(value); ok(arguments); },
      getAsync: function (name) {
        if (name in it.sessionData) ok(arguments, it.sessionData[name]);
        else fail(arguments, "SessionDataObjectMissing", "No session data named " + name);
      },
      getAllAsync: function () { ok(arguments, JSON.stringify(it.sessionData)); },
      removeAsync: function (name) { delete it.sessionData[name]; ok(arguments); },
      clearAsync: function () { it.sessionData = {}; ok(arguments); },
    },
    loadCustomPropertiesAsync: function () {
      ok(arguments, {
        get: function (k) { return it.customProperties[k]; },
        set: function (k, v) { it.customProperties[k] = v; },
        remove: function (k) { delete it.customProperties[k]; },
        saveAsync: function () { ok(arguments); },
      });
    },
    addHandlerAsync: function (type, handler) {
      (emu.handlers[type] = emu.handlers[type] || []).push(handler);
      ok(Array.prototype.slice.call(arguments, 2)); // the optional callback, never the handler
    },
  };

  function readItem() {
    return {
      itemType: "message",
      from: recipient(it.from || emu.user.email),
      to: it.to.map(function (r) { return Object.assign({}, r); }),
      cc: it.cc.map(function (r) { return Object.assign({}, r); }),
      subject: it.subject,
      internetMessageId: it.internetMessageId || "<emulated@example.com>",
      dateTimeCreated: new Date(it.dateTimeCreated || Date.now()),
      body: composeItem.body,
      getAllInternetHeadersAsync: function () { ok(arguments, ""); },
      loadCustomPropertiesAsync: composeItem.loadCustomPropertiesAsync,
    };
  }

  var ready = new Promise(function (resolve) {
    var done = function () { resolve({ host: "Outlook", platform: "OfficeOnline" }); };
    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", done);
    else setTimeout(done, 0);
  });

  /* Nested app authentication: with `nestedAppAuth` set, the host reports the NestedAppAuth
   * requirement set and provides `window.nestedAppAuthBridge`, the broker channel MSAL.js uses
   * (JSON "NestedAppAuthRequest" messages GetInitContext, GetToken, GetTokenPopup, answered by
   * "message" events carrying {requestId, success, initContext | token + account | error}).
   *   nestedAppAuth: {accessToken, idToken, account, silent: "ok" | "interaction_required" |
   *                   "error", popup: "ok" | "cancel"}
   * Every request lands in `naaRequests`; `ssoCalls` counts Office.auth.getAccessToken calls. */
  emu.naaRequests = [];
  emu.ssoCalls = 0;
  if (emu.nestedAppAuth) {
    var naa = emu.nestedAppAuth;
    var naaListeners = [];
    var tokenReply = function (request) {
      return { success: true, account: naa.account, token: { access_token: naa.accessToken,
        id_token: naa.idToken, expires_in: 3600, scope: request.tokenParams.scope } };
    };
    var naaAnswer = function (request) {
      if (request.method === "GetInitContext") {
        return { success: true, initContext: { sdkName: "office-emulation", sdkVersion: "1.0",
          accountContext: null, capabilities: { queryAccount: false } } };
      }
      if (request.method === "GetToken" && naa.silent === "interaction_required") {
        return { success: false, error: { status: "USER_INTERACTION_REQUIRED",
          code: "interaction_required", description: "The user must consent first." } };
      }
      if (request.method === "GetToken" && naa.silent === "error") {
        return { success: false, error: { status: "PERSISTENT_ERROR", code: "invalid_client",
          description: "The app registration has no brk-multihub redirect." } };
      }
      if (request.method === "GetTokenPopup" && naa.popup === "cancel") {
        return { success: false, error: { status: "USER_CANCEL" } };
      }
      if (request.method === "GetToken" || request.method === "GetTokenPopup") return tokenReply(request);
      return { success: false, error: { status: "PERSISTENT_ERROR", code: "unsupported_method" } };
    };
    window.nestedAppAuthBridge = {
      addEventListener: function (type, fn) { if (type === "message") naaListeners.push(fn); },
      removeEventListener: function (type, fn) {
        naaListeners = naaListeners.filter(function (f) { return f !== fn; });
      },
      postMessage: function (raw) {
        var request = JSON.parse(raw);
        emu.naaRequests.push(request);
        var reply = Object.assign({ messageType: "NestedAppAuthResponse", requestId: request.requestId },
          naaAnswer(request));
        setTimeout(function () {
          naaListeners.forEach(function (fn) { fn(JSON.stringify(reply)); });
        }, 0);
      },
    };
  }

  window.OfficeRuntime = {
    storage: {
      getItem: function (k) { return Promise.resolve(window.localStorage.getItem("office-runtime:" + k)); },
      setItem: function (k, v) { window.localStorage.setItem("office-runtime:" + k, v); return Promise.resolve(); },
      removeItem: function (k) { window.localStorage.removeItem("office-runtime:" + k); return Promise.resolve(); },
    },
  };

  window.Office = {
    AsyncResultStatus: { Succeeded: "succeeded", Failed: "failed" },
    CoercionType: { Html: "html", Text: "text" },
    EventType: { RecipientsChanged: "olkRecipientsChanged", DialogMessageReceived: "dialogMessageReceived" },
    onReady: function (cb) { return ready.then(function (info) { if (cb) cb(info); return info; }); },
    actions: { associate: function (name, fn) { emu.actions[name] = fn; } },
    auth: {
      getAccessToken: function () {
        emu.ssoCalls += 1;
        if (emu.accessToken) return Promise.resolve(emu.accessToken);
        return Promise.reject({ code: 13001, message: "The user is not signed in to Office." });
      },
    },
    context: {
      requirements: {
        isSetSupported: function (name) { return name === "NestedAppAuth" ? !!emu.nestedAppAuth : true; },
      },
      mailbox: {
        item: emu.mode === "read" ? readItem() : composeItem,
        userProfile: { emailAddress: emu.user.email, displayName: emu.user.name },
      },
      ui: {
        displayDialogAsync: function (url) {
          emu.dialogs.push(url);
          ok(arguments, { addEventHandler: function () {}, close: function () {} });
        },
        messageParent: function (message) { emu.parentMessages = (emu.parentMessages || []).concat([message]); },
      },
    },
  };

  emu.addRecipients = function (field, list) {
    it[field] = it[field].concat(list.map(recipient));
    fire("olkRecipientsChanged");
  };

  emu.send = function () {
    return new Promise(function (resolve, reject) {
      var handler = emu.actions.onMessageSendHandler;
      if (!handler) { reject(new Error("no OnMessageSend handler associated")); return; }
      handler({ type: "olkMessageSend", completed: function (options) {
        emu.completed.push(options || {});
        resolve(options || {});
      } });
    });
  };
})();
