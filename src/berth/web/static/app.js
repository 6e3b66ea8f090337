// Berth's UI: log in with a token, then a live list of the workloads that user may see.
// Everything goes through the API server with the user's own token: it decides what the user sees.

const SHOWN = 500; // rows drawn at most; the count says how many match

const state = { token: sessionStorage.getItem("berth-token"), workloads: new Map(), projects: new Map(),
  feed: null, drawing: false };
const $ = (id) => document.getElementById(id);

// Every request the page makes carries the user's token: the server acts as them.
function authed(path, init = {}) {
  return fetch(path, { ...init, headers: { ...init.headers, Authorization: `Bearer ${state.token}` } });
}

// A POST whose answer (JSON) says what was done or why not.
async function post(path, body, type) {
  const response = await authed(path, { method: "POST", body, headers: type ? { "Content-Type": type } : {} });
  return response.json();
}

// Each piece of a streamed answer, as text, as it arrives.
async function streamed(response, onText) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    onText(decoder.decode(value, { stream: true }));
  }
}

async function call(path) {
  const response = await authed(path);
  if (!response.ok) {
    const body = await response.json().catch(() => ({}));
    throw new Error(body.message || `${response.status} ${response.statusText}`);
  }
  return response.json();
}

const PAGES = ["login-page", "workloads-page", "submit-page", "projects-page", "detail-page", "nodes-page",
  "policies-page"];

function show(page) {
  for (const id of PAGES) $(id).hidden = id !== page;
  $("logout").hidden = page === "login-page";
}

function route() {
  if (!state.token || !state.me) return show("login-page");
  if (location.hash === "#submit" && state.me.writable.length) {
    show("submit-page");
    buildForm();
  } else if (location.hash === "#projects") show("projects-page");
  else if (location.hash === "#policies") {
    show("policies-page");
    loadPolicies();
  } else if (location.hash === "#nodes") {
    show("nodes-page");
    refreshNodes();
  }
  else if (location.hash.startsWith("#workload/")) {
    show("detail-page");
    openDetail(location.hash.slice("#workload/".length).split("/").map(decodeURIComponent));
  } else show("workloads-page");
}

async function start() {
  if (!state.token) return show("login-page");
  try {
    const me = await call("/ui/api/me");
    if (me.refused) throw new Error(me.refused);
    state.me = me;
    $("who").textContent = `${me.name}${me.all ? " (all projects)" : ""}`;
    $("nav-submit").hidden = !me.writable.length; // offered only to who may submit
  } catch (error) {
    sessionStorage.removeItem("berth-token");
    state.token = null;
    show("login-page");
    $("login-error").textContent = `That token was refused: ${error.message}`;
    return;
  }
  route();
  follow();
}

async function follow() {
  const controller = new AbortController();
  state.feed = controller;
  try {
    const response = await authed("/ui/api/workloads", { signal: controller.signal });
    if (!response.ok) throw new Error(`${response.status} ${response.statusText}`);
    let buffered = "";
    await streamed(response, (text) => {
      buffered += text;
      const lines = buffered.split("\n");
      buffered = lines.pop();
      for (const line of lines) if (line) apply(JSON.parse(line));
      draw();
    });
  } catch (error) {
    if (error.name !== "AbortError") $("feed-error").textContent = `The live list stopped: ${error.message}`;
    return;
  }
  if (!controller.signal.aborted) setTimeout(follow, 1000); // the server ended the stream: follow again
}

function apply(event) {
  if (event.project) {
    if (event.type === "DELETED") state.projects.delete(event.project.name);
    else state.projects.set(event.project.name, event.project);
    return;
  }
  if (!event.workload) return;
  const w = event.workload;
  const key = `${w.kind}/${w.namespace}/${w.name}`;
  if (event.type === "DELETED") state.workloads.delete(key);
  else state.workloads.set(key, w);
  if (state.detail && state.detail.join("/") === key) refreshDetail();
  if (location.hash === "#nodes") refreshNodes(); // placements follow the workloads' changes
}

let nodesTimer = null;
function refreshNodes() {
  clearTimeout(nodesTimer);
  nodesTimer = setTimeout(loadNodes, 300);
}

