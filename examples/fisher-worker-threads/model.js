'use strict';
// The architecture for fisher-in-worker.js's example and test: a small CNN built with squisher's nn.
const path = require('path');
const sq = require(process.env.SQUISHER_LIB || path.resolve(__dirname, '..', '..'));

exports.build = () => new sq.nn.Sequential(
  new sq.nn.Conv2d(1, 4, 3, { padding: 1 }), new sq.nn.ReLU(), new sq.nn.MaxPool2d(2),
  new sq.nn.Flatten(), new sq.nn.Linear(4 * 4 * 4, 3));
