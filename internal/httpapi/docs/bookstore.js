// Starts Swagger UI on /openapi.yaml and runs the login panel: a user logs
// in once, and every request the page sends then carries the access token,
// refreshed shortly before it expires (the refresh token rotates: the new
// one is kept). Served as a file, so the page's Content-Security-Policy
// needs no 'unsafe-inline' script.
"use strict";
(function () {
  var session = null; // {access, refresh, expiresAt (ms), lifetime (ms), username}
  var refreshing = null; // the refresh in flight: one at a time

  var $ = function (id) { return document.getElementById(id); };

  function render(error) {
    $("login-form").hidden = session !== null;
    $("login-session").hidden = session === null;
    $("login-status").textContent = session
      ? "Logged in as " + session.username + ": every request carries the access token, renewed before it expires."
      : "";
    $("login-error").textContent = error || "";
  }

  function adopt(pair, username) {
    var lifetime = pair.expires_in * 1000;
    session = {
      access: pair.access_token,
      refresh: pair.refresh_token,
      expiresAt: Date.now() + lifetime,
      lifetime: lifetime,
      username: username,
    };
    render();
  }

  // problemText reads an error answer: the problem document's detail.
  function problemText(res) {
    return res.json().then(
      function (p) { return p.detail || p.title || res.status + " " + res.statusText; },
      function () { return res.status + " " + res.statusText; });
  }

  function postJSON(path, body, token) {
    var headers = { "Content-Type": "application/json" };
    if (token) headers.Authorization = "Bearer " + token;
    return fetch(path, { method: "POST", headers: headers, body: JSON.stringify(body), credentials: "omit" });
  }

  function login(username, password) {
    return postJSON("/auth/login", { username: username, password: password }).then(function (res) {
      if (!res.ok) return problemText(res).then(function (msg) { throw new Error(msg); });
      return res.json().then(function (pair) { adopt(pair, username); });
    });
  }

  function refresh() {
    if (!refreshing) {
      var username = session.username;
      refreshing = postJSON("/auth/refresh", { refresh_token: session.refresh }).then(function (res) {
        if (!res.ok) {
          return problemText(res).then(function (msg) {
            session = null;
            render("The session has ended (" + msg + "): log in again.");
            throw new Error(msg);
          });
        }
        return res.json().then(function (pair) { adopt(pair, username); });
      }).finally(function () { refreshing = null; });
    }
    return refreshing;
  }

  // currentToken is the access token to send, refreshed first when it
  // expires within 30 s (a quarter of its lifetime at most), plus a second:
  // a token's exp is whole seconds, so it may end up to a second before
  // expires_in says. Swagger UI cannot send a refused request again, so
  // the page refreshes early rather than late.
  function currentToken() {
    if (refreshing) return refreshing.then(currentToken);
    if (!session) return Promise.resolve(null);
    var margin = Math.min(30000, session.lifetime / 4) + 1000;
    if (Date.now() >= session.expiresAt - margin) return refresh().then(currentToken);
    return Promise.resolve(session.access);
  }

  function pathOf(url) { return new URL(url, window.location.href).pathname; }

  // Every request Swagger UI sends, but the spec itself and the token
  // exchanges, gets the logged-in user's access token.
  function requestInterceptor(req) {
    if (req.loadSpec) return req;
    var path = pathOf(req.url);
    if (path === "/auth/login" || path === "/auth/refresh") return req;
    return currentToken().then(function (token) {
      if (token) req.headers.Authorization = "Bearer " + token;
      return req;
    }, function () { return req; });
  }

  // A login made through "Try it out" logs the page in too.
  function responseInterceptor(res) {
    if (pathOf(res.url) === "/auth/login" && res.ok && res.body && res.body.access_token) {
      adopt(res.body, "…");
      fetch("/users/me", { headers: { Authorization: "Bearer " + res.body.access_token }, credentials: "omit" })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (me) { if (me && session) { session.username = me.username; render(); } })
        .catch(function () {});
    }
    return res;
  }

  $("login-form").addEventListener("submit", function (event) {
    event.preventDefault();
    $("login-submit").disabled = true;
    login($("login-username").value, $("login-password").value).then(function () {
      $("login-password").value = "";
    }, function (err) {
      render("Login failed: " + err.message);
    }).finally(function () { $("login-submit").disabled = false; });
  });

  $("logout").addEventListener("click", function () {
    var ending = session;
    session = null;
    render();
    if (ending) {
      // The refresh token names the session, even once the access token
      // has expired.
      postJSON("/auth/logout", { refresh_token: ending.refresh }).catch(function () {});
    }
  });

  render();
  window.ui = SwaggerUIBundle({
    url: "/openapi.yaml",
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    plugins: [
      SwaggerUIBundle.plugins.DownloadUrl,
      function () { return { components: { Topbar: function () { return null; } } }; },
    ],
    layout: "StandaloneLayout",
    validatorUrl: null,
    showExtensions: true,
    showCommonExtensions: true,
    defaultModelsExpandDepth: 0, // the schemas, collapsed
    displayRequestDuration: true,
    displayOperationId: true, // every operation's id shows in the list
    persistAuthorization: false,
    requestInterceptor: requestInterceptor,
    responseInterceptor: responseInterceptor,
  });
})();
