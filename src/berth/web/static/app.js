// Berth's UI: log in with a token, then a live list of the workloads that user may see.
// Everything goes through the API server with the user's own token: it decides what the user sees.

const SHOWN = 500; // rows drawn at most; the count says how many match

const state = { token: sessionStorage.getItem("berth-token"), workloads: new Map(), feed: null, drawing: false };
const $ = (id) => document.getElementById(id);

async function call(path) {
  const response = await fetch(path, { headers: { Authorization: `Bearer ${state.token}` } });
  if (!response.ok) {
    const body = await response.json().catch(() => ({}));
    throw new Error(body.message || `${response.status} ${response.statusText}`);
  }
  return response.json();
}

function show(page) {
  for (const id of ["login-page", "workloads-page"]) $(id).hidden = id !== page;
  $("logout").hidden = page === "login-page";
}

async function start() {
  if (!state.token) return show("login-page");
  try {
    const me = await call("/ui/api/me");
    if (me.refused) throw new Error(me.refused);
    $("who").textContent = `${me.name}${me.all ? " (all projects)" : ""}`;
  } catch (error) {
    sessionStorage.removeItem("berth-token");
    state.token = null;
    show("login-page");
    $("login-error").textContent = `That token was refused: ${error.message}`;
    return;
  }
  show("workloads-page");
  follow();
}

async function follow() {
  const controller = new AbortController();
  state.feed = controller;
  try {
    const response = await fetch("/ui/api/workloads", {
      headers: { Authorization: `Bearer ${state.token}` }, signal: controller.signal });
    if (!response.ok) throw new Error(`${response.status} ${response.statusText}`);
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffered = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffered += decoder.decode(value, { stream: true });
      const lines = buffered.split("\n");
      buffered = lines.pop();
      for (const line of lines) if (line) apply(JSON.parse(line));
      draw();
    }
  } catch (error) {
    if (error.name !== "AbortError") $("feed-error").textContent = `The live list stopped: ${error.message}`;
    return;
  }
  if (!controller.signal.aborted) setTimeout(follow, 1000); // the server ended the stream: follow again
}

function apply(event) {
  if (!event.workload) return;
  const w = event.workload;
  const key = `${w.kind}/${w.namespace}/${w.name}`;
  if (event.type === "DELETED") state.workloads.delete(key);
  else state.workloads.set(key, w);
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
  });
}

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
  return tr;
}

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
  $("who").textContent = "";
  show("login-page");
});
$("filters").addEventListener("change", draw);
start();