async function loadNodes() {
  const answer = await call("/ui/api/nodes");
  if (answer.refused) return;
  $("nodes").replaceChildren(...answer.nodes.map((node) => {
    const card = document.createElement("section");
    card.className = "node";
    card.dataset.node = node.name;
    const title = document.createElement("h3");
    title.textContent = `${node.name}${node.ready ? "" : " (not ready)"}`;
    const gpus = document.createElement("div");
    gpus.className = "gpus";
    gpus.append(...node.gpus.map((gpu) => {
      const tile = document.createElement("div");
      tile.className = "gpu";
      tile.dataset.gpu = gpu.index;
      const held = Math.min(1000, gpu.occupants.reduce((sum, o) => sum + o.milli, 0));
      tile.style.setProperty("--held", `${held / 10}%`);
      const head = document.createElement("strong");
      head.textContent = `GPU ${gpu.index} · ${Math.round(gpu.memoryMiB / 1024)} GiB` +
        (gpu.mig.length ? ` · MIG ${gpu.mig.join(", ")}` : "");
      tile.append(head, ...gpu.occupants.map((o) => {
        const line = document.createElement("span");
        line.className = "occupant";
        line.textContent = o.pod ? `${o.pod} (${o.namespace.replace(/^runai-/, "")}): ${o.share}`
          : `another project's pod: ${o.share}`;
        line.title = line.textContent;
        return line;
      }));
      tile.setAttribute("aria-label", `GPU ${gpu.index}: ${gpu.occupants.length ? gpu.occupants.map((o) =>
        `${o.pod || "another project's pod"} holds ${o.share}`).join("; ") : "free"}`);
      return tile;
    }));
    card.append(title, gpus);
    return card;
  }));
}

function options(select, values) {
  const chosen = select.value;
  const wanted = ["", ...[...values].sort()];
  if ([...select.options].map((o) => o.value).join("\n") === wanted.join("\n")) return;
  select.replaceChildren(...wanted.map((v) => new Option(v || "all", v)));
  select.value = wanted.includes(chosen) ? chosen : "";
}

function draw() {
  if (state.drawing) return;
  state.drawing = true;
  requestAnimationFrame(() => {
    state.drawing = false;
    const all = [...state.workloads.values()];
    options($("filter-project"), new Set(all.map((w) => w.project)));
    options($("filter-kind"), new Set(all.map((w) => w.kind)));
    options($("filter-phase"), new Set(all.map((w) => w.phase)));
    const [project, kind, phase] = ["project", "kind", "phase"].map((f) => $(`filter-${f}`).value);
    const matching = all.filter((w) => (!project || w.project === project) && (!kind || w.kind === kind)
      && (!phase || w.phase === phase)).sort((a, b) => (b.created || "").localeCompare(a.created || "")
      || a.name.localeCompare(b.name));
    $("count").textContent = matching.length > SHOWN ? `${SHOWN} of ${matching.length} shown`
      : `${matching.length} workload${matching.length === 1 ? "" : "s"}`;
    $("workloads").tBodies[0].replaceChildren(...matching.slice(0, SHOWN).map(row));
    drawProjects();
  });
}

function drawProjects() {
  const cards = [...state.projects.values()].sort((a, b) => a.name.localeCompare(b.name)).map((project) => {
    const card = document.createElement("section");
    card.className = "project";
    card.dataset.project = project.name;
    const title = document.createElement("h3");
    title.textContent = project.name;
    card.append(title, ...project.pools.map(poolRow));
    return card;
  });
  $("projects").replaceChildren(...cards);
}

function poolRow(p) {
  const within = Math.min(p.allocated, p.deserved);
  const over = Math.max(0, p.allocated - p.deserved);
  const waiting = Math.max(0, p.requested - p.allocated);
  const scale = Math.max(p.deserved, p.allocated + waiting, 1);
  const row = document.createElement("div");
  row.className = "pool";
  row.dataset.pool = p.pool;
  const name = document.createElement("span");
  name.textContent = p.pool;
  const bar = document.createElement("div");
  bar.className = "bar";
  bar.setAttribute("role", "img");
  const words = `${fmt(p.allocated)} of ${fmt(p.deserved)} deserved GPUs allocated` +
    (over ? `, ${fmt(over)} over quota` : "") + (waiting ? `, ${fmt(waiting)} waiting` : "");
  bar.setAttribute("aria-label", words);
  for (const [cls, amount] of [["within", within], ["over", over], ["waiting", waiting]]) {
    const part = document.createElement("span");
    part.className = cls;
    part.style.width = `${(100 * amount) / scale}%`;
    bar.append(part);
  }
  const quota = document.createElement("span");
  quota.className = "quota";
  quota.style.left = `${(100 * p.deserved) / scale}%`;
  bar.append(quota);
  const text = document.createElement("span");
  text.className = "figures";
  text.textContent = words;
  row.append(name, bar, text);
  return row;
}

