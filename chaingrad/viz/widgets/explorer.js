// chaingrad.viz.Explorer in the page: the kernel's picture, its numbers updated in place.
//
// The kernel sends the graph once as SVG (`svg`: Graphviz's layout, node ids n<i>,
// op ids o<i>, edge ids e<i>_<slot> and e<i>_out) and, after every pass, `view`:
// every text to write (data, grad, edge factors), hover texts, the leaves'
// controls and the backward steps. This file only writes those texts and
// colours; it computes no number. A control sends {action: "set", values}
// and waits for the kernel's answer (`revision` changes) before sending the
// next one, so a fast drag never queues up stale passes.

const STEP_FILLS = { upstream: "#fdba74", receiver: "#fde047", done: "#bbf7d0", pending: "#ffffff" };
const GRAD_COLOURS = { 1: "#b91c1c", "-1": "#1d4ed8", 0: "" };
const MIN_TEXT_PX = 10; // the graph shrinks to fit its column until its smallest text is this

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

// Texts of a Graphviz node whose content starts with `prefix` ("data ", "grad ").
function textStarting(group, prefix) {
  const found = [...group.querySelectorAll("text")].filter((t) => t.textContent.startsWith(prefix));
  return found.length ? found[found.length - 1] : null;
}

// Write `text` into an SVG <text>, squeezing it if it would leave its box.
function writeText(item, text) {
  if (!item) return;
  const node = item.text;
  if (node.textContent === text) return;
  node.textContent = text;
  node.removeAttribute("textLength");
  node.removeAttribute("lengthAdjust");
  if (item.room > 0 && node.getComputedTextLength && node.getComputedTextLength() > item.room) {
    node.setAttribute("textLength", String(item.room));
    node.setAttribute("lengthAdjust", "spacingAndGlyphs");
  }
}

function slot(node, shape) {
  // The room a text has: from where it starts to its box's right edge.
  if (!node) return null;
  let room = 0;
  try {
    const box = shape.getBBox();
    room = box.x + box.width - Number(node.getAttribute("x")) - 3;
  } catch (e) {
    room = 0; // not laid out (hidden page): never squeeze
  }
  return { text: node, room };
}

