// The task timeline: one lane per worker, one bar per task, coloured by
// function. Wheel zooms, dragging pans, a double click shows everything.
(function () {
  "use strict";
  var data = barrow.data;
  var tasks = data.tasks; // [key, function index, start µs, end µs, worker]
  var names = data.functions;
  var lanes = Math.max(1, data.workers);
  var LANE = lanes > 24 ? 12 : 24, GAP = 2, AXIS = 24, LEFT = 76, RIGHT = 10;
  var total = 1;
  tasks.forEach(function (t) { if (t[3] > total) total = t[3]; });
  var colours = names.map(function (_, i) { return barrow.colour(i); });

  // Per lane, the tasks by start time, to find the one under the mouse.
  var byLane = [];
  for (var l = 0; l < lanes; l++) byLane.push([]);
  tasks.forEach(function (t, i) { byLane[Math.min(t[4], lanes - 1)].push(i); });
  byLane.forEach(function (ids) { ids.sort(function (a, b) { return tasks[a][2] - tasks[b][2]; }); });

  var view = { from: 0, to: total };
  var chart = barrow.canvas(null, lanes * LANE + AXIS, draw);

  function plotWidth() { return chart.width - LEFT - RIGHT; }
  function xOf(t) { return LEFT + (t - view.from) / (view.to - view.from) * plotWidth(); }
  function timeOf(px) { return view.from + (px - LEFT) / plotWidth() * (view.to - view.from); }

  function draw(ctx, width) {
    for (var l = 0; l < lanes; l++) {
      ctx.fillStyle = l % 2 ? "#fafafa" : "#f1f1f1";
      ctx.fillRect(LEFT, l * LANE, width - LEFT, LANE);
      ctx.fillStyle = "#444";
      ctx.textAlign = "left";
      ctx.fillText("worker " + l, 4, l * LANE + LANE / 2);
    }
    for (var i = 0; i < tasks.length; i++) {
      var t = tasks[i];
      if (t[3] < view.from || t[2] > view.to) continue;
      var x0 = Math.max(LEFT, xOf(t[2])), x1 = Math.min(width - RIGHT, xOf(t[3]));
      ctx.fillStyle = colours[t[1]];
      // Wide bars keep a pixel of space on their right, so neighbours show.
      var w = x1 - x0 >= 3 ? x1 - x0 - 1 : Math.max(1, x1 - x0);
      ctx.fillRect(x0, Math.min(t[4], lanes - 1) * LANE + GAP, w, LANE - 2 * GAP);
    }
    var y = lanes * LANE;
    ctx.fillStyle = "#999";
    ctx.fillRect(LEFT, y, width - LEFT - RIGHT, 1);
    ctx.fillStyle = "#444";
    ctx.textAlign = "center";
    barrow.ticks(view.from, view.to, 8).forEach(function (v) {
      var px = xOf(v);
      ctx.fillRect(px, y, 1, 4);
      ctx.fillText(barrow.time(v), px, y + 13);
    });
  }

  function taskAt(px, py) {
    var lane = Math.floor(py / LANE);
    if (lane < 0 || lane >= lanes || px < LEFT) return -1;
    var ids = byLane[lane], t = timeOf(px);
    var slack = (view.to - view.from) / plotWidth() * 2;
    var lo = 0, hi = ids.length - 1, found = -1;
    while (lo <= hi) {
      var mid = (lo + hi) >> 1;
      if (tasks[ids[mid]][2] <= t + slack) { found = mid; lo = mid + 1; } else { hi = mid - 1; }
    }
    for (var k = found; k >= 0 && k > found - 64; k--) {
      if (tasks[ids[k]][3] + slack >= t) return ids[k];
    }
    return -1;
  }

  var drag = null;
  var canvas = chart.canvas;
  canvas.addEventListener("mousemove", function (e) {
    var r = canvas.getBoundingClientRect(), px = e.clientX - r.left, py = e.clientY - r.top;
    if (drag) {
      var shift = (drag.x - px) / plotWidth() * (drag.to - drag.from);
      shift = Math.max(-drag.from, Math.min(total - drag.to, shift));
      view.from = drag.from + shift;
      view.to = drag.to + shift;
      chart.redraw();
      return;
    }
    var i = taskAt(px, py);
    if (i < 0) { barrow.hideTip(); return; }
    var t = tasks[i];
    barrow.showTip(e, t[0] + "\n" + names[t[1]] + "\n" + barrow.time(t[3] - t[2]) +
      "  (" + barrow.time(t[2]) + " to " + barrow.time(t[3]) + ", worker " + t[4] + ")");
  });
  canvas.addEventListener("mouseleave", function () { drag = null; barrow.hideTip(); });
  canvas.addEventListener("mousedown", function (e) {
    var r = canvas.getBoundingClientRect();
    drag = { x: e.clientX - r.left, from: view.from, to: view.to };
  });
  window.addEventListener("mouseup", function () { drag = null; });
  canvas.addEventListener("dblclick", function () { view.from = 0; view.to = total; chart.redraw(); });
  canvas.addEventListener("wheel", function (e) {
    e.preventDefault();
    var r = canvas.getBoundingClientRect(), at = timeOf(e.clientX - r.left);
    var factor = Math.exp(Math.max(-1, Math.min(1, e.deltaY * 0.002)));
    var span = Math.max(10, Math.min(total, (view.to - view.from) * factor));
    var from = at - (at - view.from) * span / (view.to - view.from);
    view.from = Math.max(0, Math.min(total - span, from));
    view.to = view.from + span;
    chart.redraw();
  }, { passive: false });

  // Legend: each function with its task count and total time, busiest first.
  var count = names.map(function () { return 0; }), busy = names.map(function () { return 0; });
  tasks.forEach(function (t) { count[t[1]] += 1; busy[t[1]] += t[3] - t[2]; });
  barrow.legend(names.map(function (name, i) { return i; })
    .sort(function (a, b) { return busy[b] - busy[a]; })
    .map(function (i) {
      return { colour: colours[i], text: names[i] + " (" + count[i] + " tasks, " + barrow.time(busy[i]) + ")" };
    }));
  chart.redraw();
})();