const fmt = (n) => (Number.isInteger(n) ? String(n) : n.toFixed(2));

function row(w) {
  const tr = document.createElement("tr");
  tr.dataset.name = w.name;
  for (const [text, cls] of [[w.name], [w.project], [w.kind], [w.phase, `phase-${w.phase}`], [w.gpu],
    [w.created]]) {
    const td = document.createElement("td");
    td.textContent = text;
    if (cls) td.className = cls;
    tr.append(td);
  }
  const link = document.createElement("a");
  link.href = `#workload/${[w.kind, w.namespace, w.name].map(encodeURIComponent).join("/")}`;
  link.textContent = w.name;
  tr.cells[0].replaceChildren(link);
  return tr;
}

// -- a workload's page -------------------------------------------------------------------------------

function openDetail(key) {
  if (state.detail?.join("/") !== key.join("/")) {
    state.detail = key;
    state.logPod = null;
    state.log?.abort();
    $("log").textContent = "";
    $("act-result").textContent = "";
  }
  refreshDetail();
}

let refreshing = null;
function refreshDetail() {
  clearTimeout(refreshing);
  refreshing = setTimeout(loadDetail, 150); // a burst of changes is one read
}

async function loadDetail() {
  const [kind, namespace, name] = state.detail;
  const answer = await call(`/ui/api/workload/${kind}/${namespace}/${name}`);
  if (answer.refused) {
    $("detail-title").textContent = `${kind} ${name}`;
    $("detail-message").textContent = answer.refused;
    return;
  }
  const w = answer.workload, status = w.status || {};
  $("detail-title").textContent = `${kind} ${name} (${namespace.replace(/^runai-/, "")})`;
  $("detail-phase").textContent = status.phase || "Pending";
  $("detail-phase").className = `phase-${status.phase || "Pending"}`;

  const active = ((w.spec || {}).active || {}).value !== false;
  const may = state.me.writable.includes(namespace); // offered only to who may change it
  $("act-suspend").hidden = !may || !active || kind === "InferenceWorkload";
  $("act-resume").hidden = !may || active;
  $("act-delete").hidden = !may;
  const times = [["interruptions", "interrupted"], ["preemptions", "of them preempted"]].filter(([f]) => status[f])
    .map(([f, word]) => `${word} ${status[f]} time${status[f] === 1 ? "" : "s"}`);
  if (status.lastInterruption) times.push(`last: ${status.lastInterruption}`);
  $("detail-message").textContent = [[status.reason, status.message].filter(Boolean).join(": "), ...times]
    .filter(Boolean).join("; ");
  const waiting = answer.pods.filter((p) => p.waiting).map((p) => `${p.name}: ${p.waiting}`);
  const conditions = (status.conditions || []).filter((c) => c.status === "False" && c.message)
    .map((c) => `${c.type}: ${c.message}`);
  items($("detail-waiting"), [...conditions, ...waiting], "It is not waiting.");
  items($("detail-urls"), status.serviceUrls || [], "None.");
  rows($("detail-pods"), answer.pods.map((p) => [p.name, p.phase, p.node]));
  rows($("detail-events"), answer.events.map((e) => [e.time, e.reason, e.object,
    e.count > 1 ? `${e.message} (x${e.count})` : e.message]));
  $("detail-spec").textContent = yaml(w.spec || {});
  const pods = answer.pods.map((p) => p.name);
  const select = $("log-pod");
  if ([...select.options].map((o) => o.value).join() !== pods.join()) {
    select.replaceChildren(...pods.map((p) => new Option(p, p)));
    if (state.logPod && pods.includes(state.logPod)) select.value = state.logPod;
  }
  const running = answer.pods.find((p) => p.name === select.value && p.phase !== "Pending");
  if (running && state.logPod !== select.value) followLog(namespace, select.value);
}

function items(list, texts, none) {
  list.replaceChildren(...(texts.length ? texts : [none]).map((t) => {
    const li = document.createElement("li");
    li.textContent = t;
    return li;
  }));
}

function rows(table, cells) {
  table.tBodies[0].replaceChildren(...cells.map((values) => {
    const tr = document.createElement("tr");
    for (const v of values) {
      const td = document.createElement("td");
      td.textContent = v;
      tr.append(td);
    }
    return tr;
  }));
}

