// web/prefetch.js — the first script of /ui/profile and /ui/diff, run as
// soon as it arrives (async): asks for the page's call tree while the
// other scripts load, so the answer's wait does not start after them.
// web/profile.js reads the answer. Must never do more than start that one
// request (the page decides what its query means).
"use strict";
window.emberCalltree = fetch("/api/v1/calltree" + location.search, { credentials: "same-origin" });
