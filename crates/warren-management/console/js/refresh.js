// A page's lifetime: timers and requests that stop when the user leaves the page.
import { showError } from './dom.js';

/** The refresh period of live views, in milliseconds. */
export const REFRESH_MS = 5000;

/** A scope for one page visit. `every(ms, fn)` runs `fn` now and then every `ms`
 *  (never two at once; paused while the tab is hidden); `onLeave(fn)` registers
 *  cleanup; `signal` aborts the page's requests; `leave()` ends it all. */
export function createScope() {
  const controller = new AbortController();
  const cleanups = [];
  let left = false;
  const scope = {
    signal: controller.signal,
    get left() {
      return left;
    },
    onLeave(fn) {
      if (left) fn();
      else cleanups.push(fn);
    },
    every(ms, fn) {
      let running = false;
      let timer = null;
      const tick = async () => {
        if (left || running) return;
        if (document.hidden) {
          schedule();
          return;
        }
        running = true;
        try {
          await fn();
        } catch (err) {
          if (!left && err.name !== 'AbortError') showError(err);
        } finally {
          running = false;
          schedule();
        }
      };
      const schedule = () => {
        if (!left) timer = setTimeout(tick, ms);
      };
      const visible = () => {
        if (!document.hidden && !running) {
          clearTimeout(timer);
          tick();
        }
      };
      document.addEventListener('visibilitychange', visible);
      scope.onLeave(() => {
        clearTimeout(timer);
        document.removeEventListener('visibilitychange', visible);
      });
      tick();
      return { now: () => { clearTimeout(timer); tick(); } };
    },
    leave() {
      if (left) return;
      left = true;
      controller.abort();
      for (const fn of cleanups.splice(0)) {
        try {
          fn();
        } catch (err) {
          console.warn(err);
        }
      }
    },
  };
  return scope;
}