async function followLog(namespace, pod) {
  state.log?.abort();
  const controller = new AbortController();
  state.log = controller;
  state.logPod = pod;
  $("log").textContent = "";
  try {
    const response = await authed(`/ui/api/logs/${namespace}/${pod}`, { signal: controller.signal });
    await streamed(response, (text) => {
      const log = $("log");
      const atEnd = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
      log.textContent += text;
      if (atEnd) log.scrollTop = log.scrollHeight; // keep following unless the user scrolled up
    });
    if (response.headers.get("X-Berth-Log") === "waiting" && !controller.signal.aborted) {
      state.logPod = null; // not started yet: the next change of the workload tries again
    }
  } catch (error) {
    if (error.name !== "AbortError") $("log").textContent += `\n(the log stopped: ${error.message})`;
  }
}

async function act(action) {
  if (action === "delete" && !confirm(`Delete ${state.detail[2]}?`)) return;
  const [kind, namespace, name] = state.detail;
  const answer = await post(`/ui/api/workload/${kind}/${namespace}/${name}/${action}`);
  $("act-result").textContent = answer.done ? `${action}: done` : `Not done: ${answer.refused || answer.message}`;
  if (answer.done === "delete") location.hash = "#workloads";
  else refreshDetail();
}

$("log-pod").addEventListener("change", () => followLog(state.detail[1], $("log-pod").value));
for (const action of ["suspend", "resume", "delete"]) $(`act-${action}`).addEventListener("click", () => act(action));

$("login").addEventListener("submit", (event) => {
  event.preventDefault();
  state.token = $("token").value.trim();
  sessionStorage.setItem("berth-token", state.token);
  $("login-error").textContent = "";
  start();
});
$("logout").addEventListener("click", () => {
  state.feed?.abort();
  state.workloads.clear();
  sessionStorage.removeItem("berth-token");
  state.token = null;
  state.me = null;
  $("who").textContent = "";
  show("login-page");
});
$("filters").addEventListener("change", draw);
window.addEventListener("hashchange", route);

// -- submit ------------------------------------------------------------------------------------------

async function buildForm() {
  const kind = $("submit-kind").value;
  const projects = $("submit-project");
  if (projects.options.length !== state.me.writable.length) {
    projects.replaceChildren(...state.me.writable.map((ns) => new Option(ns.replace(/^runai-/, ""), ns)));
  }
  if (state.form?.kind !== kind) {
    state.form = await call(`/ui/api/form/${kind}`);
    const main = [], more = [];
    for (const field of state.form.fields) (field.main ? main : more).push(fieldRow(field));
    $("submit-fields").replaceChildren(...main);
    $("submit-more").replaceChildren(...more);
    state.bounds = null;
  }
  await applyPolicy();
  preview();
}

// The project's effective policy: its defaults pre-filled, its bounds and options shown, what it locks
// locked. The API server still decides on submit.
async function applyPolicy() {
  const namespace = $("submit-project").value;
  const kind = state.form.kind;
  if (!namespace || state.bounds?.key === `${kind}/${namespace}`) return;
  const answer = await call(`/ui/api/policy/${kind}/${namespace}`);
  state.bounds = { key: `${kind}/${namespace}` };
  $("submit-policy").textContent = answer.policy ? `Policy: ${answer.policy}.` : "No policy applies.";
  for (const field of state.form.fields) {
    const input = $(`field-${field.name}`);
    const rules = (answer.fields || {})[field.name] || {};
    const note = $(`policy-${field.name}`);
    document.getElementById(`options-${field.name}`)?.remove();
    const said = [];
    input.readOnly = false;
    input.disabled = false;
    input.removeAttribute("list");
    if (rules.items) { // an itemized field: the policy's default items, one a line
      input.value = Object.entries(rules.items).map(([label, value]) => (field.type === "pairs"
        ? `${label}=${value ?? ""}` : `${label}: ${Object.entries(value || {}).map(([k, v]) => `${k}=${v}`)
          .join(", ")}`)).join("\n");
      if (Object.keys(rules.items).length) said.push(`default items ${Object.keys(rules.items).join(", ")}`);
      if (rules.canAdd === false) said.push("no items may be added");
    }
    if (rules.value !== undefined && rules.value !== null) {
      if (field.type === "checkbox") input.checked = rules.value === true;
      else input.value = String(rules.value);
      said.push(`default ${rules.value}`);
    }
    if (rules.min !== undefined) said.push(`at least ${rules.min}`);
    if (rules.max !== undefined) said.push(`at most ${rules.max}`);
    if (rules.required) said.push("required");
    if (rules.options) {
      const list = document.createElement("datalist");
      list.id = `options-${field.name}`;
      list.replaceChildren(...rules.options.map((o) => new Option(String(o), String(o))));
      note.after(list);
      input.setAttribute("list", list.id);
      said.push(`one of ${rules.options.join(", ")}`);
    }
    if (rules.canEdit === false) {
      if (field.type === "checkbox" || field.type === "select") input.disabled = true;
      else input.readOnly = true;
      said.push("set by the policy");
    }
    note.textContent = said.length ? `Policy: ${said.join("; ")}.` : "";
  }
}

