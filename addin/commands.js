/* Liaison for Outlook: the shared client and the event handlers (UI-1, GDPR-1..3, TRK-1, LOG-2).
 *
 * One file on purpose: classic Outlook on Windows runs event handlers in a JavaScript-only
 * runtime that loads exactly this script (no DOM, no localStorage, absolute URLs only). The task
 * pane loads it too and uses `Liaison` for its calls. The server fills in BASE and MS_AUTH.
 *
 * On send (OnMessageSend, SoftBlock) with or without the pane:
 *   1. the pane's saved choices (sessionData "liaison"), or the effective defaults;
 *   2. the consent gate for every recipient: a missing legal basis blocks with a message that
 *      offers to open the pane;
 *   3. Track on: the server returns the body with the pixel and rewritten links;
 *   4. Log on: the user's logging address goes to BCC and a signed X-Liaison-Intent header
 *      carries the pane's choices, so the logged copy gets exactly the ticked associations.
 */
(function (root) {
  "use strict";

  var BASE = "__LIAISON_BASE_URL__";
  var TOKEN_KEY = "liaison.token";
  var CHOICES_KEY = "liaison";
  var PANE_COMMAND = "msgComposeOpenPaneButton";
  var memory = {};

  /* ---- storage shared by the pane and the event runtime ------------------------------------ */

  function runtimeStorage() {
    if (root.OfficeRuntime && root.OfficeRuntime.storage) return root.OfficeRuntime.storage;
    return null;
  }

  async function storedToken() {
    var storage = runtimeStorage();
    if (storage) {
      try { return (await storage.getItem(TOKEN_KEY)) || null; } catch (e) { /* fall through */ }
    }
    try { if (root.localStorage) return root.localStorage.getItem(TOKEN_KEY); } catch (e) { /* none */ }
    return memory[TOKEN_KEY] || null;
  }

  async function saveToken(token) {
    var storage = runtimeStorage();
    memory[TOKEN_KEY] = token;
    if (storage) {
      try { await storage.setItem(TOKEN_KEY, token); return; } catch (e) { /* fall through */ }
    }
    try { if (root.localStorage) root.localStorage.setItem(TOKEN_KEY, token); } catch (e) { /* none */ }
  }

  async function clearToken() {
    var storage = runtimeStorage();
    delete memory[TOKEN_KEY];
    if (storage) {
      try { await storage.removeItem(TOKEN_KEY); } catch (e) { /* ignore */ }
    }
    try { if (root.localStorage) root.localStorage.removeItem(TOKEN_KEY); } catch (e) { /* none */ }
  }

  /* ---- HTTP --------------------------------------------------------------------------------- */

  function ApiError(status, code, message, field) {
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.message = message;
    this.field = field || null;
  }
  ApiError.prototype = Object.create(Error.prototype);

  async function api(method, path, body, token) {
    var headers = { Accept: "application/json" };
    if (token) headers.Authorization = "Bearer " + token;
    if (body !== undefined && body !== null) headers["Content-Type"] = "application/json";
    var response;
    try {
      response = await fetch(BASE + path, {
        method: method,
        headers: headers,
        body: body !== undefined && body !== null ? JSON.stringify(body) : undefined,
        credentials: "omit",
      });
    } catch (e) {
      throw new ApiError(0, "offline", "No connection to Liaison.");
    }
    var data = null;
    try { data = await response.json(); } catch (e) { data = null; }
    if (!response.ok) {
      var error = (data && data.error) || {};
      throw new ApiError(response.status, error.code || "http_" + response.status,
        error.message || "Liaison answered " + response.status + ".", error.field);
    }
    return data;
  }

  function isMissing(error) {
    // a route another part of Liaison has not deployed yet
    return !!error && (error.status === 404 || error.status === 405);
  }

  /* ---- sign-in: stored token, nested app authentication, Office SSO ------------------------- */
  /* Nested app authentication (NAA): where the host supports the NestedAppAuth 1.1 requirement
   * set, MSAL.js (vendored, loaded on demand) asks Outlook's broker through the bridge the host
   * provides for a token for our API (MS_AUTH.scope, api://<host>/<client id>/access_as_user):
   * silently, then, in the pane only, with the host's prompt when the broker says interaction is
   * required. The JavaScript-only runtime of classic Outlook has no DOM to load MSAL into (and
   * MSAL's browser build needs `window`): there, and wherever NAA fails, Office SSO follows. */

  var MS_AUTH = "__LIAISON_MS_AUTH__"; // {clientId, scope}, filled in by the server, or null
  var MSAL_URL = BASE + "/static/vendor/msal-browser/msal-browser.min.js";
  var AUTHORITY = "https://login.microsoftonline.com/common";
  var NAA_WAIT_MS = 15000; // a broker that never answers must not hold the pane or a send forever
  var nestedApp = null; // the promise of MSAL's nestable client (null inside where NAA is out)

  function naaSupported() {
    var Office = root.Office;
    if (!MS_AUTH || typeof MS_AUTH !== "object" || !MS_AUTH.clientId || !MS_AUTH.scope) return false;
    try {
      return !!(Office && Office.context && Office.context.requirements &&
        Office.context.requirements.isSetSupported("NestedAppAuth", "1.1"));
    } catch (e) {
      return false;
    }
  }

  function loadMsal() {
    if (root.msal && root.msal.createNestablePublicClientApplication) return Promise.resolve(root.msal);
    var doc = root.document;
    if (!doc || !doc.createElement || !doc.head) return Promise.resolve(null); // JS-only runtime
    return new Promise(function (resolve) {
      var script = doc.createElement("script");
      script.src = MSAL_URL;
      script.onload = function () { resolve(root.msal || null); };
      script.onerror = function () { resolve(null); };
      doc.head.appendChild(script);
    });
  }

  function within(promise, ms) {
    return new Promise(function (resolve, reject) {
      var timer = setTimeout(function () { reject(new Error("timed out")); }, ms);
      promise.then(function (v) { clearTimeout(timer); resolve(v); },
        function (e) { clearTimeout(timer); reject(e); });
    });
  }

  function nestedClient() {
    if (!nestedApp) {
      nestedApp = loadMsal().then(function (msal) {
        if (!msal) return null;
        return within(msal.createNestablePublicClientApplication({
          auth: { clientId: MS_AUTH.clientId, authority: AUTHORITY },
        }), NAA_WAIT_MS);
      }).catch(function () { return null; });
    }
    return nestedApp;
  }

  function needsInteraction(error) {
    var msal = root.msal;
    if (!error) return false;
    if (msal && msal.InteractionRequiredAuthError && error instanceof msal.InteractionRequiredAuthError) return true;
    return error.name === "InteractionRequiredAuthError";
  }

  /* A Microsoft access token for our API through NAA, or null where NAA is unavailable or fails. */
  async function naaToken(interactive) {
    if (!naaSupported()) return null;
    var client = await nestedClient();
    if (!client) return null;
    var request = { scopes: [MS_AUTH.scope] };
    try {
      return (await within(client.acquireTokenSilent(request), NAA_WAIT_MS)).accessToken || null;
    } catch (e) {
      if (!interactive || !needsInteraction(e)) return null;
    }
    try {
      return (await client.acquireTokenPopup(request)).accessToken || null; // the host's own prompt
    } catch (e) {
      return null;
    }
  }

  async function ssoToken(interactive) {
    var Office = root.Office;
    if (!Office || !Office.auth || !Office.auth.getAccessToken) return null;
    try {
      return await Office.auth.getAccessToken({
        allowSignInPrompt: !!interactive,
        allowConsentPrompt: !!interactive,
        forMSGraphAccess: false,
      });
    } catch (e) {
      return null;
    }
  }

  async function whoAmI(token) {
    try {
      return await api("GET", "/api/me", null, token);
    } catch (e) {
      if (e.status === 401) return null;
      throw e;
    }
  }

  /* {token, me, via} or null when signed out; throws ApiError(0) when Liaison is unreachable.
   * Order: a token the sign-in dialog stored, NAA (silent, then the host's prompt if
   * `interactive`), Office SSO; null leaves the dialog (the pane's Sign in button). */
  async function signIn(interactive) {
    var token = await storedToken();
    if (token) {
      var me = await whoAmI(token);
      if (me) return { token: token, me: me, via: "stored" };
      await clearToken();
    }
    token = await naaToken(interactive);
    if (token) {
      var viaNaa = await whoAmI(token);
      if (viaNaa) return { token: token, me: viaNaa, via: "naa" };
    }
    token = await ssoToken(interactive);
    if (token) {
      var viaSso = await whoAmI(token);
      if (viaSso) return { token: token, me: viaSso, via: "sso" };
    }
    return null;
  }

  /* ---- Office helpers ----------------------------------------------------------------------- */

  function call(target, method) {
    var args = Array.prototype.slice.call(arguments, 2);
    return new Promise(function (resolve, reject) {
      args.push(function (result) {
        if (result.status === "succeeded" || result.status === root.Office.AsyncResultStatus.Succeeded) {
          resolve(result.value);
        } else {
          reject(result.error || new Error(method + " failed"));
        }
      });
      target[method].apply(target, args);
    });
  }

  function parties(list) {
    return (list || []).map(function (r) {
      return { email: r.emailAddress, name: r.displayName || "" };
    });
  }

  async function readRecipients(item) {
    var lists = await Promise.all([call(item.to, "getAsync"), call(item.cc, "getAsync"),
      call(item.bcc, "getAsync")]);
    return { to: parties(lists[0]), cc: parties(lists[1]), bcc: parties(lists[2]) };
  }

  function same(a, b) {
    return (a || "").trim().toLowerCase() === (b || "").trim().toLowerCase();
  }

  function addresses(recipients, skip) {
    var seen = {};
    var out = [];
    [].concat(recipients.to, recipients.cc, recipients.bcc).forEach(function (p) {
      var key = (p.email || "").trim().toLowerCase();
      if (!key || seen[key] || (skip && same(key, skip))) return;
      seen[key] = true;
      out.push(p.email.trim());
    });
    return out;
  }

  async function readChoices(item) {
    if (!item.sessionData) return null;
    try {
      var raw = await call(item.sessionData, "getAsync", CHOICES_KEY);
      return raw ? JSON.parse(raw) : null;
    } catch (e) {
      return null; // never saved on this item
    }
  }

  async function saveChoices(item, choices) {
    if (!item.sessionData) return;
    await call(item.sessionData, "setAsync", CHOICES_KEY, JSON.stringify(choices));
  }

  function defaultChoices(settings) {
    var value = function (key, fallback) {
      return settings && settings[key] ? settings[key].value : fallback;
    };
    return {
      log: !!value("log_by_default", true),
      track: !!value("track_by_default", false),
      associations: null, // null: the server's default ticks
      create_contacts: null,
      source: "defaults",
    };
  }

  function listOf(addressList) {
    if (addressList.length <= 3) return addressList.join(", ");
    return addressList.slice(0, 3).join(", ") + " and " + (addressList.length - 3) + " more";
  }

  function blockMessage(decisions) {
    var missing = [];
    var refused = [];
    Object.keys(decisions).forEach(function (address) {
      var d = decisions[address];
      if (d.status === "refused") refused.push(address);
      else if (d.status !== "allowed") missing.push(address);
    });
    var parts = [];
    if (missing.length) {
      parts.push("Liaison: a legal basis is missing for " + listOf(missing) +
        ". Open the Liaison pane to add a subscription or give a one-time basis, then send again.");
    }
    if (refused.length) {
      parts.push("Liaison: " + listOf(refused) + " opted out of email; only a transactional " +
        "message with a one-time basis may go to them.");
    }
    return parts.join(" ");
  }

  function block(event, message, offerPane) {
    var options = { allowEvent: false, errorMessage: message };
    if (offerPane) {
      options.cancelLabel = "Open Liaison";
      options.commandId = PANE_COMMAND;
    }
    event.completed(options);
    return options;
  }

  /* ---- on send ------------------------------------------------------------------------------ */

  async function applyTracking(item, token, recipients, subject) {
    var bodyType = await call(item.body, "getTypeAsync");
    var content = await call(item.body, "getAsync", bodyType === "html" ? "html" : "text");
    var request = { recipients: recipients, subject: subject };
    request[bodyType === "html" ? "html" : "text"] = content;
    var prepared;
    try {
      prepared = await api("POST", "/api/tracking/prepare", request, token);
    } catch (e) {
      if (isMissing(e)) return { applied: false, reason: "tracking is not available yet" };
      throw e;
    }
    var tracked = bodyType === "html" ? prepared.html : prepared.text;
    if (!prepared.tracked || !tracked) return { applied: false, reason: prepared.reason };
    await call(item.body, "setAsync", tracked, { coercionType: bodyType === "html" ? "html" : "text" });
    return { applied: true, tracked_email_id: prepared.tracked_email_id };
  }

  async function applyLogging(item, token, choices, recipients, loggingAddress) {
    try {
      var intent = await api("POST", "/api/emails/intents", {
        associations: choices.associations,
        create_contacts: choices.create_contacts,
        track: !!choices.track,
      }, token);
      var header = {};
      header[intent.header.name] = intent.header.value;
      await call(item.internetHeaders, "setAsync", header);
    } catch (e) {
      if (!isMissing(e)) throw e; // no intents yet: the BCC copy gets the default ticks
    }
    var already = recipients.bcc.some(function (p) { return same(p.email, loggingAddress); });
    if (!already) await call(item.bcc, "addAsync", [loggingAddress]);
  }

  async function checkAndPrepare(event) {
    var item = root.Office.context.mailbox.item;
    var auth;
    try {
      auth = await signIn(false);
    } catch (e) {
      return block(event, "No connection to Liaison: the recipients' legal basis could not be " +
        "checked, so this message was not sent. Try again in a moment.", false);
    }
    if (!auth) {
      return block(event, "You are signed out of Liaison. Open the Liaison pane to sign in, " +
        "then send again.", true);
    }
    var token = auth.token;
    var recipients = await readRecipients(item);
    var choices = await readChoices(item);
    if (!choices) {
      var answer = await api("GET", "/api/me/settings", null, token);
      choices = defaultChoices(answer.settings);
    }
    var loggingAddress = null;
    if (choices.log) {
      loggingAddress = (await api("GET", "/api/inbound/logging-address", null, token)).address;
    }
    var all = addresses(recipients, loggingAddress);
    if (all.length) {
      var check = await api("POST", "/api/consent/check",
        { recipients: all, purpose: "commercial" }, token);
      var message = blockMessage(check.recipients);
      if (message) return block(event, message, true);
    }
    var subject = "";
    try { subject = await call(item.subject, "getAsync"); } catch (e) { subject = ""; }
    if (choices.track && all.length && !choices.tracked_email_id) {
      // once per message: a send held after this point must not track the body twice
      var tracking = await applyTracking(item, token, all, subject);
      if (tracking.applied) {
        choices.tracked_email_id = tracking.tracked_email_id;
        await saveChoices(item, choices);
      }
    }
    if (choices.log && all.length) await applyLogging(item, token, choices, recipients, loggingAddress);
    event.completed({ allowEvent: true });
    return { allowEvent: true };
  }

  async function onMessageSend(event) {
    try {
      return await checkAndPrepare(event);
    } catch (e) {
      var why = e && e.status === 0 ? "No connection to Liaison" : "Liaison could not check this message";
      return block(event, why + ": " + ((e && e.message) || "unknown error") +
        " The message was not sent; try again.", false);
    }
  }

  function onNewMessageCompose(event) {
    // Nothing to prepare before the rep acts: the send check reads the defaults itself.
    event.completed();
  }

  root.Liaison = {
    BASE: BASE,
    api: api,
    ApiError: ApiError,
    isMissing: isMissing,
    signIn: signIn,
    saveToken: saveToken,
    clearToken: clearToken,
    call: call,
    readRecipients: readRecipients,
    addresses: addresses,
    readChoices: readChoices,
    saveChoices: saveChoices,
    defaultChoices: defaultChoices,
    same: same,
    onMessageSend: onMessageSend,
  };

  if (root.Office && root.Office.actions && root.Office.actions.associate) {
    root.Office.actions.associate("onMessageSendHandler", onMessageSend);
    root.Office.actions.associate("onNewMessageComposeHandler", onNewMessageCompose);
  }
})(typeof globalThis !== "undefined" ? globalThis : this);
