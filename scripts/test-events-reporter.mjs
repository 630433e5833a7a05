// node:test reporter used by scripts/run-tests.mjs beside the spec reporter: one JSON line per
// finished test (suites excluded) with its file, name, outcome and skip reason, so the runner can
// count the tests that ran and list (or, in CI, refuse) the skipped ones. A file that declares no
// test is reported by node:test as one passing test named after the file: that is `kind: 'file'`.
export default async function* testEvents(source) {
  for await (const e of source) {
    if (e.type !== 'test:pass' && e.type !== 'test:fail') continue;
    const d = e.data;
    if (d.details?.type === 'suite') continue;
    yield JSON.stringify({ kind: d.name === d.file ? 'file' : 'test', file: d.file, name: d.name, nesting: d.nesting, ok: e.type === 'test:pass', skip: d.skip, todo: d.todo }) + '\n';
  }
}
