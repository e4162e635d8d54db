// tests/workloads/node/split.js — a Node workload whose CPU split is known
// by construction: alphaBurn, betaBurn and gammaBurn run 5, 3 and 2 units
// of the same loop in turn (50/30/20 %), each calling the small function
// work. Run with `node --perf-basic-prof --interpreted-frames-native-stack`
// so V8 names its code in /tmp/perf-PID.map.
//
// usage: node ... split.js SECONDS
"use strict";
const UNIT = 20000;
let sink = 0;

function work(x) {
  return (Math.imul(x, 1103515245) + 12345) | 0;
}

function alphaBurn(n) {
  let s = sink;
  for (let i = 0; i < n; i++) s = work(s);
  return s;
}

function betaBurn(n) {
  let s = sink;
  for (let i = 0; i < n; i++) s = work(s);
  return s;
}

function gammaBurn(n) {
  let s = sink;
  for (let i = 0; i < n; i++) s = work(s);
  return s;
}

const end = Date.now() + parseFloat(process.argv[2] || "2") * 1000;
let rounds = 0;
while (Date.now() < end) {
  sink ^= alphaBurn(5 * UNIT);
  sink ^= betaBurn(3 * UNIT);
  sink ^= gammaBurn(2 * UNIT);
  rounds++;
}
console.log("nodesplit: rounds=" + rounds);
