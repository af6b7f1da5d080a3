// Typesets math with KaTeX and highlights fenced code with highlight.js in
// rendered messages. The app's Markdown renderer (app/src/markdown.rs) puts
// formulas in `span.math` as TeX text and code in `pre > code`; this script
// watches the page and enhances them wherever they appear, loading each
// library from this server (public/vendor, copied from npm by the Makefile)
// the first time it is needed. KaTeX runs with `trust: false`, so a formula
// cannot make links, classes or HTML of its own.
(() => {
  'use strict';

  const loaded = new Map();

  function addStyle(href, media) {
    const link = document.createElement('link');
    link.rel = 'stylesheet';
    link.href = href;
    if (media) link.media = media;
    document.head.appendChild(link);
  }

  function load(name, src, styles) {
    if (!loaded.has(name)) {
      loaded.set(name, new Promise((resolve, reject) => {
        styles.forEach(([href, media]) => addStyle(href, media));
        const script = document.createElement('script');
        script.src = src;
        script.onload = resolve;
        script.onerror = reject;
        document.head.appendChild(script);
      }));
    }
    return loaded.get(name);
  }

  const katexReady = () => load('katex', '/vendor/katex/katex.min.js', [
    ['/vendor/katex/katex.min.css'],
  ]);
  const hljsReady = () => load('hljs', '/vendor/highlight/highlight.min.js', [
    ['/vendor/highlight/github.min.css', '(prefers-color-scheme: light)'],
    ['/vendor/highlight/github-dark.min.css', '(prefers-color-scheme: dark)'],
  ]);

  function typeset(el) {
    const tex = el.textContent;
    try {
      window.katex.render(tex, el, {
        displayMode: el.classList.contains('math-display'),
        throwOnError: false,
        trust: false,
        maxSize: 50,
        maxExpand: 1000,
      });
      el.dataset.rendered = 'true';
    } catch (e) {
      el.textContent = tex;
      el.dataset.rendered = 'error';
    }
    el.title = tex;
  }

  function highlight(el) {
    window.hljs.highlightElement(el);
    el.dataset.enhanced = 'true';
  }

  function enhance() {
    const math = document.querySelectorAll('.math:not([data-rendered])');
    if (math.length) {
      katexReady().then(() => math.forEach((el) => el.isConnected && !el.dataset.rendered && typeset(el)));
    }
    const code = document.querySelectorAll('.message pre > code:not([data-enhanced])');
    if (code.length) {
      hljsReady().then(() => {
        window.hljs.configure({ ignoreUnescapedHTML: true });
        code.forEach((el) => el.isConnected && !el.dataset.enhanced && highlight(el));
      });
    }
  }

  // One pass per animation frame however many tokens arrive in it.
  let queued = false;
  const schedule = () => {
    if (!queued) {
      queued = true;
      requestAnimationFrame(() => {
        queued = false;
        enhance();
      });
    }
  };
  const start = () => {
    new MutationObserver(schedule).observe(document.body, { childList: true, subtree: true });
    schedule();
  };
  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', start);
  } else {
    start();
  }
})();
