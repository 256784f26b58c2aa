"use strict";
// The development GraphiQL: served from this host only, talks to /graphql with the cookie
// session and its CSRF header, and keeps what is typed in memory only: no query text in the
// URL (browser history) or in localStorage (the disk), where an MRN search would outlive
// the session.
(function () {
  const CSRF_KEY = "phigate.csrf";

  function memoryStorage() {
    const items = new Map();
    return {
      getItem: (key) => (items.has(key) ? items.get(key) : null),
      setItem: (key, value) => { items.set(key, String(value)); },
      removeItem: (key) => { items.delete(key); },
      clear: () => { items.clear(); },
      get length() { return items.size; },
    };
  }

  async function csrfToken() {
    // Kept since sign-in in this tab, or read again from /auth/session (a reloaded or new tab;
    // a page of another origin cannot read that answer).
    let token = window.sessionStorage.getItem(CSRF_KEY);
    if (!token) {
      const response = await fetch("/auth/session", {
        credentials: "same-origin",
        headers: { accept: "application/json" },
      });
      token = response.ok ? (await response.json()).csrf_token : null;
      if (token) window.sessionStorage.setItem(CSRF_KEY, token);
    }
    return token;
  }

  // GraphiQL sends several requests at load (the schema, the first query); a second
  // location.assign would abort the first navigation, so the page leaves once.
  let leaving = false;

  function leaveFor(path) {
    if (leaving) return;
    leaving = true;
    window.location.assign(path + "?next=" + encodeURIComponent("/graphql"));
  }

  async function fetcher(params, options) {
    const extra = (options && options.headers) || {};
    const headers = { "content-type": "application/json", accept: "application/json" };
    const usesCookie = !Object.keys(extra).some((name) => name.toLowerCase() === "authorization");
    const csrf = usesCookie ? await csrfToken() : null;
    if (csrf) headers["x-csrf-token"] = csrf;
    Object.assign(headers, extra);
    const response = await fetch("/graphql", {
      method: "POST",
      credentials: "same-origin",
      headers: headers,
      body: JSON.stringify(params),
    });
    const body = await response.json();
    if (usesCookie && (response.status === 401 || response.status === 403)) {
      const reason = (((body.errors || [])[0] || {}).extensions || {}).reason;
      if (reason === "idle_timeout") leaveFor("/unlock");
      else if (reason !== "network_not_allowed") leaveFor("/signin");
    }
    return body;
  }

  const root = ReactDOM.createRoot(document.getElementById("graphiql"));
  root.render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      storage: memoryStorage(),
      shouldPersistHeaders: false,
      isHeadersEditorEnabled: true,
      defaultEditorToolsVisibility: true,
      defaultQuery: "# Ctrl-Enter runs the query.\n{\n  patients(first: 5) {\n    totalCount\n  }\n}\n",
    }),
  );
})();
