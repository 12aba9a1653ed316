// agent.js: a stand-in for an AI agent's chat input in Chromium, driven by
// desktoptest (chromium.go). /agent.html?name=Agent-1&kind=textarea
//
// Kinds: textarea, contenteditable, monaco (VS Code's chat input is a Monaco
// editor), lexical (the composer of many chat apps). In each, Enter (and
// ctrl+Enter) submits: the text is reported and the input cleared.
// Shift+Enter inserts a newline; ctrl+z is the input's own undo.
//
// The page reports every event that tells how a delivery went (POST
// /report, one JSON object per event) and the harness's server writes them
// down; the server, not the page, writes the submit records and the acks.
// Each recorded event carries seq, the page's event number, so the server
// can put them back in order when two POSTs overtake each other.
//
// "input" events carry landed=true on the change that made the last paste's
// text appear in the input (the count of its occurrences went up): that is
// how a paste event that inserted nothing is told from one that landed, in
// the same way for every kind, including Monaco, which inserts a paste some
// milliseconds after the paste event.
'use strict';

const params = new URLSearchParams(location.search);
const name = params.get('name');
const kind = params.get('kind');
document.title = name; // the daemon's title check reads this as WM_NAME

const box = document.getElementById('box');
const shown = document.getElementById('shown');
let seq = 0;
let submits = 0;
let probing = true;
let pending = null; // the last paste with data, until it lands: {data, before}
let input = null; // {text(), clear()} of the kind
const history = [];

function post(ev, attempt = 0) {
  return fetch('/report?name=' + encodeURIComponent(name), {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(ev),
  }).then((r) => {
    if (!r.ok) throw new Error('HTTP ' + r.status);
    return r.json();
  }).catch((err) => {
    // A lost recorded event would stall the server's in-order writer.
    if (attempt < 20) {
      return new Promise((res) => setTimeout(res, 50 * (attempt + 1))).then(() => post(ev, attempt + 1));
    }
    console.error('desktoptest: report lost', ev, err);
    return {};
  });
}

function record(ev) {
  ev.seq = ++seq;
  ev.t = performance.now();
  post(ev);
}

function occurrences(text, data) {
  let n = 0;
  for (let i = text.indexOf(data); i >= 0; i = text.indexOf(data, i + data.length)) n++;
  return n;
}

function changed(source, inputType) {
  const text = input.text();
  const ev = { type: 'input', source, inputType, len: text.length };
  if (pending && occurrences(text, pending.data) > pending.before) {
    ev.landed = true;
    pending = null;
  }
  record(ev);
}

function submitText(text) {
  pending = null;
  submits++;
  record({ type: 'submit', submit: submits, text });
  history.push(text);
  if (history.length > 4) history.shift();
  shown.textContent = history.join('\n----\n');
}

const onInput = (target) => target instanceof Node && box.contains(target);

document.addEventListener('mousedown', (e) => {
  record({ type: 'mousedown', detail: e.detail, button: e.button, onInput: onInput(e.target), x: Math.round(e.clientX), y: Math.round(e.clientY) });
}, true);

// Only the moves the harness makes while it measures where the window is
// (see probeWindow in chromium.go); the server says when to stop.
document.addEventListener('mousemove', (e) => {
  if (!probing) return;
  post(Object.assign(layout(), { type: 'probe', x: Math.round(e.clientX), y: Math.round(e.clientY), onInput: onInput(e.target), t: performance.now() }))
    .then((r) => { if (r && r.probing === false) probing = false; });
}, true);

document.addEventListener('paste', (e) => {
  const data = e.clipboardData ? e.clipboardData.getData('text/plain') : '';
  pending = data ? { data, before: occurrences(input ? input.text() : '', data) } : null;
  record({ type: 'paste', data, onInput: onInput(e.target) });
}, true);

box.addEventListener('beforeinput', (e) => record({ type: 'beforeinput', inputType: e.inputType }), true);
box.addEventListener('focusin', (e) => {
  if (!onInput(e.relatedTarget)) record({ type: 'focus' });
});
box.addEventListener('focusout', (e) => {
  if (!onInput(e.relatedTarget)) record({ type: 'blur' });
});

function isSubmitKey(e) {
  return e.key === 'Enter' && !e.shiftKey && !e.altKey && !e.isComposing;
}

function domInput(el, text, clear) {
  box.appendChild(el);
  el.spellcheck = false;
  el.addEventListener('input', (e) => changed('dom', e.inputType));
  el.addEventListener('keydown', (e) => {
    if (!isSubmitKey(e)) return;
    e.preventDefault();
    submitText(text());
    clear();
  });
  return { text, clear };
}

