/* The job pages' behaviour: reload a job page when its live stream says the job ended, the log
   viewer (follow, search, resume by byte offset), and arrow keys in the image gallery.
   Lines are inserted as text (textContent), never as HTML. */
(function () {
  "use strict";

  // A job page's stream closes on "done": reload to show the final page (Resume, outputs).
  document.addEventListener("htmx:sseClose", function (event) {
    if (event.detail && event.detail.type === "message") { window.location.reload(); }
  });

  function logViewer(list) {
    var url = list.dataset.stream;
    var offset = list.dataset.offset || "0";  // byte offset after the last line shown
    var follow = document.getElementById("log-follow");
    var search = document.getElementById("log-search");
    var matches = document.getElementById("log-matches");
    var status = document.getElementById("log-status");
    var source = null;
    var ended = false;
    var nextLine = list.start || 1;  // numbers stay the file's own while a search hides lines

    function matchesQuery(li, query) {
      return !query || li.textContent.toLowerCase().indexOf(query) !== -1;
    }
    function applySearch() {
      var query = search.value.toLowerCase();
      var shown = 0;
      Array.prototype.forEach.call(list.children, function (li) {
        var hit = matchesQuery(li, query);
        li.hidden = !hit;
        if (hit) { shown += 1; }
      });
      matches.textContent = query ? shown + " matching lines" : "";
    }
    var lineOpen = false;  // the last line came in a "part" event: the next text continues it
    function append(text, endsOpen) {
      var query = search.value.toLowerCase();
      var fragment = document.createDocumentFragment();
      var lines = text.split("\n");
      if (lineOpen && list.lastElementChild) {
        list.lastElementChild.textContent += lines.shift();
      }
      lineOpen = endsOpen;
      lines.forEach(function (line) {
        var li = document.createElement("li");
        li.value = nextLine;
        nextLine += 1;
        li.textContent = line;
        li.hidden = !matchesQuery(li, query);
        fragment.appendChild(li);
      });
      list.appendChild(fragment);
      if (query) { applySearch(); }
      if (follow.checked) { list.scrollTop = list.scrollHeight; }
    }
    function open() {
      // A fresh EventSource starts from the last offset shown; the browser's own reconnects
      // send it back as Last-Event-ID.
      source = new EventSource(url + "?offset=" + encodeURIComponent(offset));
      source.addEventListener("open", function () { status.textContent = "following"; });
      source.addEventListener("lines", function (event) {
        offset = event.lastEventId;
        append(event.data, false);
      });
      source.addEventListener("part", function (event) {
        offset = event.lastEventId;
        append(event.data, true);
      });
      source.addEventListener("eof", function () {
        ended = true;
        source.close();
        status.textContent = "end of file: the job has finished";
      });
      source.addEventListener("error", function () {
        if (ended) { return; }
        status.textContent = "connection lost; reconnecting…";
        if (source.readyState === EventSource.CLOSED) { window.setTimeout(open, 1000); }
      });
    }
    search.addEventListener("input", applySearch);
    // Drop the connection, and open it again from the last offset shown: what a network drop
    // and the browser's reconnect do (tests force one this way).
    window.ferryLogViewer = {
      drop: function () { if (source) { source.close(); } status.textContent = "disconnected"; },
      reconnect: function () { if (source) { source.close(); } if (!ended) { open(); } },
      offset: function () { return offset; }
    };
    open();
  }

  function gallery(nav) {
    document.addEventListener("keydown", function (event) {
      if (event.target instanceof HTMLInputElement || event.altKey || event.ctrlKey || event.metaKey) { return; }
      var link = null;
      if (event.key === "ArrowLeft") { link = nav.querySelector("[rel=prev]"); }
      if (event.key === "ArrowRight") { link = nav.querySelector("[rel=next]"); }
      if (link) { event.preventDefault(); window.location.assign(link.href); }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var list = document.getElementById("log-lines");
    if (list) { logViewer(list); }
    var nav = document.getElementById("image-nav");
    if (nav) { gallery(nav); }
  });
})();
