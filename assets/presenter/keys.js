// The keys that move the tour, the presenter's clock and read-aloud: one script in every page (ui/presenter.py
// injects it after the page has run, with this view's settings, as JSON, in place of the CONFIG marker below).
(() => {
  const w = window, doc = document;
  w.__interpTour = /*CONFIG*/null;
  const cfg = () => w.__interpTour || {};
  if (!w.__interpTourInstalled) {
    w.__interpTourInstalled = true;
    const TEXT = new Set(['text', 'search', 'email', 'url', 'tel', 'password', 'number', 'date', 'time',
                          'datetime-local', 'month', 'week']);
    const OWN_ARROWS = 'input[type=range],[role=slider],[role=spinbutton],[role=tablist],[role=tab],[role=listbox],' +
                       '[role=option],[role=menu],[role=menuitem],[role=grid],[role=tree],[role=radiogroup]';
    const openCombo = (el) => !!el && el.getAttribute && el.getAttribute('aria-expanded') === 'true';
    // a field that takes text: keys are the reader's, not the tour's (a select box's field shows its choice and
    // filters the options while they are open: only then is it typed in)
    const typing = (el) => {
      if (!el || el === doc.body) return false;
      if (el.isContentEditable || el.tagName === 'TEXTAREA' || el.tagName === 'SELECT') return true;
      if (el.tagName !== 'INPUT') return false;
      if (el.getAttribute('role') === 'combobox') return openCombo(el);
      return TEXT.has((el.type || 'text').toLowerCase());
    };
    const press = (selector) => {
      const button = doc.querySelector(selector);
      if (!button || button.disabled) return false;
      button.click();
      return true;
    };
    const step = (last) => {
      const options = Array.from(doc.querySelectorAll('.st-key-step [role=radiogroup] button'));  // not its help
      const option = last ? options[options.length - 1] : options[0];
      if (!option || option.disabled) return false;
      option.click();
      return true;
    };
    // what read-aloud says: the step's title and headline, then its reading text where the page shows it
    const narration = () => Array.from(doc.querySelectorAll('.st-key-narration, .st-key-reading'))
      .map((node) => node.innerText.trim()).filter(Boolean).join('\n\n');
    const speak = () => {
      const synth = w.speechSynthesis;
      const text = narration();
      if (!synth || !text) return false;
      synth.cancel();
      const utterance = new SpeechSynthesisUtterance(text);
      utterance.lang = doc.documentElement.lang || 'en';
      synth.speak(utterance);
      return true;
    };
    w.__interpSpeak = speak;
    const toggleSpeech = () => {
      const synth = w.speechSynthesis;
      if (synth && (synth.speaking || synth.pending)) { synth.cancel(); return true; }
      return speak();
    };
    doc.addEventListener('keydown', (event) => {
      if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey || event.isComposing) return;
      const target = (event.composedPath && event.composedPath()[0]) || event.target;
      if (event.key === 'Escape') {  // let go of the widget (an open select box first closes its menu)
        const a = doc.activeElement;
        if (a && a !== doc.body && !openCombo(a) && a.blur) a.blur();
        return;
      }
      if (typing(target)) return;
      const clicker = event.key === 'PageDown' || event.key === 'PageUp';
      if (!clicker && target && target.closest && target.closest(OWN_ARROWS)) return;
      const c = cfg();
      const moves = ['ArrowRight', 'ArrowLeft', 'PageDown', 'PageUp', 'Home', 'End'];
      if (c.follow && moves.includes(event.key)) { event.preventDefault(); return; }  // the presenter leads
      let done = false;
      switch (event.key) {
        case 'ArrowRight': case 'PageDown':
          done = press('.st-key-next_step button') || press('.st-key-next_chapter button'); break;
        case 'ArrowLeft': case 'PageUp':
          done = press('.st-key-prev_step button') || press('.st-key-prev_chapter button'); break;
        case 'Home': done = step(false); break;
        case 'End': done = step(true); break;
        case 'p': case 'P': done = press('.st-key-presenter_mode input'); break;
        case 's': case 'S': done = toggleSpeech(); break;
      }
      if (done) { event.preventDefault(); event.stopPropagation(); }
    }, true);
    // A widget used with the mouse hands its focus back, so the next key press still moves the tour (a choice
    // in a select box gives the focus back to its field a moment after the click: look again then).
    const letGo = () => {
      const a = doc.activeElement;
      if (!a || a === doc.body || a.tagName === 'IFRAME' || typing(a) || openCombo(a)) return;
      if (a.closest && a.closest('[data-baseweb="popover"]')) return;
      a.blur();
    };
    for (const type of ['pointerup', 'click']) {
      doc.addEventListener(type, () => { setTimeout(letGo, 0); setTimeout(letGo, 150); }, true);
    }
    const format = (s) => {
      s = Math.max(0, Math.floor(s));
      const h = Math.floor(s / 3600), m = Math.floor(s / 60) % 60, sec = String(s % 60).padStart(2, '0');
      return h ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`;
    };
    // seconds since the server drew `node` with its data attribute `name` in seconds (from when it is first seen)
    // (no less-than sign before a letter in this file: the page's HTML sanitizer would drop the whole script)
    const since = (node, name) => {
      const key = `t0${name}`;
      if (!node.dataset[key]) node.dataset[key] = String(Date.now() - Number(node.dataset[name] || 0) * 1000);
      return (Date.now() - Number(node.dataset[key])) / 1000;
    };
    setInterval(() => {
      for (const clock of doc.querySelectorAll('.interp-clock, .interp-step-clock')) {
        clock.textContent = format(since(clock, 'elapsed'));
      }
      // ahead or behind the plan, as ui.presenter.behind and schedule say it
      for (const delta of doc.querySelectorAll('.interp-delta')) {
        const d = delta.dataset, talk = since(delta, 'talk'), step = since(delta, 'step');
        const late = (talk - step) - Number(d.before) + Math.max(0, step - Number(d.planned));
        let words = 'on time', colour = 'interp-ahead';
        if (late <= -Number(d.onTime)) words = `${format(-late)} ahead`;
        else if (late >= Number(d.onTime)) {
          words = `+${format(late)} behind`;
          colour = late >= Number(d.late) ? 'interp-late' : 'interp-behind';
        }
        delta.textContent = words;
        delta.classList.remove('interp-ahead', 'interp-behind', 'interp-late');
        delta.classList.add(colour);
      }
    }, 1000);
  }
  const c = cfg();
  if (c.readAloud && c.where && c.where !== w.__interpSpoken) {
    w.__interpSpoken = c.where;
    setTimeout(() => w.__interpSpeak && w.__interpSpeak(), 400);
  } else if (!c.readAloud && w.__interpSpoken) {
    w.__interpSpoken = null;
    if (w.speechSynthesis) w.speechSynthesis.cancel();
  }
})();
