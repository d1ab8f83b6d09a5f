// koubai playground: the page only draws; the server trains (see koubai/playground/server.py).
// Plain JS, no library, no build step. Charts are SVG and canvas drawn here.
"use strict";

const T = {
  en: {
    title: "koubai playground", tagline: "Watch gradients vanish, layer by layer, and fix them.",
    train: "Train", pause: "Pause", step: "Step", reset: "Reset", iteration: "iteration",
    dataset: "data", depth: "hidden layers", width: "width", activation: "activation",
    init: "init", init_std: "gauss std", batchnorm: "batch norm", bn_convention: "BN convention",
    optimizer: "optimizer", lr: "learning rate", batch_size: "batch size", seed: "seed",
    compare: "compare", cmp_off: "off", cmp_relu: "sigmoid + gauss vs ReLU + He",
    cmp_bn: "without vs with batch norm", loss: "loss", accuracy: "accuracy (— test, ┄ train)",
    findings: "findings", grad_norm: "‖∂L/∂W‖ per layer (log)",
    update_ratio: "update ratio ‖ΔW‖/‖W‖ (log; ≈1e-3 is healthy)",
    sat_dead: "saturated (sigmoid/tanh) or dead (ReLU) share", histograms: "activations (histograms)",
    boundary: "decision boundary (test points)", layer: "layer", out: "out",
    no_findings: "No findings.", connecting: "connecting…", connected: "connected",
    training: "training", paused: "paused", disconnected: "disconnected: reload the page",
    widths: "widths", run: "run", test: "test", train_acc: "train",
    diverged: (d) => `Diverged: ${d.layer === "output" ? "the output layer" : "layer " + d.layer}`
      + `'s ${d.what === "loss" ? "loss" : d.what} became non-finite (NaN/∞) at iteration`
      + ` ${d.iteration}. Lower the learning rate and reset.`,
    capped: (n) => `Stopped at the limit of ${n} iterations: reset to train again.`,
    nonfinite: "non-finite",
    h_lang: "Switch the page to Japanese.",
    h_train: "Train continuously (or resume); the charts update about ten times a second.",
    h_pause: "Stop training; everything stays as it is.",
    h_step: "One training step (one mini-batch), then show everything.",
    h_reset: "Start the same setup again from fresh weights.",
    h_dataset: "What to learn: real digits (MNIST), clothes (Fashion-MNIST), or a 2-D toy whose decision boundary is drawn.",
    h_depth: "Number of hidden layers (1–20). Deep sigmoid nets are where gradients vanish.",
    h_width: "Units per hidden layer (2–512).",
    h_activation: "The nonlinearity. sigmoid′ ≤ 0.25, so each sigmoid layer shrinks the gradient at least 4×; ReLU′ is 1 where active.",
    h_init: "How the weights start. gauss: a fixed std; the course's \"xavier\" is √(1/n) (LeCun); Glorot is √(2/(n+m)); He is √(2/n), made for ReLU.",
    h_std: "Standard deviation of the gauss initializer (log scale). 0.01 is the course's: too small for deep nets.",
    h_batchnorm: "Normalize each hidden layer's inputs over the mini-batch (Ioffe & Szegedy 2015).",
    h_convention: "Batch norm's running averages and epsilon: the course's, PyTorch's or Keras's.",
    h_optimizer: "How gradients become updates: plain SGD, SGD with momentum 0.9, or Adam.",
    h_lr: "Step size (log scale, 1e-5 to 10). Too large diverges; watch for non-finite layers.",
    h_batch: "Samples per training step (1–1000).",
    h_seed: "Seed of the weights and of the batches: the same seed gives the same run.",
    h_compare: "Train a second network B beside A on the same batches: the seed note's comparisons.",
  },
  ja: {
    title: "koubai プレイグラウンド", tagline: "勾配が層ごとに消えていく様子を見て、直す。",
    train: "学習", pause: "一時停止", step: "1ステップ", reset: "リセット", iteration: "反復",
    dataset: "データ", depth: "隠れ層の数", width: "幅（ユニット数）", activation: "活性化関数",
    init: "重みの初期値", init_std: "ガウスの標準偏差", batchnorm: "バッチ正規化",
    bn_convention: "バッチ正規化の流儀", optimizer: "最適化手法", lr: "学習率",
    batch_size: "バッチサイズ", seed: "乱数シード", compare: "比較",
    cmp_off: "なし", cmp_relu: "シグモイド + ガウス 対 ReLU + He", cmp_bn: "バッチ正規化なし 対 あり",
    loss: "損失", accuracy: "正解率（— テスト、┄ 訓練）", findings: "診断",
    grad_norm: "層ごとの ‖∂L/∂W‖（対数）", update_ratio: "更新比 ‖ΔW‖/‖W‖（対数、1e-3 前後が健全）",
    sat_dead: "飽和（シグモイド/tanh）・死んだユニット（ReLU）の割合",
    histograms: "活性化の分布（ヒストグラム）", boundary: "決定境界（テスト点）", layer: "層",
    out: "出力", no_findings: "所見はありません。", connecting: "接続中…", connected: "接続済み",
    training: "学習中", paused: "停止中", disconnected: "切断されました：ページを再読み込みしてください",
    widths: "各層の幅", run: "ネットワーク", test: "テスト", train_acc: "訓練",
    diverged: (d) => `発散：${d.layer === "output" ? "出力層" : "第" + d.layer + "層"}が反復 ${d.iteration} で`
      + `非有限値（NaN/∞、${{ weights: "重み", output: "出力", loss: "損失" }[d.what] ?? d.what}）`
      + "になりました。学習率を下げてリセットしてください。",
    capped: (n) => `上限の ${n} 反復で停止しました。リセットすると再び学習できます。`,
    nonfinite: "非有限",
    h_lang: "ページを英語に切り替えます。",
    h_train: "連続して学習します（再開）。グラフは毎秒約10回更新されます。",
    h_pause: "学習を止めます。状態はそのまま残ります。",
    h_step: "1ステップ（ミニバッチ1つ）だけ学習し、すべてを表示します。",
    h_reset: "同じ設定で、新しい重みから学習し直します。",
    h_dataset: "学習するデータ：手書き数字（MNIST）、衣類（Fashion-MNIST）、または決定境界を描く2次元の例題。",
    h_depth: "隠れ層の数（1〜20）。深いシグモイドのネットワークで勾配が消失します。",
    h_width: "各隠れ層のユニット数（2〜512）。",
    h_activation: "非線形関数。シグモイドの導関数は最大 0.25 なので、層を通るたびに勾配は 1/4 以下に。ReLU の導関数は活性時 1。",
    h_init: "重みの初期値。ガウス：固定の標準偏差。講座の「Xavier」は √(1/n)（LeCun）、Glorot は √(2/(n+m))、He は √(2/n)（ReLU 向け）。",
    h_std: "ガウス初期化の標準偏差（対数目盛）。講座の 0.01 は深いネットワークには小さすぎます。",
    h_batchnorm: "各隠れ層の入力をミニバッチごとに正規化します（Ioffe & Szegedy 2015）。",
    h_convention: "バッチ正規化の移動平均と ε の流儀：講座、PyTorch、Keras。",
    h_optimizer: "勾配から更新を作る方法：SGD、モーメンタム 0.9 の SGD、Adam。",
    h_lr: "更新の大きさ（対数目盛、1e-5〜10）。大きすぎると発散します。",
    h_batch: "1ステップあたりのサンプル数（1〜1000）。",
    h_seed: "重みとバッチの乱数シード。同じシードなら同じ学習になります。",
    h_compare: "A の隣で2つ目のネットワーク B を同じバッチで学習します：元ノートの比較。",
  },
};

