// Accessibility checks a browser script can run on any console page: every form
// control labelled, text contrast at least 4.5:1 (WCAG AA, computed from the page's
// styles), and no sideways scroll at a width.

/** Relative luminance of an sRGB colour [r, g, b]. */
function luminance([r, g, b]) {
  const lin = (c) => {
    const s = c / 255;
    return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
}

/** The contrast ratio of two colours. */
export function ratio(fg, bg) {
  const [a, b] = [luminance(fg), luminance(bg)].sort((x, y) => y - x);
  return (a + 0.05) / (b + 0.05);
}

/** Text elements whose contrast is checked. */
export const TEXT = ['h1', 'h2', 'h3', 'p', 'label', 'th', 'td', 'dt', 'dd', '#nav a', 'nav.tabs a', 'button', '.badge',
  '.table-status', 'small', 'code', '#user', 'a'];

/** Visible text elements matching `selector` with their colour and the first opaque
 *  background behind them. */
async function colours(page, selector) {
  return page.locator(selector).evaluateAll((els) => els.filter((el) => el.offsetParent !== null).map((el) => {
    const rgb = (s) => (s.match(/[\d.]+/g) || []).map(Number);
    const fg = rgb(getComputedStyle(el).color);
    let node = el;
    let bg = [255, 255, 255];
    while (node && node.nodeType === 1) {
      const c = rgb(getComputedStyle(node).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] === 1)) { bg = c.slice(0, 3); break; }
      node = node.parentElement;
    }
    return { text: el.textContent.trim().slice(0, 30), fg: fg.slice(0, 3), bg };
  }));
}

/** Form controls without a label (an associated <label> or aria-label). */
export async function unlabelled(page) {
  return page.locator('input, select, textarea').evaluateAll((els) => els
    .filter((el) => el.type !== 'hidden' && !el.labels?.length && !el.getAttribute('aria-label'))
    .map((el) => el.outerHTML.slice(0, 80)));
}

/** Text below 4.5:1 on the page among `selectors`, and how many text elements were
 *  looked at. */
export async function lowContrast(page, selectors = TEXT) {
  const low = [];
  let seen = 0;
  for (const sel of selectors) {
    for (const c of await colours(page, sel)) {
      if (!c.text) continue;
      seen += 1;
      const r = ratio(c.fg, c.bg);
      if (r < 4.5) low.push(`${sel} "${c.text}" ${r.toFixed(2)}:1`);
    }
  }
  return { low, seen };
}

/** The page's scroll width (more than the viewport: it scrolls sideways). */
export async function scrollWidth(page) {
  return page.locator('html').evaluate((el) => el.scrollWidth);
}
