// Helpers shared by the timeline and the resource charts.
var barrow = (function () {
  "use strict";
  var tip = document.getElementById("tip");
  return {
    data: JSON.parse(document.getElementById("data").textContent),
    // A canvas of `height` CSS pixels filling its container's width, sharp on
    // high-density screens; `draw(ctx, width)` repaints it.
    canvas: function (title, height, draw) {
      var charts = document.getElementById("charts");
      if (title) {
        var h = document.createElement("h2");
        h.textContent = title;
        charts.appendChild(h);
      }
      var box = document.createElement("div");
      box.className = "chart";
      var canvas = document.createElement("canvas");
      box.appendChild(canvas);
      charts.appendChild(box);
      var ctx = canvas.getContext("2d");
      var chart = { canvas: canvas, ctx: ctx, width: 0, height: height };
      chart.redraw = function () {
        var dpr = window.devicePixelRatio || 1;
        chart.width = Math.max(200, box.clientWidth);
        canvas.width = Math.round(chart.width * dpr);
        canvas.height = Math.round(height * dpr);
        canvas.style.height = height + "px";
        ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
        ctx.clearRect(0, 0, chart.width, height);
        ctx.font = "11px system-ui, sans-serif";
        ctx.textBaseline = "middle";
        draw(ctx, chart.width);
      };
      window.addEventListener("resize", chart.redraw);
      return chart;
    },
    // Microseconds as "1.25 s", "3.10 ms" or "250 µs".
    // (Three decimals at most, trailing zeros dropped: "10 ms", "2.5 s".)
    time: function (us) {
      if (Math.abs(us) >= 1e6) return +(us / 1e6).toFixed(3) + " s";
      if (Math.abs(us) >= 1e3) return +(us / 1e3).toFixed(2) + " ms";
      return us.toFixed(0) + " µs";
    },
    // Bytes in the unit that suits `scale` (the largest value shown).
    bytes: function (b, scale) {
      var top = scale || b;
      if (top >= 1073741824) return +(b / 1073741824).toFixed(2) + " GiB";
      if (top >= 1048576) return +(b / 1048576).toFixed(1) + " MiB";
      if (top >= 1024) return +(b / 1024).toFixed(1) + " KiB";
      return b + " B";
    },
    // A power-of-1024 unit for byte axes, so ticks fall on round numbers.
    byteUnit: function (top) {
      if (top >= 1073741824) return 1073741824;
      if (top >= 1048576) return 1048576;
      return top >= 1024 ? 1024 : 1;
    },
    // Round tick positions between `from` and `to`, about `count` of them.
    ticks: function (from, to, count) {
      var span = to - from;
      if (!(span > 0)) return [from];
      var step = Math.pow(10, Math.floor(Math.log(span / count) / Math.LN10));
      if (span / step > count * 2) step *= 2;
      if (span / step > count * 2) step *= 2.5;
      var out = [];
      for (var v = Math.ceil(from / step) * step; v <= to + step * 1e-9; v += step) out.push(v);
      return out;
    },
    // Distinct, stable colours by index (golden-angle hues).
    colour: function (i) {
      return "hsl(" + ((i * 137.508) % 360).toFixed(1) + ", 62%, 55%)";
    },
    showTip: function (event, text) {
      tip.textContent = text;
      tip.style.display = "block";
      var x = event.clientX + 14, y = event.clientY + 14;
      if (x + tip.offsetWidth > window.innerWidth) x = event.clientX - tip.offsetWidth - 10;
      if (y + tip.offsetHeight > window.innerHeight) y = event.clientY - tip.offsetHeight - 10;
      tip.style.left = x + "px";
      tip.style.top = y + "px";
    },
    hideTip: function () {
      tip.style.display = "none";
    },
    legend: function (items) {
      var legend = document.getElementById("legend");
      items.forEach(function (item) {
        var span = document.createElement("span");
        var swatch = document.createElement("span");
        swatch.className = "swatch";
        swatch.style.background = item.colour;
        span.appendChild(swatch);
        span.appendChild(document.createTextNode(item.text));
        legend.appendChild(span);
      });
    }
  };
})();
