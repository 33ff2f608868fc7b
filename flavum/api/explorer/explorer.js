"use strict";
// The explorer: a page per batch, model, trace entry, account and object, read from the node's
// API (hash routes such as #/batch/3 or #/trace/0x…) and refreshed every few seconds.

const REFRESH_MS = 3000;
const view = document.getElementById("view");
const live = document.getElementById("live");
const verdicts = {};  // tx hash -> {ok, message}: a verification's outcome outlives a refresh
let assets = null;
let rendering = false;
let shownHtml = "";

// --- small HTML helpers (every API string is escaped) ---

const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const short = (h) => h
  ? `<code title="${esc(h)}">${esc(h.slice(0, 10))}…${esc(h.slice(-4))}</code>` : "—";
const link = (route, label) => `<a href="#/${route}">${label}</a>`;
const batchLink = (n) => (n === null || n === undefined) ? "—" : link(`batch/${n}`, `#${n}`);
const modelLink = (id) => link(`model/${id}`, short(id));
const objectLink = (id) => id === ZERO ? "—" : link(`object/${id}`, short(id));
const traceLink = (h) => link(`trace/${h}`, short(h));
const accountLink = (a) => link(`account/${a}`, short(a));
const status = (s) => `<span class="status-${esc(s)}">${esc(s)}</span>`;
const state = (s) => `<span class="state-${esc(s)}">${esc(s)}</span>`;
const time = (t) => new Date(t * 1000).toLocaleString();
const ZERO = "0x" + "0".repeat(64);

function table(id, headers, rows) {
  const body = rows.length
    ? rows.map((cells) => `<tr>${cells.map((c) => `<td>${c ?? ""}</td>`).join("")}</tr>`).join("")
    : `<tr><td class="muted" colspan="${headers.length}">none yet</td></tr>`;
  return `<table id="${id}"><thead><tr>${headers.map((h) => `<th>${h}</th>`).join("")}` +
    `</tr></thead><tbody>${body}</tbody></table>`;
}

function fields(id, pairs) {
  return `<dl id="${id}">` +
    pairs.map(([k, v]) => `<dt>${k}</dt><dd>${v ?? "—"}</dd>`).join("") + "</dl>";
}

async function get(path) {
  const response = await fetch(path);
  const body = await response.json();
  if (!response.ok) {
    const error = new Error(body.message || `HTTP ${response.status}`);
    error.status = response.status;
    throw error;
  }
  return body;
}

async function getOrNull(path) {
  try { return await get(path); } catch (e) { if (e.status === 404) return null; throw e; }
}

// --- numbers people read ---

function amount(value, asset) {
  const known = assets && assets.find((a) => a.asset === asset);
  if (!known) return `${esc(value)} <span class="muted">of asset ${short(asset)}</span>`;
  const v = BigInt(value), unit = 10n ** BigInt(known.decimals);
  const fraction = (v % unit).toString().padStart(known.decimals, "0").replace(/0+$/, "");
  const where = known.ledger ? ` <span class="muted">(${esc(known.ledger)})</span>` : "";
  return `${v / unit}${fraction ? "." + fraction : ""} ${esc(known.unit)}${where}`;
}

const number = (x) => typeof x === "number"
  ? (Number.isInteger(x) ? String(x) : x.toPrecision(4)) : esc(x);

function numbers(values, most = 8) {
  const flat = [].concat(...values.map((v) => Array.isArray(v) ? v : [v]));
  const shown = flat.slice(0, most).map(number).join(", ");
  return `<span class="values">${shown}${flat.length > most ? ", …" : ""}</span>`;
}