const COLORS = { A: "#1f6fb4", B: "#e0701a" };
const GRAD_DECADES = [-12, 1];   // the fixed log axis of the gradient bars: 1e-12 … 10
const RATIO_DECADES = [-8, 0];
const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
let lang = params.get("lang") === "ja" || params.get("lang") === "en"
  ? params.get("lang") : document.documentElement.dataset.defaultLang === "ja" ? "ja" : "en";
const t = (key, ...args) => {
  const v = T[lang][key] ?? T.en[key] ?? key;
  return typeof v === "function" ? v(...args) : v;
};

// ---- state <-> controls <-> URL ----------------------------------------------------------
const DEFAULTS = {
  dataset: "mnist-5k", hidden: [40, 20], activation: "sigmoid", init: "gauss", init_std: 0.01,
  batchnorm: false, bn_convention: "course", optimizer: "sgd", lr: 0.1, batch_size: 100, seed: 0,
  compare: "off",
};
let state = { ...DEFAULTS, hidden: [...DEFAULTS.hidden] };

function num(text, fallback) {
  const v = Number(text);
  return text !== null && text !== "" && Number.isFinite(v) ? v : fallback;
}

function readURL() {
  const p = params;
  const s = { ...state };
  if (p.has("dataset")) s.dataset = p.get("dataset");
  if (p.has("hidden")) {
    const h = p.get("hidden").split(",").map((x) => Number(x));
    if (h.length && h.every((x) => Number.isInteger(x))) s.hidden = h;
  }
  for (const k of ["activation", "init", "bn_convention", "optimizer", "compare"]) {
    if (p.has(k)) s[k] = p.get(k);
  }
  s.init_std = num(p.get("init_std"), s.init_std);
  s.lr = num(p.get("lr"), s.lr);
  s.batch_size = num(p.get("batch_size"), s.batch_size);
  s.seed = num(p.get("seed"), s.seed);
  if (p.has("batchnorm")) s.batchnorm = p.get("batchnorm") === "1" || p.get("batchnorm") === "true";
  state = s;
}