function fieldRow(field) {
  const row = document.createElement("div");
  row.className = "row";
  row.dataset.field = field.name;
  const label = document.createElement("label");
  label.htmlFor = `field-${field.name}`;
  label.textContent = field.label;
  const itemized = field.type === "pairs" || field.type === "records";
  const input = document.createElement(itemized ? "textarea" : field.type === "select" ? "select" : "input");
  input.id = `field-${field.name}`;
  input.name = field.name;
  if (field.type === "select") {
    input.replaceChildren(new Option("", ""), ...field.options.map((o) => new Option(o, o)));
  } else if (itemized) {
    input.rows = 2;
    input.placeholder = field.type === "pairs" ? "NAME=VALUE, one a line"
      : `label: ${Object.keys(field.keys).slice(0, 3).map((k) => `${k}=...`).join(", ")} (one a line)`;
  } else if (field.type !== "select") input.type = field.type;
  const verdict = document.createElement("span");
  verdict.className = "verdict";
  verdict.id = `verdict-spec.${field.name}`;
  verdict.setAttribute("role", "alert");
  const help = document.createElement("p");
  help.className = "help";
  help.id = `help-${field.name}`;
  help.textContent = field.type === "records" ? `${field.help} One item a line: label: key=value, ...; keys: ${
    Object.keys(field.keys).join(", ")}.` : field.type === "pairs" ? `${field.help} One a line: LABEL=VALUE.` : field.help;
  const policy = document.createElement("span");
  policy.className = "policy";
  policy.id = `policy-${field.name}`;
  input.setAttribute("aria-describedby", `help-${field.name} policy-${field.name}`);
  row.append(label, input, policy, verdict, help);
  return row;
}

function workload() {
  const spec = {};
  for (const field of state.form.fields) {
    const input = $(`field-${field.name}`);
    if (field.plain) {
      if (field.type === "checkbox") { if (input.checked) spec[field.name] = true; }
      else if (input.value.trim() !== "") {
        spec[field.name] = field.type === "number" ? Number(input.value) : input.value.trim();
      }
    } else if (field.type === "checkbox") { if (input.checked) spec[field.name] = { value: true }; }
    else if (field.type === "pairs" || field.type === "records") {
      const items = itemsOf(field, input.value);
      if (Object.keys(items).length) spec[field.name] = { items };
    } else if (input.value.trim() !== "") {
      spec[field.name] = { value: field.type === "number" ? Number(input.value) : input.value.trim() };
    }
  }
  return { apiVersion: state.form.apiVersion, kind: state.form.kind,
    metadata: { name: $("submit-name").value.trim(), namespace: $("submit-project").value }, spec };
}

// "NAME=VALUE" lines (pairs), or "label: key=value, key=value" lines (records, typed by the item's keys)
function itemsOf(field, text) {
  const items = {};
  for (const line of text.split("\n").map((l) => l.trim()).filter(Boolean)) {
    if (field.type === "pairs") {
      const at = line.indexOf("=");
      if (at > 0) items[line.slice(0, at).trim()] = { value: line.slice(at + 1).trim() };
      continue;
    }
    const at = line.indexOf(":");
    const label = (at > 0 ? line.slice(0, at) : line).trim();
    const value = {};
    for (const part of (at > 0 ? line.slice(at + 1) : "").split(",").map((p) => p.trim()).filter(Boolean)) {
      const eq = part.indexOf("=");
      const key = (eq > 0 ? part.slice(0, eq) : part).trim();
      const raw = eq > 0 ? part.slice(eq + 1).trim() : "true";
      const type = field.keys[key];
      value[key] = type === "number" && raw !== "" && !Number.isNaN(Number(raw)) ? Number(raw)
        : type === "checkbox" ? raw === "true" : raw;
    }
    items[label] = { value };
  }
  return items;
}