function render({ model, el: host }) {
  const root = el("div", "cg-explorer");
  const bar = el("div", "cg-bar");
  const output = el("span", "cg-output");
  output.title = "the output: every grad is the slope of this number";
  const modes = el("span", "cg-modes");
  const live = el("button", "cg-mode", "live");
  const backward = el("button", "cg-mode", "backward");
  live.title = "drag a slider: forward and backward rerun, every box updates";
  backward.title = "step through the chain rule, one edge at a time";
  modes.append(live, backward);
  const nudgeLabel = el("label", "cg-nudge");
  const nudge = el("input");
  nudge.type = "checkbox";
  nudgeLabel.append(nudge, " nudge: measure each slope by finite differences");
  bar.append(output, modes, nudgeLabel);

  const stepper = el("div", "cg-stepper");
  const back = el("button", "cg-step-back", "\u25c0 back");
  const next = el("button", "cg-step-next", "next \u25b6");
  const range = el("input", "cg-step-range");
  range.type = "range";
  range.min = "0";
  const stepText = el("span", "cg-step-count");
  stepper.append(back, range, next, stepText);
  const caption = el("div", "cg-caption");

  const error = el("div", "cg-error");
  const controls = el("div", "cg-controls");
  const graph = el("div", "cg-graph");
  const tip = el("div", "cg-tip");
  root.append(bar, error, controls, stepper, caption, graph, tip);
  // Keys typed in a field are the learner's, not the notebook's shortcuts (Enter, A, B, ...).
  root.addEventListener("keydown", (event) => {
    if (event.target instanceof HTMLInputElement) event.stopPropagation();
  });
  host.appendChild(root);

  // --- the picture: index its pieces once per layout ---------------------------
  let nodes = {}; // n<i> -> {group, shape, fill, data, grad}
  let ops = {}; // o<i> -> group
  let edges = {}; // e<i>_<slot> -> {group, path, head, label, stroke}

  function loadSvg() {
    graph.innerHTML = model.get("svg");
    const svg = graph.querySelector("svg");
    nodes = {};
    ops = {};
    edges = {};
    if (!svg) return;
    // Graphviz's size in points (4/3 px each): drawn at that size, shrunk to fit the
    // column (see fitText); wider than that, it scrolls.
    const natural = (parseFloat(svg.getAttribute("width")) * 4) / 3;
    svg.removeAttribute("width");
    svg.removeAttribute("height");
    if (natural > 0) svg.style.width = `${natural}px`;
    svg.querySelectorAll("title").forEach((t) => t.remove());
    svg.querySelectorAll("a").forEach((a) => {
      a.removeAttribute("xlink:title");
      a.removeAttributeNS("http://www.w3.org/1999/xlink", "title");
      a.removeAttribute("title");
    });
    for (const group of svg.querySelectorAll("g.node, g.edge")) {
      const key = group.id;
      group.removeAttribute("id"); // several Explorers may share a page
      group.dataset.key = key;
      if (group.classList.contains("edge")) {
        // A wide transparent twin of the 1 px line, so the edge is easy to hover.
        const line = group.querySelector("path");
        if (line) {
          const hit = line.cloneNode(false);
          hit.setAttribute("class", "cg-hit");
          hit.setAttribute("stroke", "transparent");
          hit.setAttribute("stroke-width", "10");
          line.parentNode.insertBefore(hit, line);
        }
        edges[key] = {
          group,
          path: group.querySelector("path:not(.cg-hit)"),
          head: group.querySelector("polygon"),
          // the text showing the factor (an edge may also carry a blank spacer label)
          label: [...group.querySelectorAll("text")].find((t) => t.textContent.startsWith("\u00d7")),
        };
        edges[key].stroke = edges[key].path ? edges[key].path.getAttribute("stroke") : null;
        edges[key].labelText = edges[key].label ? { text: edges[key].label, room: 0 } : null;
      } else if (key.startsWith("n")) {
        const shape = group.querySelector("path, polygon");
        nodes[key] = {
          group,
          shape,
          fill: shape ? shape.getAttribute("fill") : null,
          data: slot(textStarting(group, "data "), shape),
          grad: slot(textStarting(group, "grad "), shape),
        };
      } else {
        ops[key] = group;
      }
      group.addEventListener("mouseenter", (event) => showTip(key, event));
      group.addEventListener("mousemove", moveTip);
      group.addEventListener("mouseleave", () => (tip.style.display = "none"));
    }
  }

  // --- hover: the rule of an op, the factor of an edge -------------------------
  function tipText(key) {
    const view = model.get("view");
    if (key.startsWith("n")) return view.nodes[key] && view.nodes[key].hover;
    if (key.startsWith("o")) return view.ops[key];
    if (key.endsWith("_out")) return "the op's result flows into its box";
    return view.edges[key] && view.edges[key].hover;
  }
  function showTip(key, event) {
    const text = tipText(key);
    if (!text) return;
    tip.textContent = text;
    tip.style.display = "block";
    moveTip(event);
  }
  function moveTip(event) {
    const area = root.getBoundingClientRect();
    const x = event.clientX - area.left + 14;
    const width = tip.offsetWidth;
    tip.style.left = `${Math.max(0, Math.min(x, area.width - width - 4))}px`;
    tip.style.top = `${event.clientY - area.top + 16}px`;
  }

  // --- the controls: a slider and a number field per leaf ----------------------
  let rows = {}; // leaf name -> {slider, field, grad, slope}
  let dragging = null;
  let pending = {};
  let inFlight = false;
  let sentAt = 0;

  function flush() {
    if (inFlight || Object.keys(pending).length === 0) return;
    inFlight = true;
    sentAt = performance.now();
    model.send({ action: "set", values: pending });
    pending = {};
    root.dataset.busy = "1";
  }
  function request(name, value) {
    pending[name] = value;
    flush();
    // A lost answer (kernel restarted) must not freeze the controls.
    setTimeout(() => {
      if (inFlight && performance.now() - sentAt > 5000) {
        inFlight = false;
        flush();
      }
    }, 5100);
  }

  function buildControls(leaves) {
    controls.textContent = "";
    rows = {};
    const groups = new Map();
    for (const leaf of leaves) {
      if (!groups.has(leaf.group)) groups.set(leaf.group, []);
      groups.get(leaf.group).push(leaf);
    }
    for (const [name, members] of groups) {
      let box = controls;
      if (name) {
        const details = el("details", "cg-group");
        details.open = groups.size <= 3;
        details.append(el("summary", "", `${name} (${members.length})`));
        controls.append(details);
        box = details;
      }
      const grid = el("div", "cg-grid");
      box.append(grid);
      for (const leaf of members) grid.append(buildRow(leaf));
    }
  }

  function buildRow(leaf) {
    const row = el("div", "cg-row");
    row.dataset.leaf = leaf.name;
    const label = el("label", "cg-name", leaf.name);
    label.title = leaf.name;
    const slider = el("input", "cg-slider");
    slider.type = "range";
    slider.setAttribute("aria-label", `${leaf.name} slider`);
    const field = el("input", "cg-field");
    field.type = "text";
    field.inputMode = "decimal";
    field.setAttribute("aria-label", `${leaf.name} value`);
    const grad = el("span", "cg-grad");
    const slope = el("span", "cg-slope");
    slider.addEventListener("pointerdown", () => (dragging = leaf.name));
    slider.addEventListener("input", () => {
      field.value = slider.value;
      request(leaf.name, Number(slider.value));
    });
    slider.addEventListener("change", () => (dragging = null));
    const submit = () => {
      const text = field.value.trim();
      if (text === field.dataset.shown) return; // unchanged (Enter, then blur)
      field.dataset.shown = text;
      const number = Number(text);
      // Anything but a number goes as typed: the kernel names what is wrong.
      request(leaf.name, text !== "" && Number.isFinite(number) ? number : text);
    };
    field.addEventListener("change", submit);
    field.addEventListener("keydown", (event) => {
      if (event.key === "Enter") submit();
    });
    row.append(label, slider, field, grad, slope);
    rows[leaf.name] = { slider, field, grad, slope, node: leaf.node };
    label.addEventListener("mouseenter", () => highlightLeaf(leaf.node, true));
    label.addEventListener("mouseleave", () => highlightLeaf(leaf.node, false));
    return row;
  }

  function highlightLeaf(key, on) {
    const node = nodes[key];
    if (node && node.group) node.group.classList.toggle("cg-lit", on);
  }

  function updateControls(leaves, force) {
    const names = leaves.map((l) => l.name).join("\n");
    if (names !== controls.dataset.names) {
      buildControls(leaves);
      controls.dataset.names = names;
    }
    const nudged = model.get("nudge");
    for (const leaf of leaves) {
      const row = rows[leaf.name];
      if (!row) continue;
      row.slider.min = String(leaf.min);
      row.slider.max = String(leaf.max);
      row.slider.step = String(leaf.step);
      if (force || dragging !== leaf.name) row.slider.value = String(leaf.value);
      if (force || document.activeElement !== row.field) {
        row.field.value = leaf.text;
        row.field.dataset.shown = leaf.text;
      }
      row.grad.textContent = `grad ${leaf.grad}`;
      row.slope.textContent = nudged && leaf.slope !== undefined ? `slope ${leaf.slope}` : "";
      row.slope.title = "(f(v + h) \u2212 f(v \u2212 h)) / 2h, h = 1e-6 \u00b7 max(1, |v|)";
    }
  }

  // --- drawing a state -----------------------------------------------------------
  function paintLive(view) {
    for (const [key, info] of Object.entries(view.nodes)) {
      const node = nodes[key];
      if (!node) continue;
      writeText(node.data, `data ${info.data}`);
      writeText(node.grad, `grad ${info.grad}`);
      if (node.grad) node.grad.text.setAttribute("fill", GRAD_COLOURS[info.sign] || "#000000");
      if (node.shape && node.fill) node.shape.setAttribute("fill", node.fill);
    }
    for (const [key, edge] of Object.entries(edges)) {
      const info = view.edges[key];
      if (info && edge.labelText) writeText(edge.labelText, info.label);
      setEdge(edge, false);
    }
  }

  function setEdge(edge, lit) {
    edge.group.classList.toggle("cg-flow", lit);
    if (edge.path) edge.path.setAttribute("stroke", lit ? "#ea580c" : edge.stroke || "#4b5563");
    if (edge.path) edge.path.setAttribute("stroke-width", lit ? "3" : "1");
    if (edge.head) edge.head.setAttribute("fill", lit ? "#ea580c" : edge.stroke || "#4b5563");
    if (edge.head) edge.head.setAttribute("stroke", lit ? "#ea580c" : edge.stroke || "#4b5563");
  }

  function paintBackward(view, k) {
    const steps = view.steps;
    const grads = {};
    const done = new Set([view.root]);
    grads[view.root] = "1";
    for (let s = 0; s < k; s++) {
      grads[steps[s].parent] = steps[s].after;
      if (steps[s].final) done.add(steps[s].parent);
    }
    const current = k > 0 ? steps[k - 1] : null;
    for (const [key, info] of Object.entries(view.nodes)) {
      const node = nodes[key];
      if (!node) continue;
      writeText(node.data, `data ${info.data}`);
      writeText(node.grad, `grad ${grads[key] !== undefined ? grads[key] : "?"}`);
      if (node.grad) node.grad.text.setAttribute("fill", "#000000");
      let fill = done.has(key) ? STEP_FILLS.done : STEP_FILLS.pending;
      if (current && key === current.node) fill = STEP_FILLS.upstream;
      if (current && key === current.parent) fill = STEP_FILLS.receiver;
      if (!current && key === view.root) fill = STEP_FILLS.upstream;
      if (node.shape) node.shape.setAttribute("fill", fill);
    }
    for (const [key, edge] of Object.entries(edges)) {
      const info = view.edges[key];
      if (info && edge.labelText) writeText(edge.labelText, info.label);
      setEdge(edge, current !== null && (key === current.edge || key === current.out));
    }
    caption.textContent = current ? current.caption : view.seed;
    stepText.textContent = `step ${k} of ${steps.length}`;
    range.max = String(steps.length);
    range.value = String(k);
    back.disabled = k <= 0;
    next.disabled = k >= steps.length;
  }

  function paint(force) {
    const view = model.get("view");
    if (!view || !view.nodes) return;
    const mode = model.get("mode");
    output.textContent = `${view.output_name} = ${view.output}`;
    live.classList.toggle("cg-on", mode === "live");
    backward.classList.toggle("cg-on", mode === "backward");
    nudge.checked = model.get("nudge");
    root.dataset.mode = mode;
    if (mode === "backward") paintBackward(view, Math.min(model.get("step"), view.steps.length));
    else paintLive(view);
    updateControls(view.leaves, force);
    const message = model.get("error");
    error.textContent = message;
    error.style.display = message ? "block" : "none";
    root.dataset.revision = String(model.get("revision"));
  }

  // --- wiring ------------------------------------------------------------------------
  function setTrait(name, value) {
    model.set(name, value);
    model.save_changes();
  }
  live.addEventListener("click", () => setTrait("mode", "live"));
  backward.addEventListener("click", () => setTrait("mode", "backward"));
  nudge.addEventListener("change", () => setTrait("nudge", nudge.checked));
  back.addEventListener("click", () => setTrait("step", Math.max(0, model.get("step") - 1)));
  next.addEventListener("click", () => setTrait("step", model.get("step") + 1));
  range.addEventListener("input", () => setTrait("step", Number(range.value)));

  // Shrunk to its column, the graph's smallest text must stay >= MIN_TEXT_PX: measure
  // it as drawn and, if smaller, give the picture a minimum width (it scrolls instead).
  function fitText() {
    const svg = graph.querySelector("svg");
    if (!svg || !svg.style.width) return;
    svg.style.minWidth = "";
    let smallest = Infinity;
    for (const text of svg.querySelectorAll("text")) {
      const matrix = text.getScreenCTM();
      const size = parseFloat(text.getAttribute("font-size"));
      if (matrix && size) smallest = Math.min(smallest, size * Math.hypot(matrix.a, matrix.b));
    }
    const shown = svg.getBoundingClientRect().width;
    if (smallest < MIN_TEXT_PX && shown > 0) {
      svg.style.minWidth = `${(shown * MIN_TEXT_PX) / smallest}px`;
    }
    root.dataset.smallestText = String(smallest * (parseFloat(svg.style.minWidth) / shown || 1));
  }

  // A graph wider or taller than its box scrolls: bring the output into view.
  function showOutput() {
    const view = model.get("view");
    const node = view && nodes[view.root];
    if (!node || graph.scrollWidth <= graph.clientWidth + 1) {
      if (!node || graph.scrollHeight <= graph.clientHeight + 1) return;
    }
    const area = graph.getBoundingClientRect();
    const box = node.group.getBoundingClientRect();
    graph.scrollLeft += box.left - area.left - (area.width - box.width) / 2;
    graph.scrollTop += box.top - area.top - (area.height - box.height) / 2;
  }

  // Fitting needs the page's layout: done when the graph first has a size (a view is
  // rendered before it is attached), again when its column is resized.
  // (The page may detach and attach the view again, which resets scrolling: until the
  // learner scrolls the graph, each fit brings the output back into view.)
  let lastWidth = 0;
  let scrolledByHand = false;
  for (const kind of ["wheel", "pointerdown", "keydown", "touchstart"]) {
    graph.addEventListener(kind, () => (scrolledByHand = true), { passive: true });
  }
  function fit() {
    if (graph.clientWidth === 0) return;
    fitText();
    if (!scrolledByHand) showOutput();
  }
  const onSvg = () => {
    loadSvg();
    paint(true);
    scrolledByHand = false;
    requestAnimationFrame(fit);
  };
  const resize = new ResizeObserver(() => {
    if (Math.abs(graph.clientWidth - lastWidth) < 1) return;
    lastWidth = graph.clientWidth;
    fit();
  });
  resize.observe(graph);
  const onView = () => paint(false);
  const onRevision = () => {
    inFlight = false;
    root.dataset.busy = "";
    root.dataset.latency = String(performance.now() - sentAt);
    paint(Boolean(model.get("error"))); // a refused value: every control back to the kernel's
    flush();
  };
  model.on("change:svg", onSvg);
  model.on("change:view", onView);
  model.on("change:mode", onView);
  model.on("change:step", onView);
  model.on("change:nudge", onView);
  model.on("change:revision", onRevision);
  onSvg();
  return () => {
    resize.disconnect();
    model.off("change:svg", onSvg);
    model.off("change:view", onView);
    model.off("change:mode", onView);
    model.off("change:step", onView);
    model.off("change:nudge", onView);
    model.off("change:revision", onRevision);
  };
}

export default { render };
