"use strict";
// The pages' behaviour: each form posts JSON to the API's own endpoints (the same throttling,
// lockout, audit and CSRF checks as any client). The CSRF token the sign-in answer carries is
// kept in this tab's sessionStorage, for the cookie session's unsafe requests.
(function () {
  const CSRF_KEY = "phigate.csrf";
  const DEVICE_KEY = "phigate.device";
  const MESSAGES = {
    invalid_credentials: "The username or password is not right.",
    invalid_code: "That code was not accepted. Check the time on your phone and try again.",
    invalid_pin: "That PIN is not right.",
    device_unknown_or_revoked: "This browser has no PIN any more: sign in again.",
    slow_down: "Too many attempts. Wait a few seconds, then try again.",
    locked: "Too many failed attempts: sign-in is locked for a while.",
    network_not_allowed: "Your account cannot sign in from this network.",
    session_expired: "Your session has ended: sign in again.",
    session_revoked: "Your session has ended: sign in again.",
    invalid_token: "Your sign-in step timed out: start again.",
    passkey_refused: "The passkey was not accepted.",
    pin_must_be_6_or_more_digits: "A PIN has six digits or more.",
  };
  const $ = (id) => document.getElementById(id);
  let mfaToken = null;

  function say(text) {
    $("status").textContent = text;
  }

  function refused(body) {
    const reason = (body && body.error) || "unexpected";
    say(MESSAGES[reason] || "That did not work (" + reason + ").");
  }

  async function call(path, body, method) {
    const headers = { "content-type": "application/json", accept: "application/json" };
    const csrf = sessionStorage.getItem(CSRF_KEY);
    if (csrf) headers["x-csrf-token"] = csrf;
    const response = await fetch(path, {
      method: method || "POST",
      credentials: "same-origin",
      headers: headers,
      body: JSON.stringify(body === undefined ? {} : body),
    });
    const text = await response.text();
    return { ok: response.ok, status: response.status, body: text ? JSON.parse(text) : null };
  }

  function nextPath() {
    // Only a path on this site: a `next` pointing elsewhere would make this an open redirect.
    const wanted = new URLSearchParams(location.search).get("next") || "/account";
    const url = new URL(wanted, location.origin);
    return url.origin === location.origin ? url.pathname + url.search : "/account";
  }

  function signedIn(body) {
    sessionStorage.setItem(CSRF_KEY, body.csrf_token);
    location.assign(nextPath());
  }

  function fields(form) {
    return Object.fromEntries(new FormData(form).entries());
  }

  function show(id) {
    $(id).hidden = false;
    const first = $(id).querySelector("input");
    if (first) first.focus();
  }

  async function enrol() {
    const answer = await call("/auth/mfa/enrol", { mfa_token: mfaToken });
    if (!answer.ok) return refused(answer.body);
    const parsed = new DOMParser().parseFromString(answer.body.qr_svg, "text/html");
    const svg = parsed.querySelector("svg");
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", "QR code for your authenticator app");
    $("qr").replaceChildren(document.importNode(svg, true));
    $("otpauth").textContent = answer.body.otpauth_uri;
    $("recovery-codes").replaceChildren(
      ...answer.body.recovery_codes.map((code) => {
        const item = document.createElement("li");
        item.textContent = code;
        return item;
      }),
    );
    $("enrol-step").hidden = false;
  }

  // WebAuthn's JSON forms (Chromium, Safari and Firefox ship them): the server's options in,
  // the credential's toJSON() out, no base64 handling here.
  const webauthn = Boolean(window.PublicKeyCredential && PublicKeyCredential.parseCreationOptionsFromJSON);

  async function assertion(optionsPath, body) {
    const options = await call(optionsPath, body);
    if (!options.ok) return refused(options.body);
    const publicKey = PublicKeyCredential.parseRequestOptionsFromJSON(options.body);
    const credential = await navigator.credentials.get({ publicKey: publicKey });
    return credential.toJSON();
  }

  const forms = {
    async login(form) {
      const answer = await call("/auth/login", fields(form));
      if (!answer.ok) return refused(answer.body);
      if (answer.body.csrf_token) return signedIn(answer.body);
      if (answer.body.password_change) {
        return say("Your password must be changed before you can sign in; ask an administrator.");
      }
      mfaToken = answer.body.mfa_token;
      form.hidden = true;
      say("");
      if (answer.body.mfa === "enrol") await enrol();
      if (answer.body.passkeys && webauthn) $("passkey-mfa").hidden = false;
      show("code-step");
    },
    async mfa(form) {
      const answer = await call("/auth/mfa", { mfa_token: mfaToken, code: fields(form).code });
      if (!answer.ok) return refused(answer.body);
      signedIn(answer.body);
    },
    async device(form) {
      const answer = await call("/auth/devices", fields(form));
      if (!answer.ok) return refused(answer.body);
      localStorage.setItem(DEVICE_KEY, answer.body.device_id);
      form.reset();
      say("PIN set for this browser.");
    },
    async passkey(form) {
      const options = await call("/auth/passkeys/options");
      if (!options.ok) return refused(options.body);
      const publicKey = PublicKeyCredential.parseCreationOptionsFromJSON(options.body);
      const credential = await navigator.credentials.create({ publicKey: publicKey });
      const answer = await call("/auth/passkeys", {
        name: fields(form).name,
        credential: credential.toJSON(),
      });
      if (!answer.ok) return refused(answer.body);
      location.reload();
    },
    async consent(form, submitter) {
      const body = { ...fields(form), decision: submitter.value };
      const answer = await call("/oauth/authorize", body);
      if (answer.status === 403 || answer.status === 401) {
        // No CSRF token in this tab (signed in elsewhere): sign in here, then come back.
        return location.assign("/signin?next=" + encodeURIComponent(location.pathname + location.search));
      }
      if (!answer.ok) return refused(answer.body);
      location.assign(answer.body.redirect_to);
    },
    async "pin-unlock"(form) {
      const body = { device_id: localStorage.getItem(DEVICE_KEY), pin: fields(form).pin };
      const answer = await call("/auth/unlock", body);
      if (!answer.ok) return refused(answer.body);
      location.assign(nextPath());
    },
  };

  const actions = {
    async "passkey-mfa"() {
      const credential = await assertion("/auth/mfa/passkey/options", { mfa_token: mfaToken });
      if (!credential) return;
      const answer = await call("/auth/mfa/passkey", { mfa_token: mfaToken, credential: credential });
      if (!answer.ok) return refused(answer.body);
      signedIn(answer.body);
    },
    async "passkey-unlock"() {
      const credential = await assertion("/auth/unlock/passkey/options");
      if (!credential) return;
      const answer = await call("/auth/unlock/passkey", { credential: credential });
      if (!answer.ok) return refused(answer.body);
      location.assign(nextPath());
    },
    async "remove-passkey"(button) {
      const answer = await call("/auth/passkeys/" + encodeURIComponent(button.dataset.id), undefined, "DELETE");
      if (!answer.ok) return refused(answer.body);
      location.reload();
    },
    async logout() {
      const answer = await call("/auth/logout");
      if (!answer.ok && answer.status !== 401) return refused(answer.body);
      sessionStorage.removeItem(CSRF_KEY);
      location.assign("/signin");
    },
  };

  function failed(error) {
    // A passkey prompt the user dismissed is a DOMException, not a network failure.
    say(error instanceof DOMException ? "The passkey step was cancelled." : "The server could not be reached.");
  }

  document.addEventListener("submit", (event) => {
    const handler = forms[event.target.dataset.form];
    if (!handler) return;
    event.preventDefault();
    handler(event.target, event.submitter).catch(failed);
  });
  document.addEventListener("click", (event) => {
    const handler = actions[event.target.dataset && event.target.dataset.action];
    if (handler) handler(event.target).catch(failed);
  });
  if ($("pin-unlock") && localStorage.getItem(DEVICE_KEY)) $("pin-unlock").hidden = false;
  if ($("passkey-unlock") && webauthn) $("passkey-unlock").hidden = false;
})();