function writeURL() {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(state)) {
    if (k === "hidden") p.set(k, v.join(","));
    else if (k === "batchnorm") p.set(k, v ? "1" : "0");
    else p.set(k, String(v));
  }
  p.set("lang", lang);
  history.replaceState(null, "", `${location.pathname}?${p}`);
}

const fmtSlider = (v) => Number(Math.pow(10, v).toPrecision(2));

function showState() {
  const s = state;
  if (![...$("dataset").options].some((o) => o.value === s.dataset)) {
    const o = document.createElement("option");
    o.value = o.textContent = s.dataset;
    $("dataset").append(o);
  }
  $("dataset").value = s.dataset;
  $("depth").value = s.hidden.length;
  $("width").value = s.hidden[0];
  $("activation").value = s.activation;
  $("init").value = s.init;
  $("init-std").value = Math.log10(s.init_std).toFixed(1);
  $("std-out").textContent = s.init_std;
  $("std-box").hidden = s.init !== "gauss";
  $("batchnorm").checked = s.batchnorm;
  $("bn-convention").value = s.bn_convention;
  $("optimizer").value = s.optimizer;
  $("lr").value = Math.log10(s.lr).toFixed(1);
  $("lr-out").textContent = s.lr;
  $("batch-size").value = s.batch_size;
  $("seed").value = s.seed;
  $("compare").value = s.compare;
  const uniform = s.hidden.every((w) => w === s.hidden[0]);
  $("widths").textContent = uniform ? "" : `${t("widths")}: ${s.hidden.join(", ")}`;
}

// Each control writes only its own field (a slider's rounding never touches the others).
const READERS = {
  dataset: (s) => { s.dataset = $("dataset").value; },
  depth: (s) => {
    const n = Math.min(100, Math.max(0, Math.round(num($("depth").value, s.hidden.length))));
    s.hidden = Array(n).fill(s.hidden[0] ?? 40);   // out of 1..20: the server says so
  },
  width: (s) => { s.hidden = s.hidden.map(() => Math.round(num($("width").value, s.hidden[0]))); },
  activation: (s) => { s.activation = $("activation").value; },
  init: (s) => { s.init = $("init").value; },
  "init-std": (s) => { s.init_std = fmtSlider(Number($("init-std").value)); },
  batchnorm: (s) => { s.batchnorm = $("batchnorm").checked; },
  "bn-convention": (s) => { s.bn_convention = $("bn-convention").value; },
  optimizer: (s) => { s.optimizer = $("optimizer").value; },
  lr: (s) => { s.lr = fmtSlider(Number($("lr").value)); },
  "batch-size": (s) => { s.batch_size = Math.round(num($("batch-size").value, s.batch_size)); },
  seed: (s) => { s.seed = Math.round(num($("seed").value, s.seed)); },
  compare: (s) => {
    s.compare = $("compare").value;
    if (s.compare === "relu-he") {   // the seed's vanishing comparison: A is sigmoid + gauss
      Object.assign(s, { activation: "sigmoid", init: "gauss", init_std: 0.01, lr: 0.1,
                         batchnorm: false, optimizer: "sgd" });
    } else if (s.compare === "batchnorm") {   // the note's: sigmoid + xavier, lr 0.01
      Object.assign(s, { activation: "sigmoid", init: "xavier", lr: 0.01, batchnorm: false,
                         optimizer: "sgd" });
    }
  },
};

function readControls(changed) {
  if (READERS[changed]) READERS[changed](state);
}

