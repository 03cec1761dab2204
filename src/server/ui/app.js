// The dashboard's shell: sign-in, the hash router (#/fleet, #/jobs,
// #/jobs/ID, #/tenants, #/usage, #/timeline) and the refresh loop each
// page runs under. A page is mount(root, ctx, arg); ctx.every(fn, ms) runs
// fn now and again ms after each run ends, until the page is left.

import { api, token, AuthError } from './api.js';
import { fill, notice } from './dom.js';
import * as fleet from './fleet.js';
import * as jobs from './jobs.js';
import * as job from './job.js';
import * as tenants from './tenants.js';
import * as usage from './usage.js';
import * as timeline from './timeline.js';

const pages = { fleet, jobs, tenants, usage, timeline };
const main = document.getElementById('main');
const nav = document.getElementById('nav');
const signout = document.getElementById('signout');
const status = document.getElementById('status');
let current = null; // {abort: AbortController}

function leave() {
  if (current) current.abort.abort();
  current = null;
}

// Shows the sign-in form, with why when given (a refused token).
function showLogin(why) {
  leave();
  nav.hidden = signout.hidden = true;
  status.textContent = '';
  document.body.dataset.page = 'login';
  const form = document.getElementById('login-template').content.firstElementChild.cloneNode(true);
  fill(main, form);
  const err = form.querySelector('#login-error');
  if (why) {
    err.textContent = why;
    err.hidden = false;
  }
  const input = form.querySelector('#token');
  input.focus();
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const tok = input.value.trim();
    err.hidden = true;
    try {
      await api('/v1/nodes', { tok }); // any user or admin token may
      token.set(tok);
      route();
    } catch (e) {
      err.textContent = e instanceof AuthError ? `That token was refused: ${e.message}.`
        : `Cannot sign in: ${e.message}.`;
      err.hidden = false;
      input.select();
    }
  });
}

function makeCtx(abort) {
  const ctx = {
    signal: abort.signal,
    // Runs fn now, then ms after each run ends; errors go to ctx.fail.
    every(fn, ms) {
      const run = async () => {
        if (abort.signal.aborted) return;
        try {
          await fn();
          status.textContent = `updated ${new Date().toLocaleTimeString('en-GB')}`;
          status.classList.remove('bad');
        } catch (e) {
          ctx.fail(e);
        }
        if (!abort.signal.aborted) setTimeout(run, typeof ms === 'function' ? ms() : ms);
      };
      run();
    },
    fail(e) {
      if (abort.signal.aborted || e.name === 'AbortError') return;
      if (e instanceof AuthError) {
        showLogin(`The controller refused the token (${e.message}): sign in again.`);
        return;
      }
      status.textContent = `error: ${e.message}`;
      status.classList.add('bad');
    },
  };
  return ctx;
}

function route() {
  if (!token.get()) {
    showLogin();
    return;
  }
  const path = (location.hash.replace(/^#\/?/, '').split('?')[0] || 'fleet').split('/');
  let name = path[0];
  let mod = pages[name];
  let arg = path.slice(1).map(decodeURIComponent).join('/');
  if (name === 'jobs' && arg) mod = job;
  if (!mod) {
    name = 'fleet';
    mod = fleet;
    arg = '';
  }
  leave();
  const abort = new AbortController();
  current = { abort };
  nav.hidden = signout.hidden = false;
  for (const a of nav.querySelectorAll('a')) a.classList.toggle('active', a.dataset.page === name);
  document.body.dataset.page = mod === job ? 'job' : name;
  main.replaceChildren();
  try {
    mod.mount(main, makeCtx(abort), arg);
  } catch (e) {
    fill(main, notice(`This page failed: ${e.message}`));
  }
}

signout.addEventListener('click', () => {
  token.clear();
  showLogin();
});
window.addEventListener('hashchange', route);
route();
