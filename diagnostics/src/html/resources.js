// The resource charts: CPU use, and memory (RSS, unmanaged, the store),
// sampled over the computation. Hovering shows the nearest sample.
(function () {
  "use strict";
  var samples = barrow.data.samples; // [time µs, cpu % or null, rss or null, store bytes, unmanaged or null]
  var LEFT = 76, RIGHT = 10, TOP = 8, AXIS = 24, HEIGHT = 180;
  var total = 1;
  samples.forEach(function (s) { if (s[0] > total) total = s[0]; });

  // `unit` scales the value axis so its ticks are round in that unit.
  function lineChart(title, series, format, unit) {
    var top = 1;
    samples.forEach(function (s) {
      series.forEach(function (line) { if (s[line.index] !== null && s[line.index] > top) top = s[line.index]; });
    });
    top *= 1.05;
    var chart = barrow.canvas(title, HEIGHT, function (ctx, width) {
      var plotW = width - LEFT - RIGHT, plotH = HEIGHT - TOP - AXIS;
      function x(t) { return LEFT + t / total * plotW; }
      function y(v) { return TOP + plotH - v / top * plotH; }
      ctx.fillStyle = "#f6f6f6";
      ctx.fillRect(LEFT, TOP, plotW, plotH);
      ctx.fillStyle = "#444";
      ctx.textAlign = "right";
      var scale = unit ? unit(top) : 1;
      barrow.ticks(0, top / scale, 4).map(function (v) { return v * scale; }).forEach(function (v) {
        ctx.fillStyle = "#ddd";
        ctx.fillRect(LEFT, Math.round(y(v)), plotW, 1);
        ctx.fillStyle = "#444";
        ctx.fillText(format(v, top), LEFT - 6, y(v));
      });
      ctx.textAlign = "center";
      barrow.ticks(0, total, 8).forEach(function (v) {
        ctx.fillRect(x(v), TOP + plotH, 1, 4);
        ctx.fillText(barrow.time(v), x(v), TOP + plotH + 13);
      });
      series.forEach(function (line) {
        ctx.strokeStyle = line.colour;
        ctx.lineWidth = 1.5;
        ctx.beginPath();
        var pen = false;
        samples.forEach(function (s) {
          var v = s[line.index];
          if (v === null) { pen = false; return; }
          if (pen) ctx.lineTo(x(s[0]), y(v)); else ctx.moveTo(x(s[0]), y(v));
          pen = true;
        });
        ctx.stroke();
      });
    });
    chart.canvas.addEventListener("mousemove", function (e) {
      if (!samples.length) return;
      var r = chart.canvas.getBoundingClientRect();
      var t = (e.clientX - r.left - LEFT) / (chart.width - LEFT - RIGHT) * total;
      var best = 0;
      samples.forEach(function (s, i) { if (Math.abs(s[0] - t) < Math.abs(samples[best][0] - t)) best = i; });
      var s = samples[best];
      barrow.showTip(e, "at " + barrow.time(s[0]) + "\n" + series.map(function (line) {
        return line.name + ": " + (s[line.index] === null ? "unknown" : format(s[line.index]));
      }).join("\n"));
    });
    chart.canvas.addEventListener("mouseleave", barrow.hideTip);
    chart.redraw();
  }

  var cpu = { name: "CPU", colour: "hsl(210, 70%, 45%)", index: 1 };
  var rss = { name: "RSS", colour: "hsl(0, 0%, 35%)", index: 2 };
  var store = { name: "in the store (managed)", colour: "hsl(130, 55%, 40%)", index: 3 };
  var unmanaged = { name: "unmanaged (RSS minus store)", colour: "hsl(15, 80%, 50%)", index: 4 };
  lineChart("CPU", [cpu], function (v) { return v.toFixed(0) + " %"; });
  lineChart("Memory", [rss, unmanaged, store], barrow.bytes, barrow.byteUnit);
  barrow.legend([cpu, rss, unmanaged, store].map(function (line) {
    return { colour: line.colour, text: line.name };
  }));
})();
