"use strict";
// The studio page: plain JavaScript, no library.  Every request goes to this server (relative URLs);
// the token travels in the same-site cookie the first answer set.
const state = {session: null, busy: false};
const METRICS = [["accuracy", "accuracy"], ["f1", "F1"], ["roc_auc", "ROC-AUC"]];

function el(tag, attributes, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes || {})) {
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child);
  return node;
}

function detailText(detail) {
  if (typeof detail === "string") return detail;
  if (detail && detail.error) return detail.error;
  if (Array.isArray(detail)) return detail.map((d) => d.msg || JSON.stringify(d)).join("; ");
  return JSON.stringify(detail);
}

async function api(path, options) {
  const response = await fetch(path, options);
  let body = null;
  try { body = await response.json(); } catch (error) { body = {detail: response.statusText}; }
  if (!response.ok) {
    const problem = new Error(detailText(body.detail));
    problem.status = response.status;
    throw problem;
  }
  return body;
}

function postJson(path, payload) {
  return api(path, {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(payload || {})});
}

function setStatus(text, busy) {
  const status = document.getElementById("job-status");
  status.textContent = text;
  status.classList.toggle("busy", Boolean(busy));
  state.busy = Boolean(busy);
  for (const id of ["evaluate", "train", "rank"]) document.getElementById(id).disabled = state.busy;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Start a job (POST) and poll it until it ends; the status line shows its progress.
async function runJob(path, payload, label) {
  let job;
  try {
    job = await postJson(path, payload);
  } catch (error) {
    if (error.status === 409) setStatus("busy: " + error.message, false);
    throw error;
  }
  return followJob(job, label);
}

async function followJob(job, label) {
  const began = Date.now();
  while (job.state === "running") {
    const seconds = ((Date.now() - began) / 1000).toFixed(0);
    setStatus(label + "… " + seconds + " s " + (job.progress ? "· " + job.progress : ""), true);
    await sleep(400);
    job = await api("api/jobs/" + job.id);
  }
  if (job.state === "failed") {
    setStatus(label + " failed", false);
    throw new Error(job.error);
  }
  setStatus(label + " done in " + job.seconds.toFixed(1) + " s", false);
  return job.result;
}

function selection() {
  const blocks = [], weights = [], problems = [];
  for (const box of document.querySelectorAll("input.block-select")) {
    if (!box.checked) continue;
    const text = document.getElementById("weight-" + box.dataset.block).value.trim();
    const weight = Number(text);
    if (text === "" || !Number.isFinite(weight) || weight < 0 || weight > 1) {
      problems.push("weight of " + box.dataset.block + " must lie in [0, 1], got '" + text + "'");
    }
    blocks.push(box.dataset.block);
    weights.push(weight);
  }
  return {blocks, weights, problems};
}

function chosenOrComplain() {
  const chosen = selection();
  const error = document.getElementById("selection-error");
  error.textContent = chosen.problems.join("; ");
  return chosen.problems.length ? null : chosen;
}

function showTab(name) {
  for (const panel of document.querySelectorAll(".panel")) panel.hidden = panel.id !== "tab-" + name;
  for (const tab of document.querySelectorAll("nav .tab")) tab.classList.toggle("active", tab.dataset.tab === name);
}

function buildBlockList(session) {
  const body = document.querySelector("#block-list tbody");
  body.replaceChildren();
  for (const block of session.blocks) {
    const box = el("input", {type: "checkbox", class: "block-select", id: "select-" + block, "data-block": block});
    box.checked = session.default_blocks.includes(block);
    const weight = el("input", {type: "number", class: "block-weight", id: "weight-" + block, min: "0", max: "1",
                                step: "0.05", value: String(session.default_weight)});
    const show = el("button", {type: "button", class: "show-block", id: "show-" + block, text: "show"});
    show.addEventListener("click", () => drawBlock(block));
    body.append(el("tr", {id: "row-" + block},
      el("td", {}, box), el("td", {}, el("label", {for: "select-" + block, text: block})), el("td", {}, weight),
      el("td", {class: "rank", id: "rank-" + block}), el("td", {}, show)));
  }
}

function fmt(values) {
  return values ? values.mean.toFixed(3) + " ± " + values.std.toFixed(3) : "–";
}

function showRanking(ranking) {
  const rows = ranking.blocks.map((entry) => {
    document.getElementById("rank-" + entry.block).textContent = "#" + entry.rank;
    document.getElementById("row-" + entry.block).classList.toggle("suggested", entry.suggested);
    return el("tr", {class: entry.suggested ? "suggested" : ""},
      el("td", {text: String(entry.rank)}), el("td", {class: "text", text: entry.block}),
      el("td", {text: entry.probe_accuracy.toFixed(3) + " ± " + entry.probe_std.toFixed(3)}),
      el("td", {text: entry.separation.toFixed(3)}), el("td", {class: "text", text: entry.suggested ? "yes" : ""}));
  });
  const table = el("table", {class: "numbers", id: "ranking-table"},
    el("thead", {}, el("tr", {}, ...["rank", "block", "probe accuracy", "NMF separation", "suggested"]
      .map((name) => el("th", {text: name})))), el("tbody", {}, ...rows));
  document.getElementById("ranking").replaceChildren(table,
    el("p", {class: "hint", text: "Suggested: " + ranking.suggested.join(", ") + " (from " + ranking.n_images +
      " images). Press 'show' beside a block to see its pictures."}));
}

async function rank() {
  try {
    showRanking(await runJob("api/ranking", {}, "ranking the blocks"));
  } catch (error) {
    document.getElementById("ranking").textContent = "ranking failed: " + error.message;
  }
}

function figure(src, caption, alt) {
  return el("figure", {}, el("img", {src: src, alt: alt || caption, loading: "lazy"}), el("figcaption", {text: caption}));
}

function showBlock(view) {
  const contrast = el("div", {class: "row contrast"},
    ...view.contrast.map((c) => figure("files/" + c.picture, c.label, view.block + " " + c.label)));
  const byLabel = new Map();
  for (const card of view.cards) {
    if (!byLabel.has(card.label)) byLabel.set(card.label, []);
    byLabel.get(card.label).push(card);
  }
  const rows = [...byLabel].map(([label, cards]) => el("div", {class: "row cards"},
    el("h4", {class: label, text: label + " images"}),
    ...cards.map((card) => el("div", {class: "row"},
      figure("files/" + card.where, "where: " + card.name),
      figure("files/" + card.group, "what it responds to"),
      figure("files/" + card.probe, "probe p(positive) " + card.probe_positive.toFixed(2))))));
  document.getElementById("block-detail").replaceChildren(el("section", {class: "block", id: "block-" + view.block},
    el("h3", {text: "Block " + view.block + " — rank " + view.rank + "; probe accuracy " +
      view.probe_accuracy.toFixed(3) + " ± " + view.probe_std.toFixed(3) + "; NMF separation " + view.separation.toFixed(3)}),
    el("p", {class: "hint", text: "Class contrast (each class's mean neuron group relative to the mean of all), then per " +
      "image: where its rank-1 group fires, what the group responds to, and the block probe's class map " +
      "(red: toward positive, blue: toward negative)."}), contrast, ...rows));
}

async function drawBlock(block) {
  showTab("blocks");
  const detail = document.getElementById("block-detail");
  const drawn = state.session.blocks_drawn;
  if (drawn.includes(block)) {
    try {
      showBlock(await api("api/blocks/" + encodeURIComponent(block)));
    } catch (error) {
      detail.textContent = error.message;
    }
    return;
  }
  detail.replaceChildren(el("p", {class: "hint", text: "drawing block " + block + "…"}));
  try {
    showBlock(await runJob("api/blocks/" + encodeURIComponent(block), {}, "drawing block " + block));
    drawn.push(block);
  } catch (error) {
    detail.textContent = "block " + block + ": " + error.message;
  }
}

function comparisonTable(row, defaultRow, paper) {
  const head = el("tr", {}, el("th", {text: "model"}), ...METRICS.map(([, title]) => el("th", {text: title})));
  const line = (name, summary, cls) => el("tr", {class: cls || ""}, el("td", {class: "text", text: name}),
    ...METRICS.map(([key]) => el("td", {text: fmt(summary[key])})));
  const rows = [line("your set: " + row.label + " (try " + row.number + ")", row.summary, "mine")];
  if (defaultRow) rows.push(line("shipped default: " + defaultRow.label.replace("shipped default", defaultRow.blocks.join(", ")),
    defaultRow.summary));
  for (const [method, values] of Object.entries(paper || {})) {
    rows.push(el("tr", {}, el("td", {class: "text", text: "paper, Table 3: " + method}),
      ...METRICS.map(([key]) => el("td", {text: key in values ? values[key].toFixed(3) : "–"}))));
  }
  return el("table", {class: "numbers", id: "comparison"}, el("thead", {}, head), el("tbody", {}, ...rows));
}

function foldTable(row) {
  const keys = ["accuracy", "precision", "recall", "f1", "roc_auc"];
  return el("table", {class: "numbers", id: "fold-table"},
    el("thead", {}, el("tr", {}, ...["fold", "train", "test", ...keys].map((k) => el("th", {text: k})))),
    el("tbody", {}, ...row.folds.map((fold) => el("tr", {},
      el("td", {text: String(fold.fold)}), el("td", {text: String(fold.n_train)}), el("td", {text: String(fold.n_test)}),
      ...keys.map((k) => el("td", {text: k in fold ? fold[k].toFixed(3) : "–"}))))));
}

function showHistory(rows) {
  const body = document.querySelector("#history tbody");
  body.replaceChildren(...rows.map((row, index) => {
    const use = el("button", {type: "button", text: "tick again"});
    use.addEventListener("click", () => {
      for (const box of document.querySelectorAll("input.block-select")) {
        const position = row.blocks.indexOf(box.dataset.block);
        box.checked = position >= 0;
        if (position >= 0) document.getElementById("weight-" + box.dataset.block).value = String(row.weights[position]);
      }
    });
    return el("tr", {class: index === rows.length - 1 ? "latest history-row" : "history-row"},
      el("td", {text: String(row.number)}), el("td", {class: "text", text: row.blocks.join(" ") || "none"}),
      el("td", {class: "text", text: row.weights.join(" ")}),
      ...METRICS.map(([key]) => el("td", {text: fmt(row.summary[key])})),
      el("td", {text: row.seconds.toFixed(1)}), el("td", {}, use));
  }));
}

async function evaluate() {
  const chosen = chosenOrComplain();
  if (!chosen) return;
  showTab("evaluate");
  try {
    const answer = await runJob("api/evaluate", {blocks: chosen.blocks, weights: chosen.weights}, "evaluating");
    document.getElementById("result").replaceChildren(
      comparisonTable(answer.row, answer.default, state.session.paper),
      el("p", {class: "hint", text: "Cross-validation took " + answer.row.seconds.toFixed(1) + " s on the cached features."}));
    document.getElementById("folds").replaceChildren(foldTable(answer.row));
    showHistory((await api("api/history")).rows);
  } catch (error) {
    document.getElementById("selection-error").textContent = "evaluate: " + error.message;
  }
}

function showTrained(result) {
  document.getElementById("train-result").replaceChildren(
    el("p", {id: "trained-note", text: "Trained on " + result.images + " images with blocks " +
      (result.blocks.join(", ") || "none") + " (final loss " + result.final_loss.toFixed(4) + ", " +
      result.seconds.toFixed(1) + " s)."}),
    el("p", {}, "Checkpoint: ", el("code", {text: result.checkpoint})),
    el("p", {}, "Config: ", el("code", {text: result.config})),
    el("p", {class: "hint", text: "Use it with sentilens predict --checkpoint, or try it in the Try tab."}));
  const option = document.querySelector("#try-model option[value=trained]");
  option.disabled = false;
}

async function train() {
  const chosen = chosenOrComplain();
  if (!chosen) return;
  showTab("train");
  document.getElementById("train-result").replaceChildren(el("p", {class: "hint", text: "training…"}));
  try {
    showTrained(await runJob("api/train", {blocks: chosen.blocks, weights: chosen.weights}, "training"));
    document.getElementById("try-model").value = "trained";
  } catch (error) {
    document.getElementById("train-result").textContent = "training failed: " + error.message;
  }
}

function tryCard(item) {
  const heads = Object.entries(item).filter(([key]) => key.startsWith("head_"));
  const votes = el("table", {class: "numbers"},
    el("thead", {}, el("tr", {}, el("th", {text: "head"}), el("th", {text: "p(positive)"}))),
    el("tbody", {}, ...heads.map(([key, value]) => el("tr", {},
      el("td", {class: "text", text: key.slice(5)}), el("td", {text: Number(value).toFixed(3)})))));
  const figures = [figure(item.gradcam_png, "Grad-CAM at " + item.gradcam_block + " (" + item.gradcam_label + ")")];
  if (item.group_where_png) {
    figures.push(figure(item.group_where_png, "where its neuron group fires (" + item.group_block + ")"));
    figures.push(figure(item.group_picture_png, "what the group responds to"));
  }
  return el("div", {class: "try-card"},
    el("div", {}, el("p", {class: "name", text: item.file}),
      el("p", {class: "verdict " + item.label, text: item.label + " " + Number(item.probability).toFixed(3)}),
      el("p", {class: "hint", text: "fused p(positive) " + Number(item.positive_probability).toFixed(3)}), votes),
    ...figures);
}

async function classify(files) {
  const error = document.getElementById("try-error");
  error.textContent = "";
  if (!files.length) return;
  const form = new FormData();
  for (const file of files) form.append("files", file, file.name);
  form.append("model", document.getElementById("try-model").value);
  setStatus("classifying " + files.length + " image(s)…", true);
  try {
    const answer = await api("api/explain", {method: "POST", body: form});
    document.getElementById("try-results").replaceChildren(...answer.explanations.map(tryCard));
    setStatus("classified " + files.length + " image(s)", false);
  } catch (problem) {
    error.textContent = problem.message;
    setStatus("", false);
  }
}

async function start() {
  for (const tab of document.querySelectorAll("nav .tab")) tab.addEventListener("click", () => showTab(tab.dataset.tab));
  document.getElementById("rank").addEventListener("click", rank);
  document.getElementById("evaluate").addEventListener("click", evaluate);
  document.getElementById("train").addEventListener("click", train);
  const input = document.getElementById("try-files");
  input.addEventListener("change", () => classify([...input.files]));
  const drop = document.getElementById("drop");
  drop.addEventListener("dragover", (event) => { event.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("over");
    showTab("try");
    classify([...event.dataTransfer.files]);
  });
  showTab("blocks");
  const session = await api("api/session");
  state.session = session;
  const counts = Object.entries(session.classes).map(([name, count]) => count + " " + name).join(", ");
  document.getElementById("dataset").textContent = session.dataset + ": " + session.images + " images (" +
    counts + ") · " + session.backbone;
  document.getElementById("protocol").textContent = "Stratified " + session.folds + "-fold cross-validation, seed " +
    session.seed + ", duplicates kept together: the folds of sentilens cv. Heads train on the cached frozen features.";
  buildBlockList(session);
  if (session.ranking) showRanking(session.ranking);
  if (session.history.length) showHistory(session.history);
  if (session.trained_files) {
    document.querySelector("#try-model option[value=trained]").disabled = false;
  }
  if (session.job) {
    try { await followJob(session.job, session.job.kind); } catch (error) { /* shown in the status line */ }
  }
  document.body.dataset.ready = "true";
}

start().catch((error) => setStatus("cannot reach the studio: " + error.message, false));
