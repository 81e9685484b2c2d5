// spatialgan studio page: keeps the latent history (undo/redo) and the view; the server is stateless.
const $ = (id) => document.getElementById(id);
const state = { models: {}, history: [], index: -1, selected: new Set(), view: { cx: 0, cy: 0, scale: 1 },
                resamples: 0, renders: 0 };

function current() { return state.history[state.index]; }
function model() { return state.models[$("model").value]; }
function truncation() { return parseFloat($("truncation").value); }
function showError(text) { $("error").textContent = text || ""; }

async function api(path, body, binary = false, tries = 3) {
  const res = await fetch(path, { method: "POST", headers: { "Content-Type": "application/json" },
                                  body: JSON.stringify(body) });
  if (res.status === 503 && tries > 1) {     // the model's queue is full: wait as the server asks, then retry
    const seconds = parseFloat(res.headers.get("Retry-After") || "1");
    await new Promise((done) => setTimeout(done, 1000 * Math.min(seconds, 10)));
    return api(path, body, binary, tries - 1);
  }
  if (!res.ok) {
    let message = res.statusText;
    try { message = (await res.json()).error || message; } catch (e) { /* not JSON */ }
    throw new Error(`${res.status}: ${message}`);
  }
  return binary ? res.blob() : res.json();
}

function push(entry) {
  state.history = state.history.slice(0, state.index + 1);
  state.history.push(entry);
  state.index = state.history.length - 1;
  show();
}

function show() {
  const entry = current();
  $("undo").disabled = state.index <= 0;
  $("redo").disabled = state.index >= state.history.length - 1;
  if (!entry) return;
  $("main").src = "data:image/png;base64," + entry.image;
  drawOverlay();
  if (can(model(), "any_region")) renderView();
}

// What a model can do comes from the server (its spec's capabilities), never from its name.
function can(m, capability) { return (m.capabilities || []).includes(capability); }

function drawOverlay() {
  const m = model(), canvas = $("overlay"), ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  if (!can(m, "resample_blocks")) return;
  const [rows, cols] = m.grid, h = canvas.height / rows, w = canvas.width / cols;
  ctx.strokeStyle = "rgba(255,255,255,0.8)";
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) {
    if (state.selected.has(`${r},${c}`)) { ctx.fillStyle = "rgba(255,40,40,0.35)"; ctx.fillRect(c * w, r * h, w, h); }
    ctx.strokeRect(c * w + 0.5, r * h + 0.5, w - 1, h - 1);
  }
}

async function sample() {
  showError();
  try {
    const seed = parseInt($("seed").value || "0", 10), name = $("model").value;
    const out = await api("/api/sample", { model: name, seed, truncation: truncation() });
    if ($("model").value !== name) return;      // the user switched models meanwhile: not this history's latent
    state.selected.clear();
    state.resamples = 0;
    $("strip").innerHTML = "";
    push(out);
  } catch (e) { showError(e.message); }
}

async function resample() {
  showError();
  const blocks = [...state.selected].map((s) => s.split(",").map(Number));
  // Reproducible draws: the n-th resample after sampling seed s uses seed s * 1009 + n.
  const seed = parseInt($("seed").value || "0", 10) * 1009 + state.resamples++;
  const name = $("model").value, entry = current();
  if (!entry) return;
  try {
    const out = await api("/api/resample", { model: name, latent: entry.latent, blocks,
      count: parseInt($("count").value, 10), seed, truncation: truncation() });
    if ($("model").value !== name) return;
    const strip = $("strip");
    strip.innerHTML = "";
    out.results.forEach((r, k) => {
      const img = document.createElement("img");
      img.src = "data:image/png;base64," + r.image;
      img.className = "choice";
      img.title = `version ${k + 1}: click to keep`;
      img.onclick = () => push(r);
      strip.appendChild(img);
    });
  } catch (e) { showError(e.message); }
}

// Pixels per frame height to render at: the view's own, or with "trained scales" ticked (the default) the nearest
// density the model was trained at; the browser then stretches the render to the view.
function viewDensity(m, height) {
  const own = height / state.view.scale;
  if (!$("trained-scales").checked || !m.densities) return own;
  const [lo, hi] = m.densities;
  return Math.min(Math.max(own, lo), hi);
}