const kinds = {
  textarea() {
    const ta = document.createElement('textarea');
    ta.autocomplete = 'off';
    return Promise.resolve(domInput(ta, () => ta.value, () => { ta.value = ''; }));
  },

  contenteditable() {
    const ce = document.createElement('div');
    ce.className = 'ce';
    ce.contentEditable = 'true';
    // innerText, not textContent: a Shift+Enter is a <br>, which only
    // innerText reads as "\n".
    return Promise.resolve(domInput(ce, () => ce.innerText, () => { ce.textContent = ''; }));
  },

  monaco() {
    return loadScript('/monaco/min/vs/loader.js').then(() => new Promise((resolve) => {
      window.require.config({ paths: { vs: '/monaco/min/vs' } });
      window.require(['vs/editor/editor.main'], () => {
        const el = document.createElement('div');
        el.className = 'editor';
        box.appendChild(el);
        // Off: everything that would make the model differ from what was
        // pasted or typed, and every popup that could take a key.
        const ed = monaco.editor.create(el, {
          value: '', language: 'plaintext', automaticLayout: true,
          minimap: { enabled: false }, lineNumbers: 'off', glyphMargin: false, folding: false,
          wordWrap: 'on', scrollBeyondLastLine: false, renderLineHighlight: 'none',
          autoIndent: 'none', formatOnPaste: false, formatOnType: false, trimAutoWhitespace: false,
          detectIndentation: false, insertSpaces: false,
          autoClosingBrackets: 'never', autoClosingQuotes: 'never', autoClosingOvertype: 'never', autoSurround: 'never',
          quickSuggestions: false, suggestOnTriggerCharacters: false, wordBasedSuggestions: 'off',
          acceptSuggestionOnEnter: 'off', tabCompletion: 'off', parameterHints: { enabled: false },
          inlineSuggest: { enabled: false }, hover: { enabled: false }, links: false, contextmenu: false,
          unicodeHighlight: { ambiguousCharacters: false, invisibleCharacters: false, nonBasicASCII: false },
          occurrencesHighlight: 'off', selectionHighlight: false, stickyScroll: { enabled: false },
          dragAndDrop: false, dropIntoEditor: { enabled: false },
        });
        const model = ed.getModel();
        model.setEOL(monaco.editor.EndOfLineSequence.LF);
        const text = () => model.getValue(monaco.editor.EndOfLinePreference.LF);
        ed.addCommand(monaco.KeyCode.Enter, () => { submitText(text()); ed.setValue(''); });
        ed.addCommand(monaco.KeyMod.CtrlCmd | monaco.KeyCode.Enter, () => { submitText(text()); ed.setValue(''); });
        ed.addCommand(monaco.KeyMod.Shift | monaco.KeyCode.Enter, () => ed.trigger('keyboard', 'type', { text: '\n' }));
        // The DOM paste event comes first; Monaco inserts the text later.
        ed.onDidPaste((e) => record({ type: 'editorpaste', len: model.getValueInRange(e.range).length }));
        ed.onDidChangeModelContent((e) => changed('monaco', e.isUndoing ? 'undo' : e.isRedoing ? 'redo' : e.isFlush ? 'flush' : 'edit'));
        resolve({ text, clear: () => ed.setValue('') });
      });
    }));
  },

  lexical() {
    return loadScript('/lexical.js').then(() => {
      const L = window.LexicalKit;
      const el = document.createElement('div');
      el.className = 'ce';
      el.contentEditable = 'true';
      box.appendChild(el);
      const editor = L.createEditor({ namespace: 'agent', onError: (err) => console.error(err), theme: {} });
      editor.setRootElement(el);
      // Plain text: one paragraph, a pasted "\n" becomes a LineBreakNode and
      // getTextContent gives it back as "\n". Rich text would make each line
      // a paragraph, and paragraphs join with "\n\n".
      L.registerPlainText(editor);
      L.registerHistory(editor, L.createEmptyHistoryState(), 300);
      const text = () => editor.getEditorState().read(() => L.$getRoot().getTextContent());
      const clearRoot = () => {
        const root = L.$getRoot();
        root.clear();
        const p = L.$createParagraphNode();
        root.append(p);
        p.select();
      };
      editor.registerCommand(L.KEY_ENTER_COMMAND, (e) => {
        if (e && (e.shiftKey || e.altKey)) return false; // plain text inserts a line break
        if (e) e.preventDefault();
        // Commands run inside an update: read and clear the pending state,
        // which has every change before this key.
        submitText(L.$getRoot().getTextContent());
        clearRoot();
        return true;
      }, L.COMMAND_PRIORITY_HIGH);
      editor.registerUpdateListener(({ dirtyElements, dirtyLeaves, prevEditorState, editorState, tags }) => {
        if (dirtyElements.size === 0 && dirtyLeaves.size === 0) return; // a selection change
        const before = prevEditorState.read(() => L.$getRoot().getTextContent());
        const after = editorState.read(() => L.$getRoot().getTextContent());
        if (before !== after) changed('lexical', [...tags].join(',') || 'edit');
      });
      return { text, clear: () => editor.update(clearRoot) };
    });
  },
};

function loadScript(src) {
  return new Promise((resolve, reject) => {
    const s = document.createElement('script');
    s.src = src;
    s.onload = resolve;
    s.onerror = () => reject(new Error('cannot load ' + src));
    document.head.appendChild(s);
  });
}

// layout is where the input box is now, in CSS pixels of the viewport.
function layout() {
  const r = box.getBoundingClientRect();
  return {
    rect: { x: r.left, y: r.top, w: r.width, h: r.height },
    innerWidth: window.innerWidth, innerHeight: window.innerHeight, dpr: window.devicePixelRatio,
  };
}

function ready() {
  post(Object.assign(layout(), { type: 'ready', kind, title: document.title }));
}

(kinds[kind] || (() => Promise.reject(new Error('unknown kind ' + kind))))().then((i) => {
  input = i;
  // Two frames: the editor has laid itself out and painted once.
  requestAnimationFrame(() => requestAnimationFrame(ready));
}).catch((err) => post({ type: 'error', error: String(err && err.stack || err) }));

window.addEventListener('error', (e) => post({ type: 'error', error: String(e.message) + ' at ' + e.filename + ':' + e.lineno }));