// An inference's result as the node reads it: the class of a classifier (by its label where
// the model was trained on string labels), the dequantized
// values under their name (logits, probabilities, scores or values), probabilities only where
// the model applies softmax/sigmoid; only the fixed-point integers (`proven`) are proven.
function result(r, most = 8) {
  if (!r) return '<span class="muted">model gone</span>';
  const lines = [];
  if (r.label) lines.push(`class ${esc(r.label[0])} <span class="muted">(index ` +
    `${number(r.prediction[0])})</span>`);
  else if (r.prediction) lines.push(`class ${number(r.prediction[0])}`);
  lines.push(`${esc(r.proven_output)} ${numbers(r.values, most)}`);
  if (r.probabilities && r.proven_output !== "probabilities") {
    lines.push(`probabilities ${numbers(r.probabilities, most)} ` +
      '<span class="muted">(derived outside the circuit)</span>');
  }
  lines.push(`<span class="muted">proven (fixed-point, scale 2^${number(r.proven.scale)})` +
    `</span> ${numbers(r.proven.fixed_point, most)}`);
  return lines.join("<br>");
}

// --- pages ---

async function home() {
  const [st, batches, models, data, traces, withdrawals] = await Promise.all([
    get("/v1/status"), get("/v1/batches"), get("/v1/models"), get("/v1/data"),
    get("/v1/traces"), get("/v1/withdrawals")]);
  const summary =
    `<p id="summary"><span>state root ${short(st.state_root)}</span>` +
    `<span>${st.transactions} transactions</span><span>${st.blocks} blocks</span>` +
    `<span>${st.batches} batches</span><span>${st.pending} pending</span>` +
    st.ledgers.map((l) => `<span>ledger ${esc(l.name)}: ` + (l.state === "posting"
      ? state("posting") : `${state(l.state.toUpperCase())}: ${esc(l.last_error)}`) +
      "</span>").join("") + "</p>";
  return `<h1>Flavum explorer</h1>
    <div class="muted">A machine-learning L2 rollup: inferences proven with zero-knowledge
    proofs, batches committed with Merkle roots to ledgers.</div>${summary}
    <h2>Batch sizes over time</h2>${batchChart(batches)}
    <h2>Proof times</h2>${proofChart(traces)}
    <h2>Batches</h2>${table("batches", ["#", "txs", "sealed", "state root", "ledgers"],
      batches.slice().reverse().slice(0, 25).map((b) => [
        batchLink(b.number), b.tx_count, time(b.sealed_at), short(b.state_root),
        (b.ledgers || []).map((l) => `${esc(l.name)}: ${state(l.state)}`).join(", ") || "—"]))}
    <h2>Models</h2>${table("models", ["model", "owner", "access", "fee", "proves",
      "top-1 agreement", "max abs error"], models.map((m) => [
        modelLink(m.object_id), accountLink(m.owner), esc(m.access), amount(m.fee, m.fee_asset),
        ...(m.record === null ? [m.model_id === ZERO ? "a trainable architecture's circuit"
          : "a trainable model's version", "—", "—"] : [esc(m.record.proven_output),
          agreement(m.record.accuracy), m.record.accuracy.max_abs_error.toExponential(1)])]))}
    <h2>Data points</h2>${dataTable(data)}
    <h2>Inference traces</h2>${traceTable(traces)}
    <h2>Withdrawals</h2>${table("withdrawals", ["withdrawal", "recipient", "amount", "object",
      "batch"], withdrawals.map((w) => [
        short(w.withdrawal_id), short(w.recipient), amount(w.amount, w.asset),
        w.object_kind ? objectLink(w.object_id) : "—", batchLink(w.batch)]))}`;
}

const agreement = (a) => a.top1_agreement === null
  ? "—" : `${(100 * a.top1_agreement).toFixed(0)}%`;

function dataTable(data) {
  return table("data", ["data", "owner", "access", "commitment", "values"], data.map((d) => [
    objectLink(d.object_id), accountLink(d.owner), esc(d.access), short(d.commitment),
    d.values ? numbers(d.values, 6) : '<span class="muted">private</span>']));
}

// A page of an object's or account's inferences (the node lists them by key, newest first),
// with links to the older page and back to the newest.
const PAGE = 25;

