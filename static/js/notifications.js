// The header bell: keeps its unread count live from the notification stream (TRK-6) and
// announces each new notification once in a polite live region.
(function () {
  "use strict";
  const bell = document.querySelector(".bell[data-stream]");
  if (!bell || !window.EventSource) return;
  const count = bell.querySelector("[data-unread]");
  const note = document.querySelector("[data-live-note]");
  let unread = Number(count.textContent) || 0;
  let hideTimer = null;

  function show(n) {
    unread = n;
    count.textContent = String(n);
    count.hidden = n === 0;
    bell.setAttribute("aria-label", "Notifications, " + n + " unread");
  }

  function announce(item) {
    if (!note) return;
    note.textContent = item.title + (item.body ? " — " + item.body : "");
    note.hidden = false;
    clearTimeout(hideTimer);
    hideTimer = setTimeout(function () { note.hidden = true; }, 8000);
  }

  const source = new EventSource(bell.dataset.stream);
  source.addEventListener("unread", function (event) {
    show(JSON.parse(event.data).count);
  });
  source.addEventListener("notification", function (event) {
    const item = JSON.parse(event.data);
    if (!item.read) show(unread + 1);
    announce(item);
  });
})();
