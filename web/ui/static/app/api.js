// The workspace's HTTP client: JSON calls to /api/v1 (with the session's
// CSRF token on writes) and server-rendered fragments from /app. Every
// write the workspace makes goes through the public API.

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

const csrf = () => document.body.dataset.csrf || '';

function toLogin() {
  const next = location.pathname + location.search;
  location.assign('/login?next=' + encodeURIComponent(next));
}

async function errorOf(res) {
  let code = 'internal';
  let message = `The server answered ${res.status}.`;
  try {
    const body = await res.json();
    if (body && body.error) ({ code, message } = body.error);
  } catch { /* not JSON: keep the generic message */ }
  return new ApiError(res.status, code, message);
}

// api calls the JSON API and returns the decoded answer (null for 204).
export async function api(method, path, body) {
  const headers = { Accept: 'application/json' };
  if (method !== 'GET') headers['X-CSRF-Token'] = csrf();
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res;
  try {
    res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'same-origin', cache: 'no-store' });
  } catch {
    throw new ApiError(0, 'network', 'The server cannot be reached. Check your connection and try again.');
  }
  if (res.status === 401) {
    toLogin();
    throw await errorOf(res);
  }
  if (!res.ok) throw await errorOf(res);
  if (res.status === 204) return null;
  return res.json();
}

// fragment fetches server-rendered HTML and returns it parsed, inert.
// Scripts in it would not run (the CSP allows none inline) and there are none.
export async function fragment(url) {
  let res;
  try {
    res = await fetch(url, { headers: { 'HX-Request': 'true' }, credentials: 'same-origin', cache: 'no-store' });
  } catch {
    throw new ApiError(0, 'network', 'The server cannot be reached.');
  }
  if (res.status === 401) {
    toLogin();
    throw await errorOf(res);
  }
  if (!res.ok) throw await errorOf(res);
  const t = document.createElement('template');
  t.innerHTML = await res.text();
  return t.content;
}

// upload sends one file as multipart/form-data with a client id, reporting
// progress; it resolves with the API's answer or rejects with an ApiError
// whose message is the server's (C4: type and size refusals are plain).
export function upload(path, file, clientId, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', path);
    xhr.setRequestHeader('X-CSRF-Token', csrf());
    xhr.setRequestHeader('Accept', 'application/json');
    xhr.upload.onprogress = (e) => { if (e.lengthComputable && onProgress) onProgress(e.loaded / e.total); };
    xhr.onerror = () => reject(new ApiError(0, 'network', 'The upload was interrupted. Try again.'));
    xhr.onload = () => {
      let body = null;
      try { body = JSON.parse(xhr.responseText); } catch { /* keep null */ }
      if (xhr.status >= 200 && xhr.status < 300) return resolve(body);
      if (xhr.status === 401) toLogin();
      const e = body && body.error;
      reject(new ApiError(xhr.status, e ? e.code : 'internal', e ? e.message : `The upload failed (${xhr.status}).`));
    };
    const form = new FormData();
    form.append('client_id', clientId);
    form.append('file', file, file.name);
    xhr.send(form);
  });
}

// newClientId returns a fresh idempotency id for a send (docs/protocol.md).
export function newClientId() {
  const b = new Uint8Array(12);
  crypto.getRandomValues(b);
  return 'w-' + Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}
