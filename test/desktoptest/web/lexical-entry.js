// The Lexical pieces lexical.html uses, bundled by scripts/web.sh (esbuild)
// into build/lexical.js as the global LexicalKit: Lexical ships ES modules
// only, and a plain <script> keeps the page free of an import map.
export * from 'lexical';
export { registerPlainText } from '@lexical/plain-text';
export { registerHistory, createEmptyHistoryState } from '@lexical/history';
