// Runs once before the suite: finds the Python oracle and (re)generates every fixture made by
// scripts/fixtures/*.py whose script changed since its last run.
const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');
const { ensureOracle } = require('../../scripts/oracle');

module.exports = async () => {
  const py = ensureOracle();
  process.env.SQUISHER_ORACLE_PYTHON = py;
  const root = path.resolve(__dirname, '..', '..');
  const out = path.join(root, 'test', 'fixtures', 'generated');
  fs.mkdirSync(out, { recursive: true });
  const dir = path.join(root, 'scripts', 'fixtures');
  for (const f of fs.readdirSync(dir).filter((f) => f.endsWith('.py') && !f.startsWith('_')).sort()) {
    const script = path.join(dir, f);
    const stamp = path.join(out, `.${f}.stamp`);
    const helpers = path.join(dir, '_common.py');
    const newest = Math.max(fs.statSync(script).mtimeMs, fs.existsSync(helpers) ? fs.statSync(helpers).mtimeMs : 0);
    if (fs.existsSync(stamp) && fs.statSync(stamp).mtimeMs >= newest) continue;
    const r = spawnSync(py, [script, out], { encoding: 'utf8', cwd: root });
    if (r.status !== 0) throw new Error(`fixture script ${f} failed:\n${r.stdout}\n${r.stderr}`);
    fs.writeFileSync(stamp, '');
  }
};