async function tracesOf(path, before) {
  const cursor = /^\d+$/.test(before || "") ? `&before=${before}` : "";
  return get(`${path}?limit=${PAGE}${cursor}`);
}

function pagedTraces(route, page, before) {
  const links = [before ? link(route, "← newest") : "",
    page.next_before ? link(`${route}/${page.next_before}`, "older inferences →") : ""];
  return traceTable(page.traces) + `<p id="pager">${links.join(" ")}</p>`;
}

function traceTable(traces) {
  return table("traces", ["trace (tx)", "model", "data", "result", "batch", "proof"],
    traces.map((t) => t.kind === "training"
      ? [traceLink(t.tx_hash), modelLink(t.step_model_id), `${t.steps} training steps`,
        `version ${modelLink(t.version_id)}`, batchLink(t.batch), status(t.proof_status)]
      : [traceLink(t.tx_hash), modelLink(t.model_id), objectLink(t.data_id),
        result(t.result, 4), batchLink(t.batch), status(t.proof_status)]));
}

// A trainable model's version (its lineage back to the first) or an architecture's circuit.
async function trainablePage(m) {
  const head = `<h1>Model ${short(m.object_id)}</h1>${fields("model-fields", [
    ["owner", accountLink(m.owner)], ["access", esc(m.access)],
    ["fee", amount(m.fee, m.fee_asset)], ["weights (commitment)", short(m.commitment)]])}`;
  if (m.model_id === ZERO) {
    return head + `<p class="muted">A circuit of a trainable architecture (its training step,
      or the inference every version shares): docs/training.md.</p>`;
  }
  const chain = await get(`/v1/models/${m.object_id}/lineage`);
  return head + `<h2>Versions</h2><div class="muted">From this version back to the first; each
    trained version's weights are the last step proof's output.</div>${table("versions",
    ["version", "owner", "weights", "lineage"], chain.map((c) => [
      modelLink(c.version.object_id), accountLink(c.version.owner), short(c.version.commitment),
      c.training === null ? "deployed" : `trained ${c.training.steps} steps by ` +
        `${traceLink(c.training.tx_hash)} from ${modelLink(c.version.data_id)}`]))}`;
}

// Bars of transactions per batch, placed by the time each was sealed.
function batchChart(batches) {
  if (batches.length === 0) return '<p class="muted">no batch yet</p>';
  const w = 760, h = 150, pad = 28;
  const t0 = batches[0].sealed_at, t1 = batches[batches.length - 1].sealed_at;
  const most = Math.max(...batches.map((b) => b.tx_count), 1);
  const x = (t) => pad + (t1 > t0 ? (t - t0) / (t1 - t0) : 0.5) * (w - 2 * pad);
  const bar = Math.max(2, Math.min(18, (w - 2 * pad) / batches.length - 2));
  const bars = batches.map((b) => {
    const bh = (h - 2 * pad) * b.tx_count / most;
    return `<a href="#/batch/${b.number}"><rect x="${x(b.sealed_at) - bar / 2}" ` +
      `y="${h - pad - bh}" width="${bar}" height="${bh}"><title>batch #${b.number}: ` +
      `${b.tx_count} transactions, ${esc(time(b.sealed_at))}</title></rect></a>`;
  }).join("");
  return `<svg id="batch-chart" class="chart" width="${w}" height="${h}" role="img" ` +
    `aria-label="transactions per batch over time">${bars}` +
    `<text x="${pad}" y="${h - 8}">${esc(time(t0))}</text>` +
    `<text x="${w - pad}" y="${h - 8}" text-anchor="end">${esc(time(t1))}</text>` +
    `<text x="4" y="${pad - 8}">${most} txs</text></svg>`;
}

