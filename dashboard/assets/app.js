// Barrow's status page: vanilla JS and a canvas, embedded in the binary.
// It keeps what the server sent (rectangles up to the ring's capacity,
// the latest workers and progress) and redraws at most every 100 ms, and
// only when something changed.
"use strict";

(function () {
  const REDRAW_MS = 100;
  const POLL_MS = 500;
  const MAX_EVENTS = 200;
  const MAX_PREFIXES = 100;
  const LANE_PX = 14;
  const LABEL_PX = 90;
  const AXIS_PX = 18;
  const DEFAULT_WINDOW_MS = 10000;

  const $ = (id) => document.getElementById(id);
  const canvas = $("task-stream");
  const tooltip = $("tooltip");
  const ctx = canvas.getContext("2d");
  let pointer = null; // where the mouse is over the task stream, if it is

  // What the page knows.
  const state = {
    rects: [],          // oldest first
    received: 0,        // rectangles received so far
    capacity: 100000,
    snapshot: null,
    colours: {},        // prefix -> colour
    palette: null,
    cursor: { stream: 0, events: 0 },
    windowMs: null,     // null: follow the latest, with the default window
    dirty: { stream: false, panels: false },
    lanes: [],          // [{worker, lane, y, label}] as last drawn
    view: null,         // {start, end, x0, width} as last drawn
  };

  // Pass the token on to our own requests when the page was opened with
  // one (the server also set a cookie; this covers browsers that drop it).
  const token = new URLSearchParams(location.search).get("token");
  function api(path, params) {
    const q = new URLSearchParams(params);
    if (token) q.set("token", token);
    return path + "?" + q.toString();
  }

  // ---- formatting ----
  function bytes(n) {
    if (!n) return "0 B";
    const units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return (i === 0 ? n.toFixed(0) : n.toFixed(n < 10 ? 2 : 1)) + " " + units[i];
  }
  function ms(n) {
    if (n < 1) return n.toFixed(3) + " ms";
    if (n < 1000) return n.toFixed(1) + " ms";
    return (n / 1000).toFixed(2) + " s";
  }
  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  // ---- applying a snapshot ----
  function apply(snap) {
    state.snapshot = snap;
    state.palette = snap.palette;
    Object.assign(state.colours, snap.palette.prefixes);
    state.capacity = snap.stream_capacity || state.capacity;
    state.cursor = snap.cursor;
    const fresh = snap.stream.rects;
    if (fresh.length) {
      for (const r of fresh) state.rects.push(r);
      state.received += fresh.length;
      // Trim in chunks: one copy per tenth of the capacity, not per event.
      if (state.rects.length > state.capacity * 1.1) {
        state.rects.splice(0, state.rects.length - state.capacity);
      }
      state.dirty.stream = true;
    }
    if (snap.events.length) addEvents(snap.events);
    state.dirty.panels = true;
    schedule();
  }

  // ---- redraw scheduling: at most every REDRAW_MS, only when dirty ----
  let timer = null;
  let lastDraw = 0;
  function schedule() {
    if (timer !== null) return;
    const wait = Math.max(0, lastDraw + REDRAW_MS - performance.now());
    timer = setTimeout(() => {
      timer = null;
      if (document.hidden) return; // drawn again when visible
      lastDraw = performance.now();
      render();
    }, wait);
  }
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden) { state.dirty.stream = true; state.dirty.panels = true; schedule(); }
  });
  window.addEventListener("resize", () => { state.dirty.stream = true; schedule(); });

  function render() {
    if (state.dirty.panels && state.snapshot) {
      state.dirty.panels = false;
      renderHeader(state.snapshot);
      renderMemory(state.snapshot);
      renderProgress(state.snapshot);
      renderWorkers(state.snapshot);
    }
    if (state.dirty.stream) {
      state.dirty.stream = false;
      renderStream();
    }
  }

  function renderHeader(snap) {
    $("title").textContent = snap.title;
    $("run-state").textContent = snap.finished ? "finished" : (snap.overall.processing ? "running" : "");
    document.body.dataset.finished = String(snap.finished);
  }

  // ---- memory bars ----
  function memoryBar(row, m, colour, thresholds, scale) {
    const pal = state.palette;
    const fill = pal.memory[colour] || "#1f77b4";
    const total = Math.max(scale, 1);
    const segs = [
      ["managed", m.managed, fill, pal.alpha["managed"]],
      ["unmanaged-old", m.unmanaged_old, fill, pal.alpha["unmanaged-old"]],
      ["unmanaged-recent", m.unmanaged_recent, fill, pal.alpha["unmanaged-recent"]],
      ["spilled", m.spilled, "#999999", pal.alpha["spilled"]],
    ];
    let bar = row.querySelector(".bar");
    if (!bar) {
      row.appendChild(el("span", "name"));
      bar = el("div", "bar");
      for (const [name] of segs) bar.appendChild(el("div", "seg " + name));
      for (const t of ["target", "spill", "pause", "terminate"]) bar.appendChild(el("div", "tick " + t));
      row.appendChild(bar);
      row.appendChild(el("span", "label"));
    }
    let left = 0;
    for (const [name, n, c, a] of segs) {
      const seg = bar.querySelector(".seg." + name);
      const w = (100 * n) / total;
      seg.style.left = left + "%";
      seg.style.width = w + "%";
      seg.style.background = c;
      seg.style.opacity = a;
      left += w;
    }
    for (const t of ["target", "spill", "pause", "terminate"]) {
      const tick = bar.querySelector(".tick." + t);
      const share = thresholds[t];
      const on = m.limit > 0 && share > 0;
      tick.hidden = !on;
      if (on) tick.style.left = Math.min(100, (100 * share * m.limit) / total) + "%";
      tick.title = t + " " + Math.round(share * 100) + "%";
    }
    const shown = m.process || m.managed + m.unmanaged_old + m.unmanaged_recent;
    row.querySelector(".label").textContent =
      bytes(shown) + (m.limit ? " / " + bytes(m.limit) : "") + (m.spilled ? " + " + bytes(m.spilled) + " spilled" : "");
    row.dataset.managed = m.managed;
    row.dataset.spilled = m.spilled;
    row.dataset.process = m.process;
    row.dataset.limit = m.limit;
    row.dataset.colour = colour;
  }

  function barScale(m) {
    const used = m.managed + m.unmanaged_old + m.unmanaged_recent + m.spilled;
    return Math.max(m.limit || 0, used, m.process || 0);
  }

  function renderMemory(snap) {
    const cluster = $("cluster-memory");
    memoryBar(cluster, snap.cluster_memory, snap.cluster_colour, snap.thresholds, barScale(snap.cluster_memory));
    cluster.querySelector(".name").textContent = "total (" + snap.workers.length + ")";
    const box = $("workers-memory");
    const seen = new Set();
    for (const w of snap.workers) {
      seen.add(w.name);
      let row = box.querySelector('.worker[data-name="' + CSS.escape(w.name) + '"]');
      if (!row) {
        row = el("div", "worker");
        row.dataset.name = w.name;
        box.appendChild(row);
      }
      memoryBar(row, w.memory, w.colour, snap.thresholds, barScale(w.memory));
      const name = row.querySelector(".name");
      name.textContent = w.name;
      name.title = w.address || w.name;
    }
    for (const row of Array.from(box.children)) {
      if (!seen.has(row.dataset.name)) row.remove();
    }
  }

  // ---- progress ----
  function renderProgress(snap) {
    const o = snap.overall;
    const fraction = o.all === 0 ? 1 : Math.min(1, (o.done + o.failed) / o.all);
    const overall = $("overall");
    overall.dataset.done = o.done;
    overall.dataset.all = o.all;
    overall.dataset.failed = o.failed;
    overall.dataset.fraction = String(fraction);
    overall.textContent = o.done + " / " + o.all + " tasks (" + (100 * fraction).toFixed(1) + "%)" +
      (o.failed ? ", " + o.failed + " failed" : "");
    const box = $("progress");
    const rows = snap.progress.slice(0, MAX_PREFIXES);
    while (box.children.length > rows.length) box.lastChild.remove();
    rows.forEach((p, i) => {
      let row = box.children[i];
      if (!row) {
        row = el("div", "prefix");
        row.appendChild(el("span", "name"));
        const bar = el("div", "bar");
        for (const s of ["released", "memory", "processing", "failed"]) bar.appendChild(el("div", "seg " + s));
        row.appendChild(bar);
        row.appendChild(el("span", "counts"));
        box.appendChild(row);
      }
      row.dataset.prefix = p.prefix;
      row.dataset.done = p.done;
      row.dataset.all = p.all;
      row.querySelector(".name").textContent = p.prefix;
      const colour = state.colours[p.prefix] || "#1f77b4";
      const all = Math.max(p.all, 1);
      const released = Math.max(0, p.done - p.memory);
      let left = 0;
      for (const [s, n, c, a] of [
        ["released", released, colour, 0.55],
        ["memory", p.memory, colour, 1],
        ["processing", p.processing, colour, 0.25],
        ["failed", p.failed, state.palette.failed, 1],
      ]) {
        const seg = row.querySelector(".seg." + s);
        const w = (100 * n) / all;
        seg.style.left = left + "%";
        seg.style.width = w + "%";
        seg.style.background = c;
        seg.style.opacity = a;
        left += w;
      }
      const parts = [p.done + "/" + p.all];
      if (p.memory) parts.push("mem " + p.memory);
      if (p.processing) parts.push("proc " + p.processing);
      if (p.waiting) parts.push("wait " + p.waiting);
      if (p.queued) parts.push("queued " + p.queued);
      if (p.failed) parts.push("failed " + p.failed);
      row.querySelector(".counts").textContent = parts.join(" · ");
    });
  }

  // ---- workers table ----
  function renderWorkers(snap) {
    const body = $("workers").tBodies[0];
    while (body.rows.length > snap.workers.length) body.deleteRow(-1);
    snap.workers.forEach((w, i) => {
      const row = body.rows[i] || body.insertRow();
      while (row.cells.length < 7) row.insertCell();
      const m = w.memory;
      const cells = [
        w.address ? w.name + " (" + w.address + ")" : w.name,
        String(w.threads),
        w.status,
        bytes(m.process || m.managed) + (m.limit ? " / " + bytes(m.limit) : ""),
        String(w.processing),
        w.cpu == null ? "–" : Math.round(w.cpu) + "%",
        (w.last_seen_ms / 1000).toFixed(1) + " s ago",
      ];
      cells.forEach((text, j) => { if (row.cells[j].textContent !== text) row.cells[j].textContent = text; });
      row.dataset.name = w.name;
    });
  }

  // ---- events ----
  function addEvents(events) {
    const list = $("events");
    for (const e of events) {
      const li = el("li");
      li.dataset.kind = e.kind;
      if (e.key) li.dataset.key = e.key;
      li.appendChild(el("time", "", (e.at_ms / 1000).toFixed(2) + " s"));
      li.appendChild(el("span", "kind", e.kind));
      const what = [e.key, e.worker && "on " + e.worker].filter(Boolean).join(" ");
      if (what) li.appendChild(el("span", "what", what));
      li.appendChild(el("span", "text", e.text));
      list.insertBefore(li, list.firstChild);
    }
    while (list.children.length > MAX_EVENTS) list.lastChild.remove();
  }

  // ---- task stream ----
  function lanesOf(snap) {
    // Workers in the snapshot's order (by name), then any only rectangles
    // still name; each gets its threads' lanes, then transfer and disk
    // lanes when it has such rectangles.
    const threads = new Map();
    for (const w of snap.workers) threads.set(w.name, Math.max(1, w.threads));
    const extra = new Map();
    for (const r of state.rects) {
      if (!threads.has(r.worker)) {
        threads.set(r.worker, 1);
      }
      if (r.activity !== "compute") {
        const x = extra.get(r.worker) || { transfer: false, disk: false };
        if (r.activity === "transfer") x.transfer = true; else x.disk = true;
        extra.set(r.worker, x);
      }
    }
    const lanes = [];
    for (const [worker, n] of threads) {
      for (let t = 0; t < n; t++) lanes.push({ worker, lane: t, label: t === 0 ? worker : "" });
      const x = extra.get(worker);
      if (x && x.transfer) lanes.push({ worker, lane: n, label: "transfer" });
      if (x && x.disk) lanes.push({ worker, lane: n + 1, label: "disk" });
    }
    return { lanes, threads };
  }

  // TaskStream::lane, on the page.
  function laneOf(r, threads) {
    if (r.activity === "compute") return Math.min(r.thread, threads - 1);
    if (r.activity === "transfer") return threads;
    return threads + 1;
  }

  function rectColour(r) {
    const pal = state.palette;
    if (r.activity === "transfer") return [pal.transfer, 0.4];
    if (r.activity === "disk-read" || r.activity === "disk-write") return [pal.disk, 1];
    if (r.failed) return [pal.failed, 1];
    return [state.colours[r.prefix] || "#1f77b4", 1];
  }

  function renderStream() {
    const snap = state.snapshot;
    canvas.dataset.rects = String(state.received);
    if (!snap) return;
    const { lanes, threads } = lanesOf(snap);
    const dpr = window.devicePixelRatio || 1;
    const cssWidth = canvas.clientWidth || 800;
    const cssHeight = Math.max(60, lanes.length * LANE_PX + AXIS_PX + 4);
    if (canvas.width !== Math.round(cssWidth * dpr) || canvas.height !== Math.round(cssHeight * dpr)) {
      canvas.width = Math.round(cssWidth * dpr);
      canvas.height = Math.round(cssHeight * dpr);
      canvas.style.height = cssHeight + "px";
    }
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, cssWidth, cssHeight);
    const index = new Map();
    lanes.forEach((l, i) => { index.set(l.worker + "\u0000" + l.lane, i); l.y = i * LANE_PX; });
    state.lanes = lanes;

    // The window: the latest data, over windowMs (or all of it if shorter).
    let last = 0;
    let first = Infinity;
    for (const r of state.rects) {
      if (r.start_ms < first) first = r.start_ms;
      const end = r.start_ms + r.duration_ms;
      if (end > last) last = end;
    }
    if (!snap.finished && state.rects.length) last = Math.max(last, Math.min(snap.now_ms, last + 1000));
    if (!isFinite(first)) first = 0;
    const span = state.windowMs === null ? DEFAULT_WINDOW_MS : state.windowMs;
    const start = Math.max(first, last - span);
    const end = Math.max(last, start + 1);
    const x0 = LABEL_PX;
    const width = Math.max(10, cssWidth - x0 - 4);
    const scale = width / (end - start);
    state.view = { start, end, x0, width, threads };

    // Lane backgrounds and labels.
    ctx.font = "11px system-ui, sans-serif";
    ctx.textBaseline = "middle";
    lanes.forEach((l, i) => {
      if (i % 2) { ctx.fillStyle = "#f4f4f4"; ctx.fillRect(x0, l.y, width, LANE_PX); }
      if (l.label) {
        ctx.fillStyle = "#555";
        ctx.fillText(l.label.length > 14 ? l.label.slice(0, 13) + "…" : l.label, 2, l.y + LANE_PX / 2);
      }
    });

    let drawn = 0;
    let style = "";
    let alpha = 1;
    for (const r of state.rects) {
      const rEnd = r.start_ms + r.duration_ms;
      if (rEnd < start || r.start_ms > end) continue;
      const n = threads.get(r.worker) || 1;
      const i = index.get(r.worker + "\u0000" + laneOf(r, n));
      if (i === undefined) continue;
      const [c, a] = rectColour(r);
      if (c !== style) { ctx.fillStyle = c; style = c; }
      if (a !== alpha) { ctx.globalAlpha = a; alpha = a; }
      // Whole pixels: sub-pixel edges would blend neighbours' colours.
      const x = Math.floor(x0 + (Math.max(r.start_ms, start) - start) * scale);
      const w = Math.max(1, Math.round((Math.min(rEnd, end) - Math.max(r.start_ms, start)) * scale));
      ctx.fillRect(x, lanes[i].y + 1, w, LANE_PX - 2);
      drawn++;
    }
    ctx.globalAlpha = 1;
    canvas.dataset.visible = String(drawn);
    // The view moved under a still pointer: name what is under it now.
    if (pointer) hover(pointer.x, pointer.y);

    // Time axis, in seconds since the feed began.
    const axisY = lanes.length * LANE_PX + 2;
    ctx.fillStyle = "#555";
    ctx.fillRect(x0, axisY, width, 1);
    const stepMs = niceStep((end - start) / 8);
    for (let t = Math.ceil(start / stepMs) * stepMs; t <= end; t += stepMs) {
      const x = x0 + (t - start) * scale;
      ctx.fillRect(x, axisY, 1, 4);
      ctx.fillText((t / 1000).toFixed(stepMs < 1000 ? (stepMs < 100 ? 2 : 1) : 0) + " s", x + 2, axisY + 10);
    }
  }

  function niceStep(raw) {
    const p = Math.pow(10, Math.floor(Math.log10(Math.max(raw, 1e-3))));
    for (const m of [1, 2, 5, 10]) if (raw <= m * p) return m * p;
    return 10 * p;
  }

  // Zoom with the wheel, follow the latest again on double-click.
  canvas.addEventListener("wheel", (e) => {
    e.preventDefault();
    const v = state.view;
    const current = v ? v.end - v.start : DEFAULT_WINDOW_MS;
    const next = current * (e.deltaY > 0 ? 1.25 : 0.8);
    state.windowMs = Math.min(3600e3, Math.max(10, next));
    state.dirty.stream = true;
    schedule();
  }, { passive: false });
  canvas.addEventListener("dblclick", () => {
    state.windowMs = null;
    state.dirty.stream = true;
    schedule();
  });

  // Hover: the rectangle under the pointer (looked up once per frame).
  let hoverFrame = null;
  canvas.addEventListener("mousemove", (e) => {
    pointer = { x: e.offsetX, y: e.offsetY };
    if (hoverFrame !== null) return;
    hoverFrame = requestAnimationFrame(() => { hoverFrame = null; if (pointer) hover(pointer.x, pointer.y); });
  });
  canvas.addEventListener("mouseleave", () => { pointer = null; tooltip.hidden = true; });

  function hover(x, y) {
    const v = state.view;
    const lane = state.lanes[Math.floor(y / LANE_PX)];
    if (!v || !lane || x < v.x0) { tooltip.hidden = true; return; }
    const t = v.start + ((x - v.x0) * (v.end - v.start)) / v.width;
    const slack = (2 * (v.end - v.start)) / v.width; // 2 px, for thin rectangles
    for (let i = state.rects.length - 1; i >= 0; i--) {
      const r = state.rects[i];
      if (r.worker !== lane.worker) continue;
      if (laneOf(r, v.threads.get(r.worker) || 1) !== lane.lane) continue;
      if (t < r.start_ms - slack || t > r.start_ms + r.duration_ms + slack) continue;
      tooltip.textContent =
        r.key + "\n" +
        (r.function ? "function: " + r.function + "\n" : "") +
        "worker: " + r.worker + (r.activity === "compute" ? ", thread " + r.thread : "") + "\n" +
        r.activity + (r.failed ? " (failed)" : "") + ": " + ms(r.duration_ms);
      tooltip.style.left = Math.min(x + 12, canvas.clientWidth - 260) + "px";
      tooltip.style.top = y + 12 + "px";
      tooltip.hidden = false;
      return;
    }
    tooltip.hidden = true;
  }

  // ---- the connection: server-sent events, else polling ----
  const connection = $("connection");
  function status(s, text) { connection.dataset.state = s; connection.textContent = text; }

  let polling = false;
  function poll() {
    polling = true;
    status("polling", "polling");
    fetch(api("/api/v1/snapshot", { stream: state.cursor.stream, events: state.cursor.events }), { cache: "no-store" })
      .then((r) => (r.ok ? r.json() : Promise.reject(new Error("HTTP " + r.status))))
      .then((snap) => { apply(snap); setTimeout(poll, POLL_MS); })
      .catch(() => { status("lost", "no connection"); setTimeout(poll, 4 * POLL_MS); });
  }

  function subscribe() {
    if (typeof EventSource === "undefined") { poll(); return; }
    const source = new EventSource(api("/api/v1/stream", { stream: 0, events: 0 }));
    let heard = false;
    source.onmessage = (e) => {
      heard = true;
      status("live", "live");
      let snap;
      try { snap = JSON.parse(e.data); } catch (err) { return; }
      apply(snap);
    };
    source.onerror = () => {
      if (!heard) {
        // Never got through (a proxy that buffers, no EventSource): poll.
        source.close();
        if (!polling) poll();
      } else {
        status("lost", "reconnecting…");
      }
    };
  }

  subscribe();
})();
