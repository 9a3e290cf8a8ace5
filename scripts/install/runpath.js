'use strict';
// Where the addon looks for libtorch at load time (its ELF RUNPATH / Mach-O rpath). A libtorch inside the
// package, or inside the same node_modules tree, is named relative to the addon ($ORIGIN), so copying or
// moving the package (a Docker multi-stage build, a moved checkout) keeps it loadable. A libtorch outside
// (a Python install, the per-user cache, LIBTORCH) is named by its absolute path, which moving the package
// does not change; when that folder is gone, lib/native.ts says so and names it.
const fs = require('fs');
const path = require('path');

function real(p) {
  // The addon folder may not exist yet: resolve its nearest existing ancestor.
  let head = path.resolve(p); const tail = [];
  while (!fs.existsSync(head)) { tail.unshift(path.basename(head)); head = path.dirname(head); }
  return path.join(fs.realpathSync(head), ...tail);
}

// The folder that moves as one unit with the package: the outermost node_modules holding it, else the package.
function moveUnit(root) {
  const parts = real(root).split(path.sep);
  const i = parts.indexOf('node_modules');
  return i >= 0 ? parts.slice(0, i + 1).join(path.sep) : real(root);
}

function inside(child, parent) {
  const rel = path.relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/** The RUNPATH entry for an addon built into addonDir of the package at root, loading libtorch from libDir. */
function runpathFor(libDir, addonDir, root) {
  const lib = real(libDir);
  if (!inside(lib, moveUnit(root))) return lib;
  const origin = process.platform === 'darwin' ? '@loader_path' : '$ORIGIN';
  const rel = path.relative(real(addonDir), lib);
  return rel ? `${origin}/${rel.split(path.sep).join('/')}` : origin;
}

module.exports = { runpathFor, moveUnit };