// Bars of seconds from an inference's receipt to its proof, oldest first, colored by model.
function proofChart(traces) {
  const proven = traces.filter((t) => t.proof_seconds !== null).reverse();
  if (proven.length === 0) return '<p class="muted">no proof yet</p>';
  const w = 760, h = 150, pad = 28;
  const most = Math.max(...proven.map((t) => t.proof_seconds), 0.001);
  const step = (w - 2 * pad) / proven.length, bar = Math.max(2, Math.min(18, step - 2));
  const bars = proven.map((t, i) => {
    const bh = (h - 2 * pad) * t.proof_seconds / most;
    return `<a href="#/trace/${t.tx_hash}"><rect x="${pad + i * step + (step - bar) / 2}" ` +
      `y="${h - pad - bh}" width="${bar}" height="${bh}"><title>${esc(t.tx_hash.slice(0, 10))}…` +
      `: proven ${t.proof_seconds.toFixed(1)} s after its receipt</title></rect></a>`;
  }).join("");
  const mean = proven.reduce((sum, t) => sum + t.proof_seconds, 0) / proven.length;
  return `<svg id="proof-chart" class="chart" width="${w}" height="${h}" role="img" ` +
    `aria-label="seconds from receipt to proof per inference">${bars}` +
    `<text x="${pad}" y="${h - 8}">${proven.length} proofs, oldest first; mean ` +
    `${mean.toFixed(1)} s</text><text x="4" y="${pad - 8}">${most.toFixed(1)} s</text></svg>`;
}

async function batchPage(number) {
  const [b, st] = await Promise.all([get(`/v1/batches/${number}`), get("/v1/status")]);
  const checks = Object.fromEntries(st.ledgers.map((l) => [l.name, l.verifies_proofs]));
  const prev = number > 0 ? link(`batch/${number - 1}`, "← previous") : "";
  const next = number + 1 < st.batches ? link(`batch/${number + 1}`, "next →") : "";
  return `<h1>Batch #${b.number}</h1><p>${prev} ${next}</p>
    ${fields("batch-fields", [
      ["sealed", esc(time(b.sealed_at))], ["transactions", b.tx_count],
      ["blocks", `${b.first_block}–${b.last_block}`], ["batch hash", short(b.batch_hash)],
      ["previous state root", short(b.prev_state_root)], ["state root", short(b.state_root)],
      ["tx root", short(b.tx_root)], ["trace root", short(b.trace_root)],
      ["withdrawal root", short(b.withdrawal_root)], ["data pointer", short(b.data_pointer)]])}
    <h2>On each ledger</h2>${table("posts", ["ledger", "state", "L1 transaction",
      "confirmations", "challenge window", "proofs checked there"], b.ledgers.map((p) => [
        esc(p.name), state(p.state) + (p.detail ? ` <span class="muted">${esc(p.detail)}</span>`
          : "") + (p.ledger_state ? ` <span class="bad">ledger ${esc(p.ledger_state)}</span>` : ""),
        p.tx_hash ? short(p.tx_hash) : "—", p.confirmations ?? "—", finality(p),
        checks[p.name] ? "yes (verified on chain)" : "no (anchored)"]))}
    <h2>Transactions</h2>${table("txs", ["#", "transaction"], b.tx_hashes.map((h, i) => [
      i, b.traces.some((t) => t.tx_hash === h) ? traceLink(h) : short(h)]))}
    <h2>Inference traces</h2>${table("batch-traces", ["trace (tx)", "model", "outputs (proven)"],
      b.traces.map((t) => [traceLink(t.tx_hash), modelLink(t.model_id), numbers(t.outputs)]))}
    <h2>Withdrawals</h2>${table("batch-withdrawals", ["withdrawal", "recipient", "amount"],
      b.withdrawals.map((w) => [short(w.withdrawal_id), short(w.recipient),
        amount(w.amount, w.asset)]))}`;
}

function finality(post) {
  if (post.final === undefined) return "—";
  return post.final ? '<span class="ok">final</span>'
    : `${post.blocks_to_final} blocks left (final at block ${post.final_at_block})`;
}

