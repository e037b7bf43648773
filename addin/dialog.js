/* The sign-in fallback (UI-1): where neither nested app authentication nor Office SSO is
 * available, the pane opens this page in an Office dialog. It sends the user through the web
 * sign-in, then mints a personal API token for the pane and hands it over with messageParent. */
(function () {
  "use strict";

  var status = document.getElementById("status");

  async function json(method, path, headers, body) {
    var response = await fetch(path, {
      method: method,
      credentials: "same-origin",
      headers: Object.assign({ Accept: "application/json" }, headers || {}),
      body: body ? JSON.stringify(body) : undefined,
    });
    var data = null;
    try { data = await response.json(); } catch (e) { data = null; }
    return { status: response.status, data: data };
  }

  async function run() {
    var me = await json("GET", "/api/me");
    if (me.status === 401) {
      window.location.assign("/signin?next=" + encodeURIComponent("/addin/dialog.html"));
      return;
    }
    if (me.status !== 200) {
      status.textContent = "Liaison could not check your session (" + me.status + ").";
      return;
    }
    status.textContent = "Signed in as " + me.data.user.email + ". Connecting Outlook…";
    var csrf = await json("GET", "/api/csrf");
    var created = await json("POST", "/api/tokens",
      { "Content-Type": "application/json", "X-CSRF-Token": csrf.data.csrf_token },
      { name: "Outlook add-in" });
    if (created.status !== 201) {
      status.textContent = "Liaison could not connect Outlook (" + created.status + ").";
      return;
    }
    Office.context.ui.messageParent(JSON.stringify({ token: created.data.token }));
    status.textContent = "Done. You can close this window.";
  }

  Office.onReady(function () {
    run().catch(function () { status.textContent = "No connection to Liaison."; });
  });
})();
