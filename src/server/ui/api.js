// The REST API as the dashboard calls it: every call carries the token
// kept in this tab's session (sessionStorage). A 401 forgets the token and
// throws AuthError, which sends the user back to the sign-in form.

const KEY = 'supercell.token';

export const token = {
  get: () => sessionStorage.getItem(KEY),
  set: (t) => sessionStorage.setItem(KEY, t),
  clear: () => sessionStorage.removeItem(KEY),
};

export class AuthError extends Error {}

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

// GET path with query params (empty values left out); the parsed JSON.
export async function api(path, { params = {}, signal, tok = token.get() } = {}) {
  const url = new URL(path, location.origin);
  for (const [k, v] of Object.entries(params))
    if (v !== undefined && v !== null && v !== '') url.searchParams.set(k, v);
  let r;
  try {
    r = await fetch(url, { headers: { Authorization: `Bearer ${tok}` }, signal, cache: 'no-store' });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, 'the controller cannot be reached');
  }
  const body = await r.json().catch(() => null);
  const msg = body?.error?.message || `${r.status} ${r.statusText}`;
  if (r.status === 401) {
    if (tok === token.get()) token.clear();
    throw new AuthError(msg);
  }
  if (!r.ok) throw new ApiError(r.status, msg);
  return body;
}