async function modelPage(id, before) {
  const [m, verifiers, traces] = await Promise.all([
    get(`/v1/models/${id}`), get(`/v1/models/${id}/verifiers`),
    tracesOf(`/v1/models/${id}/traces`, before)]);
  if (m.record === null) return trainablePage(m);
  const r = m.record, a = r.accuracy;
  const accuracy = Object.entries(a).map(([k, v]) => [esc(k.replaceAll("_", " ")),
    k === "top1_agreement" && v !== null ? agreement(a) : typeof v === "object" && v !== null
      ? esc(JSON.stringify(v)) : number(v)]);
  return `<h1>Model ${short(m.object_id)}</h1>
    ${fields("model-fields", [
      ["owner", accountLink(m.owner)], ["access", esc(m.access)],
      ["fee per inference", amount(m.fee, m.fee_asset)], ["ONNX hash", short(r.model_hash)],
      ["verifying key hash", short(r.vk_hash)], ["circuit", `2^${r.logrows} rows, ` +
        `input ${esc(JSON.stringify(r.input_shape))} at scale 2^${r.input_scale}, ` +
        `${r.batch_size} inference(s) per proof`],
      ["proves", esc(r.proven_output) + (r.postprocess !== "none"
        ? ` <span class="muted">(then ${esc(r.postprocess)} outside the circuit)</span>` : "")],
      ["rewrites", esc(r.rewrites.join(", ") || "none")],
      ["visibility", esc(Object.entries(r.visibility).map(([k, v]) => `${k} ${v}`).join(", "))],
      ["verifier code hash", short(r.verifier_code_hash)], ["SRS sha256", short(r.srs_sha256)]])}
    <h2>Accuracy report</h2><div class="muted">The circuit's fixed-point outputs against
    onnxruntime on the calibration set.</div>${fields("accuracy", accuracy)}
    <h2>Verifier on each ledger</h2>${table("verifiers", ["ledger", "verifier", "kind",
      "registered in batch", "standing"], verifiers.map((v) => [esc(v.ledger),
        v.registered ? short(v.verifier) : (v.known ? "not registered yet" : "ledger unreachable"),
        v.registered ? (v.reusable ? "reusable verifier + VKA" : "own verifier") : "—",
        v.registered ? batchLink(v.batch) : "—",
        v.registered ? (v.standing ? '<span class="ok">yes</span>' : '<span class="bad">no ' +
          "(batch reverted)</span>") : "—"]))}
    <h2>Versions</h2>${table("versions", ["version", "weights (ONNX hash)", "lineage"],
      [["this model", short(r.model_hash), "deployed (no training lineage)"]])}
    <h2>Inferences</h2>${pagedTraces(`model/${m.object_id}`, traces, before)}`;
}

async function tracePage(hash) {
  const t = await get(`/v1/traces/${hash}`);
  const [proof, batch, ledgers] = await Promise.all([
    t.proof_status === "proven" ? getOrNull(`/v1/traces/${hash}/proof`) : null,
    t.batch === null ? null : get(`/v1/batches/${t.batch}`), get("/v1/ledgers")]);
  const checks = Object.fromEntries(ledgers.map((l) => [l.name, l.verifies_proofs]));
  const onChain = batch ? batch.ledgers.filter((p) => checks[p.name] && p.tx_hash) : [];
  const verdict = verdicts[hash];
  const training = t.kind === "training";
  return `<h1>${training ? "Training" : "Inference"} ${short(t.tx_hash)}</h1>
    ${fields("trace-fields", [...(training ? [
      ["step circuit", modelLink(t.step_model_id)], ["new version", modelLink(t.version_id)],
      ["steps (one proof each)", t.steps], ["parent's weights", short(t.params_in)],
      ["rows (hash, in order)", short(t.rows_hash)], ["new weights", short(t.params_out)],
      ["batch", batchLink(t.batch)]] : [
      ["model", modelLink(t.model_id)], ["data", objectLink(t.data_id)],
      ["result object", objectLink(t.result_id)], ["batch", batchLink(t.batch)],
      ["input commitment", short(t.input_commitment)],
      ["outputs (proven, fixed point)", numbers(t.outputs, 16)],
      ["read as numbers", result(t.result, 16)]]),
      ["proof", status(t.proof_status) + (t.reason ? ` ${esc(t.reason)}` : "")],
      ["verified on chain", onChain.length ? onChain.map((p) =>
        `${esc(p.name)}: ${state(p.state)} in L1 tx ${short(p.tx_hash)}`).join("<br>")
        : '<span class="muted">not yet (or on no ledger that checks proofs)</span>']])}
    <h2>Verify</h2><p>${t.proof_status === "proven"
      ? `<button id="verify" data-trace="${esc(hash)}">verify the proof</button> ` +
        `<span id="verdict" class="${verdict ? (verdict.ok ? "ok" : "bad") : ""}">` +
        `${verdict ? esc(verdict.message) : ""}</span>`
      : '<span class="muted">no proof yet</span>'}</p>
    <h2>Proof's public values</h2>${!proof ? '<p class="muted">none yet</p>' : training
      ? proof.proof.map((p, i) => `<h3>step ${i}</h3>${publicValues(p, t)}`).join("")
      : publicValues(proof.proof, t)}`;
}

