// The sign-in form: POST /api/v1/auth/login sets the session cookie.

const form = document.getElementById('login-form');
const err = document.getElementById('login-error');

form.addEventListener('submit', async (e) => {
  e.preventDefault();
  err.hidden = true;
  const btn = form.querySelector('button[type=submit]');
  btn.disabled = true;
  try {
    const res = await fetch('/api/v1/auth/login', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify({ email: form.elements.email.value, password: form.elements.password.value }),
      credentials: 'same-origin',
    });
    if (res.ok) {
      location.assign(form.dataset.next || '/app');
      return;
    }
    let msg = 'Signing in failed. Try again.';
    try { msg = (await res.json()).error.message; } catch { /* keep */ }
    err.textContent = msg;
    err.hidden = false;
    form.elements.password.select();
  } catch {
    err.textContent = 'The server cannot be reached. Check your connection.';
    err.hidden = false;
  } finally {
    btn.disabled = false;
  }
});
