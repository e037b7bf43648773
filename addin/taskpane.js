/* Liaison task pane: compose (recipients, consent, Log/Track, associations) and read (parties,
 * records, timeline, tracking, "Log this email", create records). The pane shows what the
 * server decides; every rule lives there. Uses `Liaison` from commands.js. (UI-1, LOG-4, LOG-5,
 * GDPR-2, GDPR-3, TRK-2, TRK-10) */
(function () {
  "use strict";

  var L = window.Liaison;
  var state = { token: null, me: null, item: null, settings: null };
  var statusBox = document.getElementById("status");
  var view = document.getElementById("view");

  /* ---- tiny DOM helpers (text only: nothing from the server becomes HTML) ------------------ */

  function el(tag, attrs) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      var value = attrs[key];
      if (value === null || value === undefined || value === false) return;
      if (key === "text") node.textContent = value;
      else if (key === "class") node.className = value;
      else if (key.slice(0, 2) === "on") node.addEventListener(key.slice(2), value);
      else if (value === true) node.setAttribute(key, "");
      else node.setAttribute(key, value);
    });
    for (var i = 2; i < arguments.length; i++) {
      var child = arguments[i];
      if (child === null || child === undefined || child === false) continue;
      if (Array.isArray(child)) child.forEach(function (c) { if (c) node.appendChild(c); });
      else node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    }
    return node;
  }

  var counter = 0;
  function uid(prefix) { counter += 1; return prefix + "-" + counter; }

  function checkbox(labelText, checked, opts) {
    opts = opts || {};
    var id = uid("cb");
    var input = el("input", { type: "checkbox", id: id, checked: !!checked, disabled: !!opts.disabled,
      "aria-describedby": opts.hint ? id + "-hint" : null, "data-key": opts.key || null });
    var wrap = el("div", null, el("div", { class: "row" }, input, el("label", { for: id, text: labelText })));
    if (opts.hint) wrap.appendChild(el("p", { class: "hint", id: id + "-hint", text: opts.hint }));
    if (opts.onchange) input.addEventListener("change", opts.onchange);
    return { node: wrap, input: input };
  }

  function setStatus(text) { statusBox.textContent = text || ""; }

  function notice(kind, title, text, actions) {
    return el("div", { class: "notice " + (kind || ""), role: kind === "error" ? "alert" : null },
      el("h3", { text: title }), text ? el("p", { text: text }) : null,
      actions && actions.length ? el("div", { class: "actions" }, actions) : null);
  }

  function show() {
    view.textContent = "";
    for (var i = 0; i < arguments.length; i++) if (arguments[i]) view.appendChild(arguments[i]);
  }

  function call(method, path, body) { return L.api(method, path, body, state.token); }

  /* ---- states: no connection, signed out ---------------------------------------------------- */

  function showOffline(retry) {
    setStatus("");
    show(notice("error", "No connection to Liaison",
      "Liaison could not be reached. Check your network, then try again.",
      [el("button", { type: "button", class: "primary", text: "Try again", onclick: retry })]));
  }

  function showSignedOut() {
    setStatus("");
    document.getElementById("who").textContent = "";
    show(notice("", "Signed out",
      "Sign in to Liaison to see your contacts, log email and check consent before you send.",
      [el("button", { type: "button", class: "primary", text: "Sign in", onclick: signInWithDialog })]));
  }

  function signInWithDialog() {
    var ui = Office.context.ui;
    ui.displayDialogAsync(L.BASE + "/addin/dialog.html", { height: 60, width: 30 }, function (result) {
      if (result.status !== Office.AsyncResultStatus.Succeeded) {
        show(notice("error", "Sign-in window blocked", "Allow pop-ups for Outlook and try again."));
        return;
      }
      var dialog = result.value;
      dialog.addEventHandler(Office.EventType.DialogMessageReceived, function (arg) {
        dialog.close();
        var message = {};
        try { message = JSON.parse(arg.message); } catch (e) { message = {}; }
        if (message.token) L.saveToken(message.token).then(start);
      });
    });
  }

  async function start() {
    setStatus("Loading…");
    var auth;
    try {
      auth = await L.signIn(true);
    } catch (e) {
      showOffline(start);
      return;
    }
    if (!auth) { showSignedOut(); return; }
    state.token = auth.token;
    state.me = auth.me;
    document.getElementById("who").textContent = auth.me.user.email;
    var item = Office.context.mailbox.item;
    state.item = item;
    try {
      if (Array.isArray(item.to)) await readView(item);
      else await composeView(item);
      setStatus("");
      state.renewedAfter401 = false;
    } catch (e) {
      await showError(e);
    }
  }

  /* ---- compose ------------------------------------------------------------------------------ */

  var compose = { choices: null, data: null };

  async function composeView(item) {
    var saved = await L.readChoices(item);
    var settingsAnswer = await call("GET", "/api/me/settings");
    state.settings = settingsAnswer.settings;
    compose.choices = saved && saved.source === "pane" ? saved : L.defaultChoices(state.settings);
    if (saved && saved.tracked_email_id) compose.choices.tracked_email_id = saved.tracked_email_id;
    compose.choices.source = "pane";
    if (item.addHandlerAsync) {
      item.addHandlerAsync(Office.EventType.RecipientsChanged, function () { refreshCompose(); });
    }
    await refreshCompose();
  }

  var refreshing = null;
  var refreshAgain = false;

  /* One refresh at a time; a change during one triggers one more afterwards. */
  function refreshCompose() {
    if (refreshing) { refreshAgain = true; return refreshing; }
    refreshing = loadCompose().catch(showError).then(function () {
      refreshing = null;
      if (refreshAgain) { refreshAgain = false; return refreshCompose(); }
    });
    return refreshing;
  }

  async function showError(e) {
    if (e && e.status === 0) showOffline(start);
    else if (e && e.status === 401) {
      await L.clearToken();
      // An expired token: sign in again silently (NAA or SSO) once before showing "signed out".
      if (!state.renewedAfter401) { state.renewedAfter401 = true; await start(); }
      else showSignedOut();
    }
    else show(notice("error", "Something went wrong", (e && e.message) || String(e)));
  }

  async function loadCompose() {
    var item = state.item;
    setStatus("Looking up recipients…");
    var recipients = await L.readRecipients(item);
    var all = L.addresses(recipients, null);
    var bodyType = await L.call(item.body, "getTypeAsync");
    var data = { recipients: all, lookup: { results: [] }, consent: { recipients: {} },
      preview: { records: [], new_contacts: [] }, tracking: null, bodyType: bodyType };
    if (all.length) {
      var answers = await Promise.all([
        call("POST", "/api/lookup", { emails: all }),
        call("POST", "/api/consent/check", { recipients: all, purpose: "commercial" }),
        call("POST", "/api/emails/associations/preview", { addresses: all, direction: "out" }),
        call("POST", "/api/tracking/options", { recipients: all, body_type: bodyType }).catch(function (e) {
          if (!L.isMissing(e)) throw e;
          return { available: false, reason: "Tracking is not available on this Liaison server yet." };
        }),
      ]);
      data.lookup = answers[0];
      data.consent = answers[1];
      data.preview = answers[2];
      data.tracking = answers[3];
    }
    compose.data = data;
    mergeDefaults(data);
    await L.saveChoices(item, compose.choices);
    renderCompose();
    setStatus("");
  }

  function mergeDefaults(data) {
    var c = compose.choices;
    if (!Array.isArray(c.associations)) {
      c.associations = data.preview.records.filter(function (r) { return r.checked; })
        .map(function (r) { return { type: r.type, id: r.id }; });
    } else {
      // keep ticks the rep made; records no longer offered drop out
      c.associations = c.associations.filter(function (a) {
        return data.preview.records.some(function (r) { return r.type === a.type && r.id === a.id; });
      });
    }
    var unknown = data.lookup.results.filter(function (r) { return !r.contact && !r.error; })
      .map(function (r) { return r.email; });
    var createDefault = state.settings.create_contacts_for_unknown
      ? !!state.settings.create_contacts_for_unknown.value : true;
    if (!Array.isArray(c.create_contacts)) c.create_contacts = [];
    var seen = c.seen_unknown || [];
    unknown.forEach(function (address) {  // a new unknown recipient gets the default tick
      if (seen.indexOf(address) < 0 && createDefault) c.create_contacts.push(address);
    });
    c.seen_unknown = seen.concat(unknown.filter(function (a) { return seen.indexOf(a) < 0; }));
    c.create_contacts = c.create_contacts.filter(function (a) { return unknown.indexOf(a) >= 0; });
    var t = trackBox(data);
    if (t.forced !== null) c.track = t.forced;
  }

  function save() { return L.saveChoices(state.item, compose.choices); }

  /* The Track box as the server decides it: forced is the value a lock or a refusal imposes. */
  function trackBox(data) {
    var setting = state.settings.track_by_default || { value: false, locked: false };
    var info = { disabled: !!setting.locked, forced: setting.locked ? !!setting.value : null,
      hint: setting.locked ? "Set by your organization." : null };
    var tracking = data.tracking;
    if (tracking && tracking.available === false) {
      return { disabled: true, forced: false, hint: tracking.reason };
    }
    if (tracking && tracking.track) {
      if (tracking.track.allowed === false) {
        var refused = Object.keys(tracking.recipients || {}).filter(function (a) {
          return tracking.recipients[a].may_track === false && tracking.recipients[a].reason;
        }).map(function (a) { return a + ": " + tracking.recipients[a].reason; });
        return { disabled: true, forced: false, hint: refused.length ? refused.join("\n")
          : tracking.track.reason || "Tracking is not allowed for these recipients." };
      }
      if (tracking.track.locked) { info.disabled = true; info.forced = !!tracking.track.value; }
      if (tracking.opens_trackable === false) {
        info.hint = (tracking.opens_reason || "Opens can't be tracked in plain text") + "; clicks still are.";
      }
    }
    return info;
  }

  function consentLine(decision) {
    if (!decision) return null;
    if (decision.status === "allowed") return el("div", { class: "meta basis-ok", text: "Legal basis: OK" });
    if (decision.status === "refused") {
      return el("div", { class: "meta basis-refused", text: "Opted out of email" + (decision.reason ? ": " + decision.reason : "") });
    }
    return el("div", { class: "meta basis-missing", text: "Legal basis missing" });
  }

  function recipientCard(result, decision) {
    var contact = result.contact;
    var title = contact ? contact.name : result.email;
    var card = el("li", { class: "card", "data-address": result.email },
      el("h3", { text: title, tabindex: "-1" }),
      contact && contact.name !== result.email ? el("div", { class: "address", text: result.email }) : null,
      el("div", { class: "meta" },
        el("span", { class: "badge", text: result.error ? "Invalid address" : contact ? "In CRM" : "Not in CRM" }),
        result.owner ? "Owner: " + result.owner.name : null),
      result.company ? el("div", { class: "meta", text: "Company: " + result.company.name }) : null,
      consentLine(decision));
    if (!contact && !result.error) {
      var ticked = compose.choices.create_contacts.indexOf(result.email) >= 0;
      var box = checkbox("Create contact for " + result.email, ticked, {
        onchange: function (e) {
          var list = compose.choices.create_contacts.filter(function (a) { return a !== result.email; });
          if (e.target.checked) list.push(result.email);
          compose.choices.create_contacts = list;
          save();
        },
      });
      card.appendChild(box.node);
    }
    if (decision && decision.status === "needs_basis") card.appendChild(basisPrompt(result, decision));
    return card;
  }

  function basisPrompt(result, decision) {
    var name = uid("basis");
    var options = decision.options || ["subscription", "one_time"];
    var reasonId = uid("reason");
    var errorBox = el("div", { class: "field-error", role: "alert" });
    var radios = [];
    var reason = el("textarea", { id: reasonId, name: "reason", minlength: "10", maxlength: "2000" });
    var reasonWrap = el("div", null, el("label", { class: "block", for: reasonId,
      text: "Reason for a one-time basis (at least 10 characters)" }), reason);
    function radio(value, text) {
      var id = uid("r");
      var input = el("input", { type: "radio", name: name, id: id, value: value });
      radios.push(input);
      input.addEventListener("change", function () { reasonWrap.hidden = value !== "one_time"; });
      return el("div", { class: "row" }, input, el("label", { for: id, text: text }));
    }
    var fs = el("fieldset", null, el("legend", { text: "Legal basis for " + result.email }),
      options.indexOf("subscription") >= 0 ? radio("subscription", "They subscribed to one-to-one email") : null,
      options.indexOf("one_time") >= 0 ? radio("one_time", "Give a one-time basis for this message") : null,
      reasonWrap, errorBox);
    reasonWrap.hidden = true;
    var button = el("button", { type: "button", class: "primary", text: "Record basis" });
    button.addEventListener("click", async function () {
      var chosen = radios.filter(function (r) { return r.checked; })[0];
      errorBox.textContent = "";
      if (!chosen) { errorBox.textContent = "Choose a subscription or a one-time basis."; return; }
      if (chosen.value === "one_time" && reason.value.trim().length < 10) {
        errorBox.textContent = "Give a reason of at least 10 characters."; reason.focus(); return;
      }
      button.disabled = true;
      try {
        var contactId = decision.contact_id;
        if (!contactId) {
          var created = await call("POST", "/api/contacts", { emails: [result.email] });
          contactId = created.id;
        }
        if (chosen.value === "subscription") {
          await call("POST", "/api/contacts/" + contactId + "/subscriptions",
            { status: "subscribed", surface: "outlook" });
        } else {
          await call("POST", "/api/contacts/" + contactId + "/one-time-basis", {
            reason: reason.value.trim(), surface: "outlook",
            purpose: decision.transactional_only ? "transactional" : "commercial" });
        }
        await refreshCompose();
        setStatus("Legal basis recorded for " + result.email + ".");
        var heading = view.querySelector('li[data-address="' + CSS.escape(result.email) + '"] h3');
        if (heading) heading.focus();  // the pane was redrawn: keep the keyboard user's place
      } catch (e) {
        button.disabled = false;
        errorBox.textContent = e.message || "Could not record the basis.";
      }
    });
    fs.appendChild(el("div", { class: "actions" }, button));
    return fs;
  }

  function renderCompose() {
    var data = compose.data;
    var c = compose.choices;
    var parts = [];
    parts.push(el("h2", { text: "Recipients" }));
    if (!data.recipients.length) {
      parts.push(el("p", { class: "muted", text: "Add recipients to see them in Liaison." }));
    } else {
      parts.push(el("ul", { class: "cards", "aria-label": "Recipients" },
        data.lookup.results.map(function (r) {
          return recipientCard(r, data.consent.recipients[r.email] || data.consent.recipients[(r.email || "").toLowerCase()]);
        })));
    }
    parts.push(el("h2", { text: "This email" }));
    var logSetting = state.settings.log_by_default || { value: true, locked: false };
    parts.push(checkbox("Log this email in Liaison", c.log, {
      disabled: logSetting.locked, hint: logSetting.locked ? "Set by your organization." : null,
      onchange: function (e) { c.log = e.target.checked; save(); },
    }).node);
    var t = trackBox(data);
    parts.push(checkbox("Track opens and clicks", c.track && !t.disabled, {
      disabled: t.disabled, hint: t.hint,
      onchange: function (e) { c.track = e.target.checked; save(); },
    }).node);
    if (data.preview.records.length) {
      var group = el("fieldset", null, el("legend", { text: "Associate with" }));
      data.preview.records.forEach(function (r) {
        var on = c.associations.some(function (a) { return a.type === r.type && a.id === r.id; });
        group.appendChild(checkbox(r.name + " (" + r.type + ")", on, {
          onchange: function (e) {
            c.associations = c.associations.filter(function (a) { return !(a.type === r.type && a.id === r.id); });
            if (e.target.checked) c.associations.push({ type: r.type, id: r.id });
            save();
          },
        }).node);
      });
      parts.push(group);
    }
    if (data.preview.not_logged_reason) {
      parts.push(el("p", { class: "small muted", text: "Not logged: " + data.preview.not_logged_reason }));
    }
    parts.push(templatesSection());
    parts.push(el("p", { class: "small muted",
      text: "Your choices are saved on this message; Liaison applies them when you send." }));
    show.apply(null, parts);
  }

  /* "Insert a template": the template rendered for the first To recipient (their contact's
   * merge fields; fallbacks for an address not in the CRM) goes in at the cursor, and its
   * subject too when the message has none yet (BULK-2, ONE-1). */
  function templatesSection() {
    var body = el("div", { class: "small" });
    var details = el("details", null, el("summary", { text: "Insert a template" }), body);
    var result = el("div", { role: "status", class: "small" });

    async function insertTemplate(t, button) {
      button.disabled = true;
      result.textContent = "Inserting “" + t.name + "”…";
      try {
        var item = state.item;
        var recipients = await L.readRecipients(item);
        var first = recipients.to.filter(function (p) { return p.email; })[0];
        var rendered = await call("POST", "/api/templates/" + t.id + "/render",
          first ? { to: first.email.trim() } : {});
        var subject = await L.call(item.subject, "getAsync");
        var subjectSet = !(subject || "").trim() && !!rendered.subject;
        if (subjectSet) await L.call(item.subject, "setAsync", rendered.subject);
        var bodyType = await L.call(item.body, "getTypeAsync");
        var asHtml = bodyType === "html" && !!rendered.html;
        await L.call(item.body, "setSelectedDataAsync", asHtml ? rendered.html : (rendered.text || ""),
          { coercionType: asHtml ? "html" : "text" });
        result.textContent = "Inserted “" + t.name + "”" + (first ? " for " + first.email : "") +
          (subjectSet ? " with its subject." : ".");
      } catch (e) {
        result.textContent = e.status === 0 ? "No connection to Liaison." : (e.message || String(e));
      }
      button.disabled = false;
    }

    details.addEventListener("toggle", async function () {
      if (!details.open || body.dataset.loaded) return;
      body.dataset.loaded = "1";
      try {
        var answer = await call("GET", "/api/templates");
        var items = answer.items || [];
        if (!items.length) { body.textContent = "No templates yet."; return; }
        var list = el("div", { class: "actions", role: "group", "aria-label": "Templates" });
        items.forEach(function (t) {
          list.appendChild(el("button", { type: "button", text: t.name,
            "aria-label": "Insert template " + t.name,
            onclick: function (e) { insertTemplate(t, e.currentTarget); } }));
        });
        body.appendChild(list);
        body.appendChild(result);
      } catch (e) {
        body.textContent = L.isMissing(e) ? "Templates are not available on this Liaison server yet."
          : e.message;
      }
    });
    return details;
  }

  /* ---- read --------------------------------------------------------------------------------- */

  function party(details) {
    return details ? { email: details.emailAddress, name: details.displayName || "" } : null;
  }

  async function readView(item) {
    var me = state.me.user.email;
    var from = party(item.from);
    var others = [].concat(item.to || [], item.cc || []).map(party);
    var everyone = [from].concat(others).filter(Boolean);
    var addresses = [];
    everyone.forEach(function (p) {
      if (p.email && !addresses.some(function (a) { return L.same(a, p.email); })) addresses.push(p.email);
    });
    var direction = from && L.same(from.email, me) ? "out" : "in";
    if (!addresses.length) {
      show(notice("", "Nobody to look up", "This message has no sender or recipients yet."));
      return;
    }
    var answers = await Promise.all([
      call("POST", "/api/lookup", { emails: addresses }),
      call("POST", "/api/emails/associations/preview", { addresses: addresses, direction: direction }),
    ]);
    var lookup = answers[0];
    var preview = answers[1];
    var parts = [el("h2", { text: "People on this email" })];
    parts.push(el("ul", { class: "cards", "aria-label": "People on this email" },
      lookup.results.filter(function (r) { return !L.same(r.email, me); }).map(readCard)));
    var main = lookup.results.filter(function (r) { return r.contact && !L.same(r.email, me); })[0];
    parts.push(el("h2", { text: "Recent activity" }));
    var timelineBox = el("div", { class: "small", "aria-live": "polite" }, "Loading…");
    parts.push(timelineBox);
    if (direction === "out" && item.internetMessageId) {
      parts.push(el("h2", { text: "Tracking" }));
      var trackingBox = el("div", { class: "small" }, "Loading…");
      parts.push(trackingBox);
      loadTracking(item.internetMessageId, trackingBox);
    }
    parts.push(el("h2", { text: "Log this email" }));
    parts.push(logForm(item, from, others, preview, direction));
    show.apply(null, parts);
    loadTimeline(main, timelineBox);
  }

  function recordList(title, records, describe) {
    if (!records || !records.length) return null;
    return el("div", { class: "meta" }, el("span", { text: title }),
      el("ul", { class: "list-plain" }, records.map(function (r) { return el("li", { text: describe(r) }); })));
  }

  function readCard(result) {
    var contact = result.contact;
    var card = el("li", { class: "card", "data-address": result.email },
      el("h3", { text: contact ? contact.name : result.email }),
      contact && contact.name !== result.email ? el("div", { class: "address", text: result.email }) : null,
      el("div", { class: "meta" },
        el("span", { class: "badge", text: contact ? "In CRM" : "Not in CRM" }),
        result.owner ? "Owner: " + result.owner.name : null),
      result.company ? el("div", { class: "meta", text: "Company: " + result.company.name }) : null,
      recordList("Open deals", result.deals, function (d) {
        return d.name + (d.stage ? " · " + d.stage.replace(/_/g, " ") : "") +
          (d.amount ? " · " + d.amount + (d.currency ? " " + d.currency : "") : "");
      }),
      recordList("Open tickets", result.tickets, function (t) {
        return t.subject + (t.status ? " · " + t.status : "");
      }));
    var actions = el("div", { class: "actions" });
    if (!contact) {
      actions.appendChild(el("button", { type: "button", text: "Create contact", onclick: function (e) {
        createContact(result.email, e.target);
      } }));
    } else {
      actions.appendChild(el("button", { type: "button", text: "Create deal",
        "aria-label": "Create deal for " + contact.name, onclick: function () { createForm(card, "deal", contact); } }));
      actions.appendChild(el("button", { type: "button", text: "Create ticket",
        "aria-label": "Create ticket for " + contact.name, onclick: function () { createForm(card, "ticket", contact); } }));
    }
    card.appendChild(actions);
    return card;
  }

  async function createContact(address, button) {
    button.disabled = true;
    var names = (state.item.from && L.same(state.item.from.emailAddress, address)
      ? state.item.from.displayName : "") || "";
    var split = names.trim().split(/\s+/);
    var body = { emails: [address] };
    if (names.trim()) { body.first_name = split[0]; if (split.length > 1) body.last_name = split.slice(1).join(" "); }
    try {
      await call("POST", "/api/contacts", body);
      await readView(state.item);
      setStatus("Contact created for " + address + ".");
    } catch (e) {
      button.disabled = false;
      setStatus(e.message);
    }
  }

  function createForm(card, kind, contact) {
    if (card.querySelector("form")) { card.querySelector("form input").focus(); return; }
    var id = uid(kind);
    var input = el("input", { type: "text", id: id, required: true,
      value: kind === "ticket" ? (state.item.subject || "") : "" });
    var errorBox = el("div", { class: "field-error", role: "alert" });
    var form = el("form", null,
      el("label", { class: "block", for: id, text: kind === "deal" ? "Deal name" : "Ticket subject" }),
      input, errorBox,
      el("div", { class: "actions" }, el("button", { type: "submit", class: "primary",
        text: kind === "deal" ? "Create deal" : "Create ticket" })));
    form.addEventListener("submit", async function (e) {
      e.preventDefault();
      var value = input.value.trim();
      if (!value) { errorBox.textContent = "Enter a " + (kind === "deal" ? "name" : "subject") + "."; return; }
      try {
        var created = await call("POST", kind === "deal" ? "/api/deals" : "/api/tickets",
          kind === "deal" ? { name: value } : { subject: value });
        await call("POST", "/api/associations",
          { a: { type: "contact", id: contact.id }, b: { type: kind, id: created.id } });
        await readView(state.item);
        setStatus((kind === "deal" ? "Deal" : "Ticket") + " “" + value + "” created.");
      } catch (err) {
        errorBox.textContent = err.message;
      }
    });
    card.appendChild(form);
    input.focus();
  }

  async function loadTimeline(result, box) {
    if (!result) { box.textContent = "No CRM contact on this email yet."; return; }
    try {
      var answer = await call("GET", "/api/records/contact/" + result.contact.id + "/timeline?limit=3");
      box.textContent = "";
      if (!answer.items.length) { box.textContent = "Nothing on " + result.contact.name + "'s timeline yet."; return; }
      box.appendChild(el("ul", { class: "list-plain", "aria-label": "Recent activity" },
        answer.items.map(function (entry) {
          var d = entry.data || {};
          var what = d.subject || d.title || d.summary || entry.kind;
          return el("li", { text: (entry.at || "").slice(0, 10) + " · " + entry.kind + " · " + what });
        })));
    } catch (e) {
      box.textContent = L.isMissing(e) ? "The timeline is not available on this Liaison server yet."
        : e.message;
    }
  }

  async function loadTracking(messageId, box) {
    try {
      var answer = await call("GET", "/api/addin/tracking-status?message_id=" + encodeURIComponent(messageId));
      if (!answer.available) { box.textContent = answer.reason; return; }
      var s = answer.status;
      if (!s) { box.textContent = "No tracking found for this message."; return; }
      if (!s.tracked) {
        var why = s.untracked_reason;
        if (why && typeof why === "object") {
          why = Object.keys(why).map(function (a) { return a === "*" ? why[a] : a + ": " + why[a]; }).join("; ");
        }
        box.textContent = "Not tracked" + (why ? ": " + why : ".");
        return;
      }
      var opens = (s.opens && s.opens.human) || 0;
      var clicks = (s.clicks && s.clicks.human) || 0;
      box.textContent = (s.opens_trackable === false ? "Opens can't be tracked in plain text. "
        : "Opened " + opens + (opens === 1 ? " time" : " times") + ", ") +
        "clicked " + clicks + (clicks === 1 ? " time." : " times.") +
        (s.attribution ? " " + s.attribution : "");
    } catch (e) {
      box.textContent = e.message;
    }
  }

  function logForm(item, from, others, preview, direction) {
    var wrap = el("div");
    if (preview.not_logged_reason) {
      wrap.appendChild(el("p", { class: "small muted", text: "Liaison would not log this email: " + preview.not_logged_reason }));
    }
    var ticks = [];
    var group = el("fieldset", null, el("legend", { text: "Associate with" }));
    preview.records.forEach(function (r) {
      var box = checkbox(r.name + " (" + r.type + ")", r.checked, {});
      box.input.dataset.type = r.type;
      box.input.dataset.id = r.id;
      ticks.push(box.input);
      group.appendChild(box.node);
    });
    var newTicks = [];
    preview.new_contacts.forEach(function (n) {
      var box = checkbox("Create contact " + (n.name ? n.name + " <" + n.email + ">" : n.email), n.checked, {});
      box.input.dataset.email = n.email;
      newTicks.push(box.input);
      group.appendChild(box.node);
    });
    if (!ticks.length && !newTicks.length) group.appendChild(el("p", { class: "small muted", text: "No records to associate." }));
    wrap.appendChild(group);
    var result = el("div", { role: "status", class: "small", text: state.logged || "" });
    var button = el("button", { type: "button", class: "primary", text: "Log this email",
      disabled: !!state.logged });
    button.addEventListener("click", async function () {
      button.disabled = true;
      result.textContent = "Logging…";
      try {
        var html = await L.call(item.body, "getAsync", "html");
        var answer = await call("POST", "/api/emails/log", {
          source: "outlook",
          direction: direction,
          associations: ticks.filter(function (t) { return t.checked; })
            .map(function (t) { return { type: t.dataset.type, id: Number(t.dataset.id) }; }),
          new_contacts: newTicks.filter(function (t) { return t.checked; }).map(function (t) { return t.dataset.email; }),
          email: {
            message_id: item.internetMessageId || null,
            subject: item.subject || "",
            from: from,
            to: (item.to || []).map(party),
            cc: (item.cc || []).map(party),
            sent_at: item.dateTimeCreated ? new Date(item.dateTimeCreated).toISOString() : null,
            html: html,
          },
        });
        var words = { logged: "Logged.", already_logged: "Already logged.", not_logged: "Not logged" };
        result.textContent = (words[answer.status] || answer.status) +
          (answer.reason ? ": " + answer.reason : "") +
          (answer.email ? " " + answer.email.associations.length + " associations." : "");
        button.disabled = answer.status !== "not_logged";
        if (button.disabled) state.logged = result.textContent;
      } catch (e) {
        button.disabled = false;
        result.textContent = e.status === 0 ? "No connection to Liaison." : e.message;
      }
    });
    wrap.appendChild(el("div", { class: "actions" }, button));
    wrap.appendChild(result);
    return wrap;
  }

  Office.onReady(function () { start(); });
})();