function yaml(value, indent = "") {
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  return Object.entries(value).map(([key, v]) => (v !== null && typeof v === "object"
    ? `${indent}${key}:\n${yaml(v, indent + "  ")}` : `${indent}${key}: ${JSON.stringify(v)}`)).join("\n");
}

function preview() { if (state.form) $("submit-yaml").textContent = yaml(workload()); }

function clearVerdicts() {
  for (const el of document.querySelectorAll(".verdict")) el.textContent = "";
  for (const el of document.querySelectorAll(".row.refused")) el.classList.remove("refused");
}

function verdictFor(field) {
  // spec.gpu, spec.gpu.value, metadata.name: the closest field the form has
  const parts = (field || "").split(".");
  for (let n = Math.min(parts.length, 2); n > 0; n--) {
    const el = document.getElementById(`verdict-${parts.slice(0, n).join(".")}`);
    if (el) return el;
  }
  return null;
}

$("submit").addEventListener("input", preview);
$("submit-kind").addEventListener("change", buildForm);
$("submit-project").addEventListener("change", buildForm);
$("submit").addEventListener("submit", (event) => {
  event.preventDefault();
  send(JSON.stringify(workload()), "application/json");
});
$("submit-upload").addEventListener("change", async () => {
  const file = $("submit-upload").files[0];
  if (file) await send(await file.text(), "application/yaml");
  $("submit-upload").value = "";
});

async function send(body, type) {
  clearVerdicts();
  $("submit-result").textContent = "Submitting...";
  const answer = await post("/ui/api/submit", body, type);
  if (answer.created) {
    $("submit-result").textContent = `Submitted ${answer.created.name} to ${answer.created.namespace}.`;
    return;
  }
  const refused = answer.refused || { message: answer.message, causes: [] };
  $("submit-result").textContent = `Not submitted: ${refused.message}`;
  for (const cause of refused.causes) {
    const el = verdictFor(cause.field);
    if (!el) continue;
    el.textContent = cause.message;
    el.closest(".row")?.classList.add("refused");
  }
}
// -- policies ----------------------------------------------------------------------------------------

async function loadPolicies() {
  const answer = await call("/ui/api/policies");
  if (answer.refused) return;
  state.policies = answer;
  rows($("policies"), answer.policies.map((p) => [p.kind, p.namespace === "runai" ? "global"
    : p.namespace.replace(/^runai-/, ""), p.name, ""]));
  [...$("policies").tBodies[0].rows].forEach((tr, i) => {
    const policy = answer.policies[i];
    tr.dataset.policy = policy.name;
    const open = document.createElement("button");
    open.type = "button";
    open.textContent = policy.editable ? "Edit" : "View";
    open.addEventListener("click", () => editPolicy(policy.yaml, policy.editable));
    tr.cells[3].replaceChildren(open);
  });
  $("policy-new").hidden = !answer.creatable.length;
}

function editPolicy(text, editable) {
  $("policy-editor").hidden = false;
  $("policy-yaml").value = text;
  $("policy-yaml").readOnly = !editable;
  $("policy-save").hidden = !editable;
  $("policy-verdict").replaceChildren();
  $("policy-result").textContent = "";
  $("policy-yaml").focus();
}

$("policy-new").addEventListener("click", () => editPolicy([
  "apiVersion: run.ai/v2alpha1", "kind: TrainingPolicy", "metadata:", "  name: limits",
  `  namespace: ${state.policies.creatable.find((ns) => ns !== "runai") || "runai"}`, "spec:",
  "  gpu: {rules: {max: \"4\"}}", ""].join("\n"), true));
$("policy-cancel").addEventListener("click", () => { $("policy-editor").hidden = true; });
$("policy-editor").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("policy-result").textContent = "Saving...";
  const answer = await post("/ui/api/policies", $("policy-yaml").value, "application/yaml");
  if (answer.saved) {
    $("policy-result").textContent = `Saved ${answer.saved}.`;
    $("policy-verdict").replaceChildren();
    loadPolicies();
    return;
  }
  const refused = answer.refused || { message: answer.message, causes: [] };
  $("policy-result").textContent = "Not saved.";
  items($("policy-verdict"), [refused.message, ...refused.causes.map((c) => `${c.field}: ${c.message}`)]
    .filter((t, i, all) => t && all.indexOf(t) === i), "");
});

start();