// ---- text --------------------------------------------------------------------------------
function applyLanguage() {
  document.documentElement.lang = lang;
  for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of document.querySelectorAll("[data-help]")) {
    el.title = t(el.dataset.help);
    el.setAttribute("aria-description", t(el.dataset.help));
  }
  $("lang").textContent = lang === "ja" ? "English" : "日本語";
  document.title = t("title");
}

// ---- drawing -----------------------------------------------------------------------------
const SVG = "http://www.w3.org/2000/svg";
function el(tag, attrs = {}, parent = null, ns = null) {
  const e = ns ? document.createElementNS(ns, tag) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "text") e.textContent = v; else e.setAttribute(k, v);
  }
  if (parent) parent.append(e);
  return e;
}

function fmt(v) {
  if (v === null || v === undefined) return t("nonfinite");
  if (v === 0) return "0";
  const a = Math.abs(v);
  return a >= 0.01 && a < 1000 ? String(Number(v.toPrecision(3))) : v.toExponential(2);
}

function logFraction(v, [lo, hi]) {
  if (v === null || !(v > 0)) return v === null ? 1 : 0;
  return Math.min(1, Math.max(0, (Math.log10(v) - lo) / (hi - lo)));
}

// One row per layer: a label, a bar, the number. Rows keep their elements between updates.
function bars(box, values, { log = null, testid = null, depth, color, marker = null }) {
  if (box.childElementCount !== values.length) {
    box.replaceChildren();
    values.forEach((_, i) => {
      const row = el("div", { class: "bar-row" }, box);
      el("span", { class: "bar-label", text: i < depth ? String(i + 1) : t("out") }, row);
      const track = el("span", { class: "bar-track" }, row);
      el("span", { class: "bar-fill" }, track);
      if (marker !== null) el("span", { class: "bar-marker" }, track).style.left = `${marker * 100}%`;
      const value = el("span", { class: "bar-value" }, row);
      if (testid) value.dataset.testid = i < depth ? `${testid}-${i + 1}` : `${testid}-out`;
    });
  }
  values.forEach((v, i) => {
    const row = box.children[i];
    const frac = log ? logFraction(v, log) : v === null ? 0 : Math.min(1, Math.max(0, v));
    const fill = row.querySelector(".bar-fill");
    fill.style.width = `${(frac * 100).toFixed(1)}%`;
    fill.style.background = v === null ? "#c00" : color;
    const text = fmt(v);
    const value = row.querySelector(".bar-value");
    if (value.textContent !== text) value.textContent = text;
    row.classList.toggle("bad", v === null);
  });
}

function histograms(box, hists, range) {
  if (box.childElementCount !== hists.length) {
    box.replaceChildren();
    hists.forEach((_, i) => {
      const fig = el("figure", {}, box);
      el("canvas", { width: 100, height: 40 }, fig);
      el("figcaption", { text: `${i + 1}` }, fig);
    });
  }
  hists.forEach((h, i) => {
    const fig = box.children[i];
    const c = fig.querySelector("canvas").getContext("2d");
    const max = Math.max(1, ...h);
    c.clearRect(0, 0, 100, 40);
    c.fillStyle = "#556";
    const w = 100 / h.length;
    h.forEach((n, j) => {
      const hh = (40 * n) / max;
      c.fillRect(j * w, 40 - hh, Math.max(1, w - 0.3), hh);
    });
    fig.querySelector("figcaption").textContent = `${t("layer")} ${i + 1} [${range[0]}, ${range[1]}]`;
  });
}

function boundary(canvas, grid, points) {
  const c = canvas.getContext("2d");
  const n = Math.round(Math.sqrt(grid.length));
  const size = canvas.width / n;
  grid.forEach((p, k) => {
    const r = Math.floor(k / n), q = k % n;
    const mix = (a, b) => Math.round(a + (b - a) * p);
    c.fillStyle = `rgb(${mix(246, 31)},${mix(170, 111)},${mix(90, 180)})`;
    c.fillRect(q * size, r * size, size + 0.5, size + 0.5);
  });
  const ext = 1.2;
  for (const [x, y, cls] of points || []) {
    const px = ((x + ext) / (2 * ext)) * canvas.width;
    const py = ((ext - y) / (2 * ext)) * canvas.height;
    c.beginPath();
    c.arc(px, py, 2.2, 0, 2 * Math.PI);
    c.fillStyle = cls ? "#0b3d6e" : "#8a3b00";
    c.fill();
    c.strokeStyle = "#fff";
    c.lineWidth = 0.6;
    c.stroke();
  }
}

