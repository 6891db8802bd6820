/* The backprop player of chaingrad.viz (StepThrough): one SVG laid out once by
   Graphviz; each step recolours the nodes, rewrites the gradient texts and draws
   the step's edge pointing backward, from the node whose gradient flows to the
   parent that receives it. The state of step k is rebuilt from the step list.

   chaingradPlayer(root, data): root is the player's <div> (its id prefixes the
   ids of the SVG's elements: ID-n3 a value box, ID-o3 its op, ID-e3_0 the edge
   from the op's first input); data comes from chaingrad/viz/player.py. */

function chaingradPlayer(root, data) {
  "use strict";
  var view = root.querySelector(".cg-view");
  var svg = view.querySelector("svg");
  var captions = data.captions, steps = data.steps, last = captions.length - 1;
  var C = data.colours;
  var slider = root.querySelector(".cg-slider");
  var counter = root.querySelector(".cg-counter");
  var caption = root.querySelector(".cg-caption");
  var list = root.querySelector(".cg-steps");
  var zoomLabel = root.querySelector(".cg-zoom");
  var prefix = root.id + "-";
  var nodes = [], current = 0, timer = null, marked = [];
  var i, k;

  function byId(id) { return document.getElementById(prefix + id); }

  for (i = 0; i < data.finish.length; i++) {
    var g = byId("n" + i);
    var texts = g ? g.querySelectorAll("text") : [];
    nodes.push({
      group: g,
      shape: g ? g.querySelector("path, polygon") : null,
      grad: texts.length ? texts[texts.length - 1] : null
    });
  }

  // --- the backward edge: an animated overlay with an arrowhead at the receiver ---
  var overlay = svg.querySelector("g.graph") || svg;
  function edgeParts(id) {
    var g = byId(id);
    if (!g) { return null; }
    var label = null, texts = g.querySelectorAll("text");
    for (var j = 0; j < texts.length; j++) {
      if (texts[j].textContent.trim()) { label = texts[j]; }  // not the blank spacer
    }
    return {
      group: g,
      path: g.querySelector("path"),
      head: g.querySelector("polygon"),
      label: label
    };
  }
  function flow(path, colour) {
    // a copy of the edge's path on top of it, its dashes moving toward the path's
    // start: dot draws every edge forward, so its start is where the gradient goes
    var copy = path.cloneNode(false);
    copy.removeAttribute("id");
    copy.setAttribute("stroke", colour);
    copy.setAttribute("class", "cg-flow");
    copy.setAttribute("data-backward", "true");
    overlay.appendChild(copy);
    return copy;
  }
  function arrowAtStart(path, like, colour) {
    // a filled triangle at the path's start, pointing back into the receiving box
    var length = path.getTotalLength();
    if (!like || length < 2) { return null; }
    var tip = path.getPointAtLength(0);
    var from = path.getPointAtLength(Math.min(10, length));
    var dx = tip.x - from.x, dy = tip.y - from.y;
    var norm = Math.sqrt(dx * dx + dy * dy) || 1;
    dx /= norm; dy /= norm;
    var size = 12, half = 6;
    var bx = tip.x - dx * size, by = tip.y - dy * size;
    var head = like.cloneNode(false);
    head.removeAttribute("id");
    head.setAttribute("points", [
      tip.x + "," + tip.y,
      (bx - dy * half) + "," + (by + dx * half),
      (bx + dy * half) + "," + (by - dx * half)
    ].join(" "));
    head.setAttribute("fill", colour);
    head.setAttribute("stroke", colour);
    head.setAttribute("class", "cg-back-head");
    overlay.appendChild(head);
    return head;
  }
  function unmark() {
    for (var j = 0; j < marked.length; j++) {
      var m = marked[j];
      if (m.remove) { m.element.parentNode.removeChild(m.element); }
      else { m.element.setAttribute(m.attribute, m.old); }
    }
    marked = [];
  }
  function set(element, attribute, value) {
    if (!element) { return; }
    marked.push({element: element, attribute: attribute, old: element.getAttribute(attribute)});
    element.setAttribute(attribute, value);
  }
  function markBackward(step) {
    var out = edgeParts("e" + step[0] + "_out");
    var into = edgeParts("e" + step[0] + "_" + step[2]);
    if (out && out.path) { marked.push({element: flow(out.path, C.edge), remove: true}); }
    if (into && into.path) {
      marked.push({element: flow(into.path, C.edge), remove: true});
      var head = arrowAtStart(into.path, into.head, C.edge);
      if (head) { marked.push({element: head, remove: true}); }
      set(into.label, "fill", C.edge);
      set(into.label, "font-weight", "bold");
      set(into.group, "data-step-edge", "backward");
    }
  }

  // --- hover: the rule behind a box, an op or an edge ---
  var tip = document.createElement("div");
  tip.className = "cg-tip";
  tip.style.display = "none";
  root.appendChild(tip);
  function hoverText(id) {
    var m = /^(n|o|e)(\d+)(?:_(\d+|out))?$/.exec(id);
    if (!m) { return ""; }
    var position = parseInt(m[2], 10);
    if (m[1] === "n") { return data.tips.nodes[position] || ""; }
    if (m[1] === "o") { return data.tips.ops[position] || ""; }
    if (m[3] === "out") { return data.tips.ops[position] || ""; }
    var edges = data.tips.edges[position];
    return edges ? edges[parseInt(m[3], 10)] || "" : "";
  }
  // Graphviz's own tooltips are its ids (n0, n0->o2): the player shows its own.
  var titles = svg.querySelectorAll("title");
  for (i = 0; i < titles.length; i++) { titles[i].parentNode.removeChild(titles[i]); }
  var links = svg.querySelectorAll("a");
  for (i = 0; i < links.length; i++) {
    links[i].removeAttribute("xlink:title");
    links[i].removeAttribute("title");
  }
  svg.addEventListener("mouseover", function (e) {
    var g = e.target.closest ? e.target.closest("g.node, g.edge") : null;
    var text = g && g.id.indexOf(prefix) === 0 ? hoverText(g.id.slice(prefix.length)) : "";
    if (!text) { tip.style.display = "none"; return; }
    tip.textContent = text;
    tip.style.display = "block";
    var box = g.getBoundingClientRect(), frame = root.getBoundingClientRect();
    var left = Math.min(box.left - frame.left, Math.max(0, root.clientWidth - 520));
    tip.style.left = Math.max(0, left) + "px";
    tip.style.top = (box.bottom - frame.top + 6) + "px";
    tip.setAttribute("data-for", g.id.slice(prefix.length));
  });
  svg.addEventListener("mouseleave", function () { tip.style.display = "none"; });

  // --- the list of steps ---
  var items = [];
  for (k = 0; k <= last; k++) {
    var li = document.createElement("li");
    li.textContent = captions[k].replace(/^step \d+ of \d+: /, "");
    li.title = captions[k];
    li.setAttribute("data-step", String(k));
    li.addEventListener("click", (function (k) { return function () { stop(); show(k); }; })(k));
    list.appendChild(li);
    items.push(li);
  }

  function show(k, fromAddress) {
    k = Math.max(0, Math.min(last, k | 0));
    var grads = [], i;
    for (i = 0; i < nodes.length; i++) { grads.push(i === data.root ? "1" : "?"); }
    for (var s = 0; s < k; s++) { grads[steps[s][1]] = steps[s][3]; }
    var step = k > 0 ? steps[k - 1] : null;
    for (i = 0; i < nodes.length; i++) {
      var n = nodes[i];
      if (!n.group) { continue; }
      var fill = data.finish[i] <= k ? C.done : C.pending;
      if (step && i === step[0]) { fill = C.upstream; }
      if ((step && i === step[1]) || (!step && i === data.root)) { fill = C.receiver; }
      if (n.shape) { n.shape.setAttribute("fill", fill); }
      if (n.grad) { n.grad.textContent = "grad " + grads[i]; }
    }
    unmark();
    if (step) { markBackward(step); }
    if (items[current]) { items[current].className = ""; }
    items[k].className = "cg-current";
    if (list.scrollHeight > list.clientHeight) {
      list.scrollTop = items[k].offsetTop - list.offsetTop - list.clientHeight / 2;
    }
    current = k;
    slider.value = String(k);
    counter.textContent = "step " + k + " of " + last;
    caption.textContent = captions[k];
    root.setAttribute("data-current", String(k));
    if (data.followAddress && !fromAddress && window.history && window.history.replaceState) {
      try { window.history.replaceState(null, "", "#step=" + k); } catch (err) { /* file: */ }
    }
    var focus = step ? nodes[step[1]] : nodes[data.root];
    if (focus && focus.group) { reveal(focus.group); }
  }

  // --- zoom and pan ---
  var natural = svg.width.baseVal.value, naturalHeight = svg.height.baseVal.value;
  var zoom = 1;
  function setZoom(z) {
    zoom = Math.max(0.1, Math.min(4, z));
    svg.style.width = (natural * zoom) + "px";
    svg.style.height = (naturalHeight * zoom) + "px";
    zoomLabel.textContent = Math.round(zoom * 100) + "%";
  }
  function fit() {
    // as wide as the view, but never so small that text drops under 10 px
    var room = view.clientWidth - 2;
    setZoom(room > 0 && natural > room ? Math.max(data.minZoom, room / natural) : 1);
  }
  function reveal(el) {
    var box = el.getBoundingClientRect(), frame = view.getBoundingClientRect();
    if (box.left < frame.left || box.right > frame.right) {
      view.scrollLeft += (box.left + box.right) / 2 - (frame.left + frame.right) / 2;
    }
    if (box.top < frame.top || box.bottom > frame.bottom) {
      view.scrollTop += (box.top + box.bottom) / 2 - (frame.top + frame.bottom) / 2;
    }
  }
  var drag = null;
  view.addEventListener("pointerdown", function (e) {
    drag = {x: e.clientX, y: e.clientY, left: view.scrollLeft, top: view.scrollTop};
    view.classList.add("cg-dragging");
  });
  window.addEventListener("pointermove", function (e) {
    if (!drag) { return; }
    view.scrollLeft = drag.left - (e.clientX - drag.x);
    view.scrollTop = drag.top - (e.clientY - drag.y);
  });
  window.addEventListener("pointerup", function () {
    drag = null;
    view.classList.remove("cg-dragging");
  });
  view.addEventListener("wheel", function (e) {
    if (!(e.ctrlKey || e.metaKey)) { return; }
    e.preventDefault();
    setZoom(zoom * (e.deltaY < 0 ? 1.1 : 1 / 1.1));
  }, {passive: false});

  // --- controls ---
  function stop() {
    if (timer) { clearInterval(timer); timer = null; }
    root.querySelector(".cg-play").textContent = "play";
  }
  function play() {
    if (timer) { stop(); return; }
    if (current >= last) { show(0); }
    root.querySelector(".cg-play").textContent = "pause";
    timer = setInterval(function () {
      if (current >= last) { stop(); } else { show(current + 1); }
    }, 1200);
  }
  function on(cls, f) { root.querySelector(cls).addEventListener("click", f); }
  on(".cg-first", function () { stop(); show(0); });
  on(".cg-prev", function () { stop(); show(current - 1); });
  on(".cg-next", function () { stop(); show(current + 1); });
  on(".cg-last", function () { stop(); show(last); });
  on(".cg-play", play);
  on(".cg-zoom-in", function () { setZoom(zoom * 1.25); });
  on(".cg-zoom-out", function () { setZoom(zoom / 1.25); });
  on(".cg-fit", fit);
  slider.addEventListener("input", function () { stop(); show(parseInt(slider.value, 10)); });
  root.addEventListener("keydown", function (e) {
    var keys = {ArrowRight: 1, ArrowLeft: -1};
    if (e.key in keys) { stop(); show(current + keys[e.key]); }
    else if (e.key === "Home") { stop(); show(0); }
    else if (e.key === "End") { stop(); show(last); }
    else if (e.key === "+" || e.key === "=") { setZoom(zoom * 1.25); }
    else if (e.key === "-") { setZoom(zoom / 1.25); }
    else if (e.key === "0") { fit(); }
    else if (e.key === " ") { play(); }
    else { return; }
    e.preventDefault();
  });

  // --- the address: page.html#step=12 opens step 12, and follows the step shown ---
  function addressStep() {
    var match = /(?:^#|&)step=(\d+)/.exec(window.location.hash || "");
    return match ? parseInt(match[1], 10) : null;
  }
  if (data.followAddress) {
    window.addEventListener("hashchange", function () {
      var k = addressStep();
      if (k !== null && k !== current) { stop(); show(k, true); }
    });
  }

  svg.removeAttribute("width");
  svg.removeAttribute("height");
  fit();
  var start = addressStep();
  show(start === null ? 0 : start, true);
}