// ezkl's proof.json: `instances` are the public field elements the verifier checks (the input
// commitment and the outputs); `pretty_public_inputs` reads them as numbers where ezkl did.
function publicValues(p, t) {
  const instances = (p.instances || []).flat();
  const rows = instances.map((v, i) => [i, `<code>${esc(v)}</code>`, meaning(v, t)]);
  const pretty = p.pretty_public_inputs && p.pretty_public_inputs.rescaled_outputs
    ? `<p>outputs as ezkl rescales them: ${numbers(p.pretty_public_inputs.rescaled_outputs, 16)}`
      + "</p>" : "";
  return `${pretty}${table("instances", ["#", "field element (little-endian hex)", "is"], rows)}`;
}

// BN254's scalar field: the proof's public values are its elements; an output x < 0 is p + x.
const FIELD = 21888242871839275222246405745257275088548364400416034343698204186575808495617n;

function meaning(element, t) {
  const bytes = element.replace(/^0x/, "").match(/../g) || [];
  const value = BigInt("0x" + (bytes.reverse().join("") || "0"));
  const hex = "0x" + value.toString(16).padStart(64, "0");
  if (t.kind === "training") {
    if (hex === t.params_in) return "the parent's weights (the chain's start)";
    if (hex === t.params_out) return "the new version's weights (the chain's end)";
    return "a weight or row commitment";
  }
  if (hex === t.input_commitment) {
    return "the input commitment (the DATA object's)";
  }
  const signed = value > FIELD / 2n ? value - FIELD : value;
  const index = t.outputs.findIndex((o) => BigInt(o) === signed);
  return index >= 0 ? `output ${index}: ${signed}` : `${signed}`;
}

async function verify(hash) {
  const button = document.getElementById("verify");
  button.disabled = true;
  button.textContent = "verifying…";
  const response = await fetch(`/v1/traces/${hash}/verify`, { method: "POST" });
  const body = await response.json();
  const verdict = response.ok ? { ok: true, message: "verified ✓ (by this node's verifier)" }
    : { ok: false, message: `rejected: ${body.message}` };
  verdicts[hash] = verdict;
  const shown = document.getElementById("verdict");
  shown.textContent = verdict.message;
  shown.className = verdict.ok ? "ok" : "bad";
  button.textContent = "verify the proof";
  button.disabled = false;
}

async function accountPage(address, before) {
  const [account, models, data, traces] = await Promise.all([
    get(`/v1/accounts/${address}`), get("/v1/models"), get("/v1/data"),
    tracesOf(`/v1/accounts/${address}/traces`, before)]);
  const balances = Object.entries(account.balances).map(([asset, v]) => [amount(v, asset)]);
  return `<h1>Account ${short(account.address)}</h1>
    ${fields("account-fields", [["address", `<code>${esc(account.address)}</code>`],
      ["nonce", account.nonce]])}
    <h2>Balances</h2>${table("balances", ["amount"], balances)}
    <h2>Models owned</h2>${table("owned-models", ["model", "access", "fee"], models
      .filter((m) => m.owner === account.address)
      .map((m) => [modelLink(m.object_id), esc(m.access), amount(m.fee, m.fee_asset)]))}
    <h2>Data owned</h2>${dataTable(data.filter((d) => d.owner === account.address))}
    <h2>Inferences sent</h2>${pagedTraces(`account/${account.address}`, traces, before)}`;
}

