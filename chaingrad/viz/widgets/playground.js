// chaingrad Playground: draws what the kernel sends. Every control sends a message
// ({action: "set", name, value}, "play", "step", ...) and the kernel answers by changing
// the model's traits; the page keeps no state of its own beyond what it is showing.

const ORANGE = [245, 147, 34]; // class 0, negative weights
const BLUE = [8, 119, 189]; // class 1, positive weights
const PAPER = [232, 234, 235];
const LR_CHOICES = [0.00001, 0.0001, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1, 3];
const PENALTY_CHOICES = [0, 0.0001, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1];
const DROPOUT_CHOICES = [0, 0.1, 0.2, 0.3, 0.5];
const SPEED_CHOICES = [10, 30, 100, 300, 1000, 0];
const OPTIMIZER_NAMES = { sgd: "SGD", momentum: "SGD + momentum 0.9", adam: "Adam" };
const DATASET_NAMES = {
  moons: "Moons", circles: "Circles", spirals: "Spirals", blobs: "Blobs", xor: "XOR",
};
const FEATURE_NAMES = {
  x1: "x₁", x2: "x₂", "x1^2": "x₁²", "x2^2": "x₂²", "x1*x2": "x₁x₂", "sin(x1)": "sin(x₁)", "sin(x2)": "sin(x₂)",
};
const BIGGEST_NODE = 36; // px, a neuron's map when there is room
const LABEL_ROOM = 52; // px left of the inputs for their names
const DIAGRAM_TOP = 50; // room for the layer buttons above the columns

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") el.className = v;
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v);
  }
  for (const c of children) el.append(c);
  return el;
}

function svg(tag, attrs = {}) {
  const el = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  return el;
}

// -1 -> orange, 0 -> paper, +1 -> blue; `light` blends towards white for backgrounds.
function colour(t, light = 0) {
  const [a, b] = t < 0 ? [PAPER, ORANGE] : [PAPER, BLUE];
  const s = Math.min(1, Math.abs(t));
  return a.map((x, i) => Math.round((x + (b[i] - x) * s) * (1 - light) + 255 * light));
}

function fmt(x, digits = 3) {
  if (!Number.isFinite(x)) return String(x);
  return x.toFixed(digits);
}

function paintMap(canvas, bytes, offset, size, light, discretize = false) {
  const ctx = canvas.getContext("2d");
  const image = ctx.createImageData(size, size);
  for (let i = 0; i < size * size; i++) {
    let t = bytes[offset + i] / 127.5 - 1;
    if (discretize) t = t < 0 ? -1 : 1;
    const [r, g, b] = colour(t, light);
    image.data.set([r, g, b, 255], 4 * i);
  }
  ctx.putImageData(image, 0, 0);
}

function select(label, name, options, current, send, describe = String) {
  const box = h("select", { "aria-label": label, "data-control": name });
  const values = options.includes(current) ? options : [...options, current].sort((a, b) => a - b);
  for (const v of values) {
    const opt = h("option", { value: String(v) }, describe(v));
    if (v === current) opt.selected = true;
    box.append(opt);
  }
  box.addEventListener("change", () => {
    const raw = box.value;
    const value = typeof current === "number" ? Number(raw) : raw;
    send({ action: "set", name, value });
  });
  return h("label", { class: "cg-pg-field" }, h("span", {}, label), box);
}