async function renderView() {
  const entry = current();
  if (!entry) return;               // no sample yet (one is on its way): show() renders the view when it lands
  const ticket = ++state.renders;   // only the newest request's answer is shown, whatever order they land in
  const [width, height] = $("view-size").value.split("x").map(Number);
  const v = state.view, m = model(), density = viewDensity(m, height);
  // The region is v.scale frame heights tall; render it at `density`, within the server's pixel cap.
  let rh = Math.max(1, Math.round(density * v.scale)), rw = Math.max(1, Math.round(rh * width / height));
  if (rw * rh > state.maxPixels) {
    const k = Math.sqrt(state.maxPixels / (rw * rh));
    rw = Math.max(1, Math.floor(rw * k)); rh = Math.max(1, Math.floor(rh * k));
  }
  const scale = v.scale * m.resolution / rh;    // the render's pixel in trained pixels (one is 2 / resolution)
  try {
    const blob = await api("/api/render", { model: m.name, latent: entry.latent, width: rw, height: rh,
                                            center: [v.cx, v.cy], scale, truncation: truncation() }, true);
    if (ticket !== state.renders) return;
    const img = $("view"), old = img.src;
    img.src = URL.createObjectURL(blob);
    img.style.width = `${width}px`; img.style.height = `${height}px`;
    if (old.startsWith("blob:")) URL.revokeObjectURL(old);
    const [lo, hi] = m.densities || [m.resolution, m.resolution];
    const trained = density >= lo - 1e-6 && density <= hi + 1e-6 ? "" : ", outside its training";
    $("view-state").textContent = `centre (${v.cx.toFixed(3)}, ${v.cy.toFixed(3)}), zoom ${(1 / v.scale).toFixed(2)}x, `
      + `${rw}x${rh} px at ${(density / m.resolution).toFixed(2)}x the trained pixel density${trained}`;
  } catch (e) { showError(e.message); }
}

function pan(dx, dy) {
  const m = model(), v = state.view;
  v.cx += dx * v.scale; v.cy += dy * v.scale;
  if (m.panorama_frames) {   // the cylinder wraps: keep x within one turn
    const turn = 2 * m.panorama_frames;
    v.cx = ((v.cx + m.panorama_frames) % turn + turn) % turn - m.panorama_frames;
  }
  renderView();
}
function zoom(factor) { state.view.scale *= factor; renderView(); }

function selectModel() {
  const m = model();
  $("ssn-panel").classList.toggle("hidden", can(m, "any_region"));
  $("view-panel").classList.toggle("hidden", !can(m, "any_region"));
  $("resample").disabled = !can(m, "resample_blocks");
  if (m.panorama_frames) $("view-size").value = "512x128";
  state.history = []; state.index = -1; state.view = { cx: 0, cy: 0, scale: 1 };
  sample();
}

function download(blob, name) {
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob); a.download = name; a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

async function init() {
  const info = await (await fetch("/api/models")).json();
  state.maxPixels = info.max_pixels;
  for (const m of info.models) {
    state.models[m.name] = m;
    const opt = document.createElement("option");
    opt.value = m.name; opt.textContent = `${m.name} (${m.kind}, ${m.resolution}px)`;
    $("model").appendChild(opt);
  }
  $("model").onchange = selectModel;
  $("sample").onclick = sample;
  $("resample").onclick = resample;
  $("clear").onclick = () => { state.selected.clear(); drawOverlay(); };
  $("undo").onclick = () => { if (state.index > 0) { state.index--; show(); } };
  $("redo").onclick = () => { if (state.index < state.history.length - 1) { state.index++; show(); } };
  $("truncation").oninput = () => { $("truncation-value").textContent = truncation().toFixed(2); };
  $("truncation").onchange = sample;
  $("overlay").onclick = (ev) => {
    const m = model(); if (!can(m, "resample_blocks")) return;
    const rect = ev.target.getBoundingClientRect();
    const r = Math.floor((ev.clientY - rect.top) / rect.height * m.grid[0]);
    const c = Math.floor((ev.clientX - rect.left) / rect.width * m.grid[1]);
    const key = `${r},${c}`;
    state.selected.has(key) ? state.selected.delete(key) : state.selected.add(key);
    drawOverlay();
  };
  $("zoom-in").onclick = () => zoom(0.5);
  $("zoom-out").onclick = () => zoom(2);
  $("pan-left").onclick = () => pan(-0.25, 0);
  $("pan-right").onclick = () => pan(0.25, 0);
  $("pan-up").onclick = () => pan(0, -0.25);
  $("pan-down").onclick = () => pan(0, 0.25);
  $("reset-view").onclick = () => { state.view = { cx: 0, cy: 0, scale: 1 }; renderView(); };
  $("view-size").onchange = renderView;
  $("trained-scales").onchange = renderView;
  $("view").onwheel = (ev) => { ev.preventDefault(); zoom(ev.deltaY > 0 ? 1.25 : 0.8); };
  let drag = null;
  $("view").onmousedown = (ev) => { drag = [ev.clientX, ev.clientY]; };
  window.onmouseup = (ev) => {
    if (!drag) return;
    const img = $("view"), dx = ev.clientX - drag[0], dy = ev.clientY - drag[1];
    drag = null;
    if (Math.abs(dx) + Math.abs(dy) < 3) return;
    // One view height spans 2 image units at scale 1.
    pan(-dx / img.clientHeight * 2, -dy / img.clientHeight * 2);
  };
  $("download-png").onclick = async () => {
    const m = model();
    if (can(m, "any_region") && $("view").src) {
      download(await (await fetch($("view").src)).blob(), `${m.name}-view.png`);
    } else if (current()) {
      download(await (await fetch($("main").src)).blob(), `${m.name}-seed${$("seed").value}.png`);
    }
  };
  $("download-latent").onclick = async () => {
    try {
      download(await api("/api/latent", { model: $("model").value, latent: current().latent,
                                          truncation: truncation() }, true), `${$("model").value}-latent.safetensors`);
    } catch (e) { showError(e.message); }
  };
  selectModel();
}
init();