// Lines over iterations; y from 0 to ymax, or to the data's top but at most `cap` (a loss
// that explodes before a divergence must not flatten everything else: it runs along the top).
function lineChart(svg, series, { ymax = null, cap = Infinity } = {}) {
  svg.replaceChildren();
  const W = 400, H = 160, L = 34, B = 16;
  let xmax = 1, top = ymax ?? 0;
  for (const s of series) for (const [x, y] of s.points) {
    xmax = Math.max(xmax, x);
    if (ymax === null && y !== null) top = Math.max(top, Math.min(y, cap));
  }
  top = top || 1;
  const X = (x) => L + ((W - L - 4) * x) / xmax;
  const Y = (y) => H - B - ((H - B - 6) * Math.min(y, top)) / top;
  for (const f of [0, 0.5, 1]) {
    el("line", { x1: L, x2: W, y1: Y(f * top), y2: Y(f * top), class: "gridline" }, svg, SVG);
    el("text", { x: 2, y: Y(f * top) + 4, class: "tick", text: fmt(f * top) }, svg, SVG);
  }
  el("text", { x: W - 4, y: H - 3, class: "tick end", text: String(xmax) }, svg, SVG);
  for (const s of series) {
    const pts = s.points.filter(([, y]) => y !== null).map(([x, y]) => `${X(x).toFixed(1)},${Y(y).toFixed(1)}`);
    if (pts.length) el("polyline", { points: pts.join(" "), stroke: s.color, "stroke-dasharray": s.dash || "", class: "series" }, svg, SVG);
  }
}

// ---- runs --------------------------------------------------------------------------------
let ws = null, setup = null, curves = {}, findings = {}, runViews = {}, playing = false;

function buildRuns(msg) {
  const box = $("runs");
  box.replaceChildren();
  runViews = {};
  box.classList.toggle("two", msg.runs.length > 1);
  for (const run of msg.runs) {
    const node = $("run-template").content.firstElementChild.cloneNode(true);
    node.dataset.testid = `run-${run.label}`;
    for (const e of node.querySelectorAll("[data-i18n]")) e.textContent = t(e.dataset.i18n);
    const c = run.config;
    const std = c.init === "gauss" ? `(${c.init_std})` : "";
    node.querySelector(".run-title").textContent =
      `${run.label}: ${msg.dataset} · [${c.hidden.join(", ")}] · ${c.activation} + ${c.init}${std}` +
      `${c.batchnorm ? " + BN" : ""} · ${c.optimizer} ${c.lr}`;
    node.querySelector(".run-title").style.color = COLORS[run.label];
    node.querySelector(".boundary-box").hidden = !msg.points;
    box.append(node);
    runViews[run.label] = { node, depth: run.depth };
  }
}

function onUpdate(msg) {
  $("iteration").textContent = msg.iteration;
  for (const run of msg.runs) {
    const view = runViews[run.label];
    if (!view) continue;
    const n = view.node, d = view.depth, color = COLORS[run.label];
    const id = run.label === "A" ? "grad-layer" : "grad-layer-b";
    bars(n.querySelector(".grads"), run.grad_norm, { log: GRAD_DECADES, testid: id, depth: d, color });
    bars(n.querySelector(".ratios"), run.update_ratio.length ? run.update_ratio : run.grad_norm.map(() => 0),
         { log: RATIO_DECADES, depth: d, color, marker: logFraction(1e-3, RATIO_DECADES) });
    const shares = run.saturated.map((s, i) => (s !== null ? s : run.dead[i]));
    bars(n.querySelector(".shares"), shares.map((v) => v ?? 0), { depth: d, color: "#8a5" });
    histograms(n.querySelector(".hists"), run.hist, run.hist_range);
    const div = n.querySelector(".diverged");
    div.hidden = !run.diverged;
    if (run.diverged) div.textContent = t("diverged", run.diverged);
    div.dataset.testid = `diverged-${run.label}`;
    const cv = (curves[run.label] ||= { loss: [], train: [], test: [], start: null });
    if (msg.iteration === 0 && run.loss !== null) cv.start = run.loss;   // before any update
    if (run.loss !== null && msg.iteration > 0) cv.loss.push([msg.iteration, run.loss]);
    if (run.test_acc !== undefined) {
      cv.train.push([msg.iteration, run.train_acc]);
      cv.test.push([msg.iteration, run.test_acc]);
      n.querySelector(".accs").textContent =
        `${t("train_acc")} ${fmt(run.train_acc)} · ${t("test")} ${fmt(run.test_acc)}`;
    }
    for (const k of ["loss", "train", "test"]) if (cv[k].length > 1500) cv[k] = cv[k].filter((_, i) => i % 2 === 0);
    if (run.boundary) boundary(n.querySelector(".boundary"), run.boundary, setup.points);
    if (run.findings) findings[run.label] = run.findings;
  }
  drawCurves();
  drawFindings();
  if (msg.capped) showError(t("capped", setup.max_iterations));
  if (msg.playing !== undefined) setPlaying(msg.playing);
}