async function objectPage(id, before) {
  const o = await get(`/v1/objects/${id}`);
  if (o.kind === "MODEL") return modelPage(id, before);
  const traces = await tracesOf(`/v1/objects/${id}/traces`, before);
  return `<h1>${esc(o.kind)} object ${short(o.object_id)}</h1>
    ${fields("object-fields", [["kind", esc(o.kind)], ["owner", accountLink(o.owner)],
      ["access", esc(o.access)], ["commitment", short(o.commitment)],
      ["metadata hash", short(o.metadata_hash)],
      ["model", o.model_id === ZERO ? "—" : modelLink(o.model_id)],
      ["data", objectLink(o.data_id)]])}
    <h2>Inferences</h2>${pagedTraces(`object/${o.object_id}`, traces, before)}`;
}

// --- search: a number is a batch; 20 bytes an account; 32 bytes a trace, object or tx ---

async function search(q) {
  q = q.trim().toLowerCase();
  if (/^#?\d+$/.test(q)) return `batch/${q.replace("#", "")}`;
  const hex = q.startsWith("0x") ? q : "0x" + q;
  if (/^0x[0-9a-f]{40}$/.test(hex)) return `account/${hex}`;
  if (/^0x[0-9a-f]{64}$/.test(hex)) {
    if (await getOrNull(`/v1/traces/${hex}`)) return `trace/${hex}`;
    if (await getOrNull(`/v1/objects/${hex}`)) return `object/${hex}`;
    const tx = await getOrNull(`/v1/transactions/${hex}`);
    if (tx && tx.block !== null) {
      const batches = await get("/v1/batches");
      const b = batches.find((x) => x.first_block <= tx.block && tx.block <= x.last_block);
      if (b) return `batch/${b.number}`;
    }
  }
  return `notfound/${encodeURIComponent(q)}`;
}

// --- routing and live refresh ---

const ROUTES = {
  "": home, batch: (n) => batchPage(Number(n)), model: modelPage, trace: tracePage,
  account: accountPage, object: objectPage,
  notfound: async (q) => `<h1>Nothing found</h1><p>No batch, trace, object, transaction or ` +
    `account matches <code>${esc(decodeURIComponent(q))}</code>.</p>`,
};

async function render() {
  if (rendering) return;
  rendering = true;
  // #/page/arg, or #/page/arg/cursor for an older page of a listing
  const [page, arg, cursor] = location.hash.replace(/^#\/?/, "").split("/");
  try {
    assets = assets || await get("/v1/assets");
    const html = await (ROUTES[page] || ROUTES[""])(arg, cursor);
    if (html !== shownHtml) view.innerHTML = shownHtml = html;
    live.textContent = `live · updated ${new Date().toLocaleTimeString()}`;
    live.className = "";
  } catch (e) {
    if (e.status === 404) view.innerHTML = shownHtml = `<h1>Not found</h1><p>${esc(e.message)}</p>`;
    else { live.textContent = `not updating: ${e.message}`; live.className = "stale"; }
  } finally {
    rendering = false;
  }
}

view.addEventListener("click", (event) => {
  if (event.target.id === "verify") verify(event.target.dataset.trace);
});
document.getElementById("search").addEventListener("submit", async (event) => {
  event.preventDefault();
  location.hash = "#/" + await search(event.target.q.value);
});
window.addEventListener("hashchange", render);
setInterval(() => { if (!document.hidden) render(); }, REFRESH_MS);
render();