function render({ model, el }) {
  const send = (message) => model.send(message);
  const root = h("div", { class: "cg-pg" });
  el.append(root);

  // --- top bar: the buttons, the clock, the hyperparameters --------------------------
  const play = h("button", { class: "cg-pg-play", title: "play / pause", "data-action": "play" });
  play.addEventListener("click", () => send({ action: model.get("running") ? "pause" : "play" }));
  const stepButton = h("button", { title: "one step", "data-action": "step" }, "step");
  stepButton.addEventListener("click", () => send({ action: "step", count: 1 }));
  const resetButton = h("button", { title: "new initial weights", "data-action": "reset" }, "reset");
  resetButton.addEventListener("click", () => send({ action: "reset" }));
  const clock = h("div", { class: "cg-pg-clock" });
  const hyper = h("div", { class: "cg-pg-hyper" });
  const error = h("div", { class: "cg-pg-error", role: "alert" });
  root.append(
    h("div", { class: "cg-pg-top" }, h("div", { class: "cg-pg-buttons" }, resetButton, play, stepButton), clock, hyper),
    error,
  );

  // --- three columns: data, network, output -------------------------------------------
  const dataColumn = h("div", { class: "cg-pg-col cg-pg-data" });
  const netColumn = h("div", { class: "cg-pg-col cg-pg-net" });
  const outColumn = h("div", { class: "cg-pg-col cg-pg-out" });
  root.append(h("div", { class: "cg-pg-body" }, dataColumn, netColumn, outColumn));

  const datasets = h("div", { class: "cg-pg-datasets" });
  const dataControls = h("div", { class: "cg-pg-datacontrols" });
  dataColumn.append(h("h4", {}, "Data"), datasets, dataControls);

  const layerBar = h("div", { class: "cg-pg-layerbar" });
  const diagram = h("div", { class: "cg-pg-diagram" });
  const edges = svg("svg", { class: "cg-pg-edges" });
  diagram.append(edges);
  const tip = h("div", { class: "cg-pg-tip" });
  netColumn.append(h("h4", {}, "Network"), layerBar, diagram, tip);

  const numbers = h("div", { class: "cg-pg-numbers" });
  const curve = h("canvas", { class: "cg-pg-curve", width: 260, height: 72 });
  const boundary = h("canvas", { class: "cg-pg-boundary", width: 260, height: 260 });
  boundary.title = "click a training point to draw the graph of the selected neuron (or the output) for it";
  // Clicking a training point asks for the graph of the selected neuron (else the output) there.
  boundary.addEventListener("click", (event) => {
    const flat = model.get("points").train || [];
    const d = model.get("points").domain || 1;
    const rect = boundary.getBoundingClientRect();
    const x = ((event.clientX - rect.left) / rect.width) * 2 * d - d;
    const y = d - ((event.clientY - rect.top) / rect.height) * 2 * d;
    let best = -1, bestDistance = Infinity;
    for (let i = 0; i < flat.length; i += 3) {
      const distance = (flat[i] - x) ** 2 + (flat[i + 1] - y) ** 2;
      if (distance < bestDistance) [best, bestDistance] = [i / 3, distance];
    }
    if (best < 0 || Math.sqrt(bestDistance) > (12 / rect.width) * 2 * d) return; // not on a point
    const sel = model.get("selected");
    const layers = model.get("weights").length;
    const [layer, index] = sel && sel.layer !== undefined ? [sel.layer, sel.index] : [layers - 1, 0];
    send({ action: "select", layer, index, example: best });
  });
  const legend = h("div", { class: "cg-pg-legend" });
  const checks = h("div", { class: "cg-pg-checks" });
  outColumn.append(h("h4", {}, "Output"), numbers, curve, boundary, legend, checks);

  const graphPanel = h("div", { class: "cg-pg-graph" });
  root.append(graphPanel);

  const mapCanvas = document.createElement("canvas"); // the boundary at grid resolution
  let nodes = []; // [{column, index, canvas, el, x, y}]
  let laidOutWidth = 0;
  let hovered = null; // the canvas of the node under the mouse, shown big while hovered
  let hoveredName = ""; // the network column's width when the diagram was laid out
  let edgePaths = []; // per layer, per neuron, per input

  function bytes() {
    const view = model.get("maps");
    if (!view || !view.byteLength) return new Uint8Array(0);
    if (view instanceof Uint8Array) return view;
    return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
  }

  // --- controls from the kernel's settings --------------------------------------------
  function drawControls() {
    const c = model.get("config");
    const choices = model.get("choices");
    hyper.replaceChildren(
      select("Learning rate", "lr", LR_CHOICES, c.lr, send),
      select("Activation", "activation", choices.activation, c.activation, send),
      select("Optimizer", "optimizer", choices.optimizer, c.optimizer, send, (v) => OPTIMIZER_NAMES[v] || v),
      select("L1", "l1", PENALTY_CHOICES, c.l1, send),
      select("L2", "l2", PENALTY_CHOICES, c.l2, send),
      select("Dropout", "dropout", DROPOUT_CHOICES, c.dropout, send),
      select("Speed", "speed", SPEED_CHOICES, c.speed, send, (v) => (v ? `${v} steps/s` : "as fast as it goes")),
    );
    datasets.replaceChildren(
      ...choices.dataset.map((name) => {
        const picture = h("canvas", { width: 28, height: 28 });
        drawThumbnail(picture, (choices.thumbnails || {})[name] || []);
        const b = h("button", { class: "cg-pg-dataset", "data-dataset": name, title: `dataset: ${name}` },
          picture, h("span", {}, DATASET_NAMES[name] || name));
        if (name === c.dataset) b.classList.add("cg-pg-on");
        b.addEventListener("click", () => send({ action: "set", name: "dataset", value: name }));
        return b;
      }),
    );
    const nTrain = c.n_samples - Math.round(c.n_samples * c.validation);
    dataControls.replaceChildren(
      slider("Noise", "noise", 0, 0.5, 0.05, c.noise, (v) => fmt(v, 2)),
      slider("Batch size", "batch_size", 1, nTrain, 1, c.batch_size, String),
      slider("Held out", "validation", 0.1, 0.9, 0.1, c.validation, (v) => `${Math.round(v * 100)}%`),
      h("button", { class: "cg-pg-regen", "data-action": "regenerate", onclick: () => send({ action: "set", name: "seed", value: c.seed + 1 }) }, `new points (seed ${c.seed})`),
    );
    checks.replaceChildren(
      checkbox("Show held-out points", "show_test", c.show_test),
      checkbox("Discretize output", "discretize", c.discretize),
    );
    drawLayerBar(c);
  }

  function drawThumbnail(canvas, flat) {
    const ctx = canvas.getContext("2d");
    const size = canvas.width;
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, size, size);
    for (let i = 0; i < flat.length; i += 3) {
      const [r, g, b] = flat[i + 2] ? BLUE : ORANGE;
      ctx.fillStyle = `rgb(${r},${g},${b})`;
      ctx.fillRect(((flat[i] + 1) / 2) * (size - 3), ((1 - flat[i + 1]) / 2) * (size - 3), 2.2, 2.2);
    }
  }

  function slider(label, name, min, max, stepSize, value, show) {
    const input = h("input", { type: "range", min, max, step: stepSize, "aria-label": label, "data-control": name });
    input.value = value;
    const shown = h("b", {}, show(value));
    input.addEventListener("input", () => (shown.textContent = show(Number(input.value))));
    input.addEventListener("change", () => send({ action: "set", name, value: Number(input.value) }));
    return h("label", { class: "cg-pg-slider" }, h("span", {}, `${label} `, shown), input);
  }

  function checkbox(label, name, value) {
    const input = h("input", { type: "checkbox", "data-control": name });
    input.checked = value;
    input.addEventListener("change", () => send({ action: "set", name, value: input.checked }));
    return h("label", {}, input, ` ${label}`);
  }

  function drawLayerBar(c) {
    const hidden = c.hidden;
    const choices = model.get("choices");
    const setHidden = (value) => send({ action: "set", name: "hidden", value });
    const plus = h("button", { title: "add a hidden layer", "data-action": "add-layer" }, "+");
    plus.disabled = hidden.length >= choices.max_layers;
    plus.addEventListener("click", () => setHidden([...hidden, hidden.length ? hidden[hidden.length - 1] : 4]));
    const minus = h("button", { title: "remove the last hidden layer", "data-action": "remove-layer" }, "−");
    minus.disabled = hidden.length === 0;
    minus.addEventListener("click", () => setHidden(hidden.slice(0, -1)));
    layerBar.replaceChildren(
      plus, minus,
      h("span", {}, `${hidden.length} hidden layer${hidden.length === 1 ? "" : "s"} · ${model.get("network").activation || c.activation}`),
    );
  }

  // --- the network diagram, laid out once per architecture ----------------------------
  function drawNetwork() {
    const net = model.get("network");
    const c = model.get("config");
    const columns = net.columns || [];
    for (const n of nodes) n.el.remove();
    diagram.querySelectorAll(".cg-pg-widthbar").forEach((e) => e.remove());
    nodes = [];
    const width = Math.max(300, Math.min(560, Math.floor(netColumn.clientWidth) || 420));
    laidOutWidth = netColumn.clientWidth;
    const tallest = Math.max(...columns.map((col) => col.length));
    // Nodes shrink (down to 22 px) when many layers share the width, so edges stay visible.
    const room = (width - LABEL_ROOM - BIGGEST_NODE) / Math.max(1, columns.length - 1);
    const NODE = Math.max(22, Math.min(BIGGEST_NODE, Math.floor(room * 0.55)));
    const ROW = NODE + 10;
    const height = DIAGRAM_TOP + tallest * ROW + 8;
    diagram.style.width = `${width}px`;
    diagram.style.height = `${height}px`;
    edges.setAttribute("width", width);
    edges.setAttribute("height", height);
    const gap = (width - LABEL_ROOM - NODE) / Math.max(1, columns.length - 1);
    const active = net.features || [];
    columns.forEach((col, k) => {
      const x = LABEL_ROOM + k * gap;
      col.forEach((name, i) => {
        const y = DIAGRAM_TOP + i * ROW;
        const canvas = h("canvas", { width: 1, height: 1 });
        const isInput = k === 0;
        const isOutput = k === columns.length - 1;
        const used = !isInput || active.includes(name);
        const node = h("div", {
          class: `cg-pg-node${isInput ? " cg-pg-input" : ""}${isOutput ? " cg-pg-output" : ""}${used ? "" : " cg-pg-unused"}`,
          "data-node": isInput ? name : `${k - 1}.${i}`,
          title: isInput
            ? `${FEATURE_NAMES[name] || name}: click to ${used ? "stop using it as an input" : "use it as an input"}`
            : `${name}${isOutput ? " (output)" : ""}: click to draw its graph for one example`,
        }, canvas);
        node.style.left = `${x}px`;
        node.style.top = `${y}px`;
        node.style.width = node.style.height = `${NODE}px`;
        if (isInput) {
          const label = h("span", { class: "cg-pg-inname" }, FEATURE_NAMES[name] || name);
          label.style.right = `${NODE + 5}px`;
          label.style.top = `${NODE / 2 - 9}px`;
          node.append(label);
          node.addEventListener("click", () => {
            const next = used ? active.filter((f) => f !== name) : [...active, name];
            send({ action: "set", name: "features", value: next });
          });
        } else {
          const bias = h("i", { class: "cg-pg-bias" });
          node.append(bias);
          node.addEventListener("click", () => send({ action: "select", layer: k - 1, index: i }));
        }
        // Hovering a node shows its map in the big picture, as TensorFlow Playground does.
        node.addEventListener("mouseenter", () => {
          showTip(node, nodeText(k, i, name));
          hovered = canvas;
          hoveredName = k === 0 ? FEATURE_NAMES[name] || name : name;
          drawBoundary();
        });
        node.addEventListener("mouseleave", () => {
          tip.style.display = "none";
          hovered = null;
          drawBoundary();
        });
        diagram.append(node);
        nodes.push({ column: k, index: i, canvas, el: node, x, y, name });
      });
      if (k > 0 && k < columns.length - 1) {
        const hidden = c.hidden;
        const layer = k - 1;
        const more = h("button", { title: "add a neuron", "data-action": `add-neuron-${layer}` }, "+");
        more.disabled = hidden[layer] >= model.get("choices").max_width;
        more.addEventListener("click", () => send({ action: "set", name: "hidden", value: hidden.map((w, j) => (j === layer ? w + 1 : w)) }));
        const fewer = h("button", { title: "remove a neuron", "data-action": `remove-neuron-${layer}` }, "−");
        fewer.disabled = hidden[layer] <= 1;
        fewer.addEventListener("click", () => send({ action: "set", name: "hidden", value: hidden.map((w, j) => (j === layer ? w - 1 : w)) }));
        const bar = h("div", { class: "cg-pg-widthbar" },
          h("div", {}, more, fewer), h("span", {}, gap < 70 ? `${hidden[layer]}` : `${hidden[layer]} neuron${hidden[layer] === 1 ? "" : "s"}`));
        bar.style.left = `${x + NODE / 2}px`;
        diagram.append(bar);
      }
    });
    edges.replaceChildren();
    edgePaths = [];
    for (let k = 1; k < columns.length; k++) {
      // the first layer's weight j comes from the j-th feature in use
      const from = k === 1
        ? active.map((f) => nodes.find((n) => n.column === 0 && n.name === f))
        : nodes.filter((n) => n.column === k - 1);
      const to = nodes.filter((n) => n.column === k);
      const layer = to.map((b) =>
        from.map((a, j) => {
          const x1 = a.x + NODE, y1 = a.y + NODE / 2, x2 = b.x, y2 = b.y + NODE / 2;
          const mid = (x1 + x2) / 2;
          const path = svg("path", { d: `M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2},${y2}`, fill: "none" });
          path.addEventListener("mouseenter", () => showTip(path, edgeText(k - 1, b.index, j, a.name, b.name)));
          path.addEventListener("mouseleave", () => (tip.style.display = "none"));
          edges.append(path);
          return path;
        }),
      );
      edgePaths.push(layer);
    }
  }

  function nodeText(k, i, name) {
    if (k === 0) {
      const used = (model.get("network").features || []).includes(name);
      return `input ${FEATURE_NAMES[name] || name} of the point (x₁, x₂)${used ? "" : ", not used: click to add it"}`;
    }
    const layer = model.get("weights")[k - 1];
    const b = layer ? layer.b[i] : NaN;
    const last = k === model.get("network").columns.length - 1;
    return `${name}${last ? " (output)" : ""}: bias ${fmt(b)}; its map shows its output over the plane. Click to draw its graph.`;
  }

  function edgeText(layer, i, j, fromName, toName) {
    const w = model.get("weights")[layer].w[i][j];
    return `weight ${toName}.w.${j} = ${fmt(w)} (from ${FEATURE_NAMES[fromName] || fromName})`;
  }

  function showTip(anchor, text) {
    tip.textContent = text;
    tip.style.display = "block";
  }

  // --- numbers that change every refresh -----------------------------------------------
  function drawWeights() {
    const weights = model.get("weights");
    weights.forEach((layer, k) => {
      (edgePaths[k] || []).forEach((row, i) =>
        row.forEach((path, j) => {
          const w = layer.w[i][j];
          const [r, g, b] = w < 0 ? ORANGE : BLUE;
          path.setAttribute("stroke", `rgb(${r},${g},${b})`);
          path.setAttribute("stroke-width", Math.min(7, 0.4 + Math.abs(w) * 1.6).toFixed(2));
        }),
      );
    });
    for (const n of nodes) {
      if (n.column === 0) continue;
      const b = weights[n.column - 1].b[n.index];
      const bias = n.el.querySelector(".cg-pg-bias");
      const [r, g, bl] = b < 0 ? ORANGE : BLUE;
      bias.style.background = `rgb(${r},${g},${bl})`;
      const size = Math.max(3, Math.min(10, 3 + Math.abs(b) * 4));
      bias.style.width = bias.style.height = `${size}px`;
      bias.title = `bias ${fmt(b)}`;
    }
  }

  function drawMaps() {
    const data = bytes();
    const choices = model.get("choices");
    const c = model.get("config");
    const R = choices.boundary_resolution;
    const r = choices.neuron_resolution;
    if (data.length < R * R) return;
    mapCanvas.width = mapCanvas.height = R;
    paintMap(mapCanvas, data, 0, R, 0.35, c.discretize);
    let offset = R * R;
    for (const n of nodes) {
      n.canvas.width = n.canvas.height = r;
      paintMap(n.canvas, data, offset, r, 0.1);
      offset += r * r;
    }
    drawBoundary();
  }

  function drawBoundary() {
    const ctx = boundary.getContext("2d");
    const size = boundary.width;
    const points = model.get("points");
    const c = model.get("config");
    const d = points.domain || 1;
    ctx.imageSmoothingEnabled = true;
    ctx.clearRect(0, 0, size, size);
    ctx.drawImage(hovered && hovered.isConnected ? hovered : mapCanvas, 0, 0, size, size);
    const px = (x) => ((x + d) / (2 * d)) * size;
    const py = (y) => ((d - y) / (2 * d)) * size;
    const dots = (flat, edge) => {
      for (let i = 0; i < flat.length; i += 3) {
        const [r, g, b] = flat[i + 2] ? BLUE : ORANGE;
        ctx.beginPath();
        ctx.arc(px(flat[i]), py(flat[i + 1]), 3.6, 0, 2 * Math.PI);
        ctx.fillStyle = `rgb(${r},${g},${b})`;
        ctx.fill();
        ctx.lineWidth = edge === "white" ? 1.2 : 1.6;
        ctx.strokeStyle = edge;
        ctx.stroke();
      }
    };
    dots(points.train || [], "white");
    if (c.show_test) dots(points.val || [], "#222");
    const sel = model.get("selected");
    if (sel && sel.point) { // the example whose graph is drawn below
      ctx.beginPath();
      ctx.arc(px(sel.point[0]), py(sel.point[1]), 7, 0, 2 * Math.PI);
      ctx.lineWidth = 2.5;
      ctx.strokeStyle = "#111";
      ctx.stroke();
    }
    ctx.fillStyle = "rgba(0,0,0,0.55)";
    ctx.font = "11px sans-serif";
    ctx.fillText(`${-d}`, 3, size - 4);
    ctx.fillText(`${d}`, size - 22, size - 4);
    ctx.fillText(`${d}`, 3, 12);
    if (hovered && hovered.isConnected) {
      const text = `showing ${hoveredName}`;
      ctx.font = "12px sans-serif";
      const w = ctx.measureText(text).width + 10;
      ctx.fillStyle = "rgba(255,255,255,0.85)";
      ctx.fillRect(size - w - 4, 4, w, 18);
      ctx.fillStyle = "#222";
      ctx.fillText(text, size - w + 1, 17);
    }
  }

  function drawLegend() {
    const c = model.get("config");
    const scale = h("canvas", { class: "cg-pg-scale", width: 120, height: 10 });
    const ctx = scale.getContext("2d");
    for (let x = 0; x < 120; x++) {
      const [r, g, b] = colour((x / 119) * 2 - 1, 0.25);
      ctx.fillStyle = `rgb(${r},${g},${b})`;
      ctx.fillRect(x, 0, 1, 10);
    }
    legend.replaceChildren(
      h("div", {}, h("i", { class: "cg-pg-dot cg-pg-c0" }), " class 0   ", h("i", { class: "cg-pg-dot cg-pg-c1" }), " class 1",
        c.show_test ? "   (ringed dark: held out)" : ""),
      h("div", { class: "cg-pg-scalerow" }, h("span", {}, "p(class 1): 0"), scale, h("span", {}, "1")),
      h("div", { class: "cg-pg-weightkey" }, "weights ", h("i", { class: "cg-pg-w cg-pg-c1" }), " > 0 ", h("i", { class: "cg-pg-w cg-pg-c0" }), " < 0, thicker = larger"),
    );
  }

  function drawStats() {
    const s = model.get("stats");
    const running = model.get("running");
    play.textContent = running ? "❚❚ pause" : "▶ play";
    play.classList.toggle("cg-pg-running", running);
    play.setAttribute("data-action", running ? "pause" : "play");
    const rate = running && s.steps_per_second ? ` · ${Math.round(s.steps_per_second).toLocaleString("en")} steps/s` : "";
    clock.replaceChildren(
      h("span", { class: "cg-pg-steplabel" }, "Step"),
      h("b", { "data-stat": "step" }, s.step.toLocaleString("en")),
      h("span", { class: "cg-pg-sub" }, `epoch ${fmt(s.epoch, 1)}${rate}`),
    );
    numbers.replaceChildren(
      h("div", {}, "Training loss ", h("b", { "data-stat": "loss" }, fmt(s.loss)), h("span", { class: "cg-pg-sub" }, ` accuracy ${(100 * s.accuracy).toFixed(1)}%`)),
      h("div", {}, "Validation loss ", h("b", { "data-stat": "val_loss" }, fmt(s.val_loss)), h("span", { class: "cg-pg-sub" }, ` accuracy ${(100 * s.val_accuracy).toFixed(1)}%`)),
    );
    drawCurve();
  }

  function drawCurve() {
    const cv = model.get("curves");
    const ctx = curve.getContext("2d");
    const W = curve.width, H = curve.height;
    ctx.clearRect(0, 0, W, H);
    if (!cv.step || cv.step.length < 1) return;
    const top = Math.max(...cv.train, ...cv.val, 1e-9);
    const last = Math.max(1, cv.step[cv.step.length - 1]);
    const line = (ys, style, dash) => {
      ctx.beginPath();
      ctx.setLineDash(dash);
      ys.forEach((y, i) => {
        const x = (cv.step[i] / last) * (W - 2) + 1;
        const yy = H - 2 - (y / top) * (H - 14);
        if (i === 0) ctx.moveTo(x, yy);
        else ctx.lineTo(x, yy);
      });
      ctx.strokeStyle = style;
      ctx.lineWidth = 1.6;
      ctx.stroke();
      ctx.setLineDash([]);
    };
    ctx.fillStyle = "#f6f7f8";
    ctx.fillRect(0, 0, W, H);
    line(cv.val, "#9aa0a6", [4, 3]);
    line(cv.train, "#222", []);
    ctx.fillStyle = "#444";
    ctx.font = "11px sans-serif";
    ctx.fillText(`loss ${fmt(top, 2)}`, 4, 11);
    ctx.fillText(`step ${cv.step[cv.step.length - 1].toLocaleString("en")}`, W - 70, 11);
  }

  function drawError() {
    const message = model.get("error");
    error.textContent = message;
    error.style.display = message ? "block" : "none";
  }

  function drawSelected() {
    const sel = model.get("selected");
    for (const n of nodes) n.el.classList.toggle("cg-pg-selected", sel && n.column - 1 === sel.layer && n.index === sel.index);
    if (!sel || sel.layer === undefined) {
      graphPanel.replaceChildren();
      graphPanel.style.display = "none";
      return;
    }
    graphPanel.style.display = "block";
    const close = h("button", { "data-action": "close-graph" }, "close");
    close.addEventListener("click", () => send({ action: "select", layer: null }));
    const next = h("button", { "data-action": "next-example" }, "next point");
    next.addEventListener("click", () => send({ action: "select", layer: sel.layer, index: sel.index, example: sel.example + 1 }));
    const [x1, x2] = sel.point;
    const body = h("div", { class: "cg-pg-graphsvg" });
    if (sel.svg) body.innerHTML = sel.svg;
    else body.textContent = sel.problem;
    graphPanel.replaceChildren(
      h("div", { class: "cg-pg-graphhead" },
        h("b", {}, sel.name),
        ` for training point #${sel.example} (x1 = ${fmt(x1, 2)}, x2 = ${fmt(x2, 2)}, class ${sel.label}): each box's grad is how much this neuron's output moves per unit of that value `,
        next, close),
      body,
    );
  }

  function drawAll() {
    drawControls();
    drawNetwork();
    drawWeights();
    drawMaps();
    drawLegend();
    drawStats();
    drawError();
    drawSelected();
  }

  const handlers = {
    "change:config": () => { drawControls(); drawLegend(); drawMaps(); },
    "change:network": () => { drawNetwork(); drawWeights(); drawMaps(); drawSelected(); },
    "change:weights": drawWeights,
    "change:maps": drawMaps,
    "change:points": drawBoundary,
    "change:stats": drawStats,
    "change:curves": drawCurve,
    "change:running": drawStats,
    "change:error": drawError,
    "change:selected": () => { drawSelected(); drawBoundary(); },
    // every request handled (done or refused): the controls show the kernel's values again
    "change:revision": () => {
      root.dataset.revision = model.get("revision");
      drawControls();
    },
  };
  for (const [event, fn] of Object.entries(handlers)) model.on(event, fn);
  drawAll();
  root.dataset.revision = model.get("revision");
  // The diagram fills the network column: laid out again only when the column's width
  // changes (a notebook resized, a side panel opened), never while training.
  const resize = new ResizeObserver(() => {
    if (Math.abs(netColumn.clientWidth - laidOutWidth) < 2) return;
    handlers["change:network"]();
  });
  resize.observe(netColumn);
  return () => {
    resize.disconnect();
    for (const [event, fn] of Object.entries(handlers)) model.off(event, fn);
  };
}

export default { render };