function drawCurves() {
  const loss = [], acc = [];
  const starts = Object.values(curves).map((cv) => cv.start).filter((v) => v !== null);
  const cap = starts.length ? 3 * Math.max(...starts) : Infinity;   // 3x the untrained loss
  for (const [label, cv] of Object.entries(curves)) {
    loss.push({ points: cv.loss, color: COLORS[label] });
    acc.push({ points: cv.test, color: COLORS[label] }, { points: cv.train, color: COLORS[label], dash: "4 3" });
  }
  lineChart($("loss-chart"), loss, { cap });
  lineChart($("acc-chart"), acc, { ymax: 1 });
}

function drawFindings() {
  const ul = $("findings");
  const items = Object.entries(findings).flatMap(([label, list]) => list.map((f) => [label, f]));
  const key = JSON.stringify(items);
  if (ul.dataset.key === key) return;
  ul.dataset.key = key;
  ul.replaceChildren();
  if (!items.length) el("li", { class: "none", text: t("no_findings") }, ul);
  for (const [label, f] of items) {
    const li = el("li", { class: `sev-${f.severity}` }, ul);
    el("b", { text: `${label} · ${t("layer")} ${f.layer ?? "–"} · ${t("iteration")} ${f.iteration ?? "–"}: ` }, li);
    li.append(f.message);
  }
}

function showError(text) { $("error").textContent = text || ""; }

function setPlaying(on) {
  playing = on;
  $("status").textContent = t(ws && ws.readyState === 1 ? (on ? "training" : "paused") : "disconnected");
  $("train").classList.toggle("active", on);
}

// ---- socket ------------------------------------------------------------------------------
function send(obj) { if (ws && ws.readyState === 1) ws.send(JSON.stringify(obj)); }
function sendConfig() { send({ type: "config", config: { ...state, lang } }); }

function connect() {
  $("status").textContent = t("connecting");
  ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`);
  ws.onmessage = (ev) => {
    const msg = JSON.parse(ev.data);
    if (msg.type === "hello") {
      const sel = $("dataset");
      sel.replaceChildren(...msg.datasets.map((d) => el("option", { value: d, text: d })));
      showState();
      $("status").textContent = t("connected");
      sendConfig();
    } else if (msg.type === "setup") {
      setup = msg; curves = {}; findings = {};
      buildRuns(msg);
      showError("");
      setPlaying(false);
    } else if (msg.type === "update") {
      onUpdate(msg);
    } else if (msg.type === "paused") {
      setPlaying(false);
    } else if (msg.type === "error" || msg.type === "busy" || msg.type === "closed") {
      showError(msg.message);
    }
  };
  ws.onclose = () => { $("status").textContent = t("disconnected"); $("status").classList.add("down"); };
}

// ---- wiring ------------------------------------------------------------------------------
function changed(ev) {
  readControls(ev.target.dataset.testid);
  showState();
  writeURL();
  sendConfig();
}

function wire() {
  for (const id of Object.keys(READERS)) $(id).addEventListener("change", changed);
  $("init-std").addEventListener("input", () => { $("std-out").textContent = fmtSlider(Number($("init-std").value)); });
  $("lr").addEventListener("input", () => { $("lr-out").textContent = fmtSlider(Number($("lr").value)); });
  $("train").addEventListener("click", () => send({ type: "play" }));
  $("pause").addEventListener("click", () => send({ type: "pause" }));
  $("step").addEventListener("click", () => send({ type: "step" }));
  $("reset").addEventListener("click", () => send({ type: "reset" }));
  $("lang").addEventListener("click", () => {
    lang = lang === "ja" ? "en" : "ja";
    applyLanguage(); showState(); writeURL(); setPlaying(playing);
    send({ type: "lang", lang });   // the findings come back in the new language
  });
  for (const e of document.querySelectorAll("[data-help]")) {
    const show = () => { $("help").textContent = t(e.dataset.help); };
    e.addEventListener("focus", show);
    e.addEventListener("mouseenter", show);
  }
}

readURL();
wire();
applyLanguage();
showState();
writeURL();
connect();
