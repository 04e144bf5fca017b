// thrifty view: filters, trajectory panel and the two-run comparison. Data comes from the page itself.
(function () {
  "use strict";
  const rows = Array.from(document.querySelectorAll("tr.sample"));
  const filters = Array.from(document.querySelectorAll("select[data-filter]"));
  const count = document.querySelector(".filters .count");
  const panel = document.getElementById("panel");
  const dataNode = document.getElementById("eval-data");
  const data = dataNode ? JSON.parse(dataNode.textContent) : { runs: [], samples: [] };
  const labels = new Map(data.runs.map((r) => [r.id, r.label]));

  function applyFilters() {
    let shown = 0;
    for (const row of rows) {
      const ok = filters.every((f) => !f.value || row.dataset[f.dataset.filter] === f.value);
      row.hidden = !ok;
      if (ok) shown += 1;
    }
    if (count) count.textContent = shown + " of " + rows.length + " samples";
  }

  function trajectory(index) {
    const template = document.getElementById("trajectory-" + index);
    const column = document.createElement("div");
    column.className = "column";
    const sample = data.samples[Number(index)];
    if (sample) {
      const heading = document.createElement("h2");
      heading.className = "source";
      heading.textContent = labels.get(sample.run) + " · task " + sample.task;
      column.appendChild(heading);
    }
    if (template) column.appendChild(template.content.cloneNode(true));
    else column.textContent = "no trace recorded for this sample";
    return column;
  }

  function openPanel(indexes) {
    if (!panel) return;
    const body = panel.querySelector(".panel-body");
    const columns = document.createElement("div");
    columns.className = "columns n" + indexes.length;
    for (const i of indexes) columns.appendChild(trajectory(i));
    body.replaceChildren(columns);
    panel.showModal();
  }

  filters.forEach((f) => f.addEventListener("change", applyFilters));
  document.querySelectorAll("button.open").forEach((b) =>
    b.addEventListener("click", () => openPanel([b.dataset.sample])));
  applyFilters();

  const pickA = document.getElementById("compare-a");
  const pickB = document.getElementById("compare-b");
  if (!pickA || !pickB) return;
  pickB.value = pickB.dataset.default;

  function cell(text, cls) {
    const td = document.createElement("td");
    td.textContent = text === null || text === undefined ? "—" : String(text);
    if (cls) td.className = cls;
    return td;
  }

  function mark(s) {
    if (!s) return cell("—");
    return cell(s.correct === null ? "!" : s.correct ? "✓" : "✗", s.correct === null ? "error" : s.correct ? "yes" : "no");
  }

  function compare() {
    const byTask = new Map();
    for (const s of data.samples) {
      for (const [side, pick] of [["a", pickA], ["b", pickB]]) {
        if (s.run !== pick.value) continue;
        if (!byTask.has(s.task)) byTask.set(s.task, {});
        byTask.get(s.task)[side] = s;
      }
    }
    const table = document.querySelector("table.compare");
    table.tHead.innerHTML = "<tr><th>task</th><th>question</th><th>target</th><th>A answer</th><th>A</th>" +
      "<th>A stop</th><th>A $</th><th>B answer</th><th>B</th><th>B stop</th><th>B $</th><th></th></tr>";
    const body = table.tBodies[0];
    body.replaceChildren();
    let aWins = 0, bWins = 0, both = 0;
    for (const [task, pair] of byTask) {
      const tr = document.createElement("tr");
      tr.className = "pair";
      const any = pair.a || pair.b;
      tr.append(cell(task), cell(any.question), cell(any.target));
      for (const s of [pair.a, pair.b]) tr.append(cell(s && s.answer), mark(s), cell(s && s.stop), cell(s && s.cost));
      const open = [pair.a, pair.b].filter((s) => s && s.trace).map((s) => s.i);
      const td = document.createElement("td");
      if (open.length) {
        const b = document.createElement("button");
        b.textContent = "side by side";
        b.className = "open-pair";
        b.addEventListener("click", () => openPanel(open));
        td.appendChild(b);
      }
      tr.appendChild(td);
      body.appendChild(tr);
      const a = pair.a && pair.a.correct, b = pair.b && pair.b.correct;
      if (a && b) both += 1; else if (a) aWins += 1; else if (b) bWins += 1;
    }
    document.querySelector(".compare-summary").textContent =
      byTask.size + " tasks · both right " + both + " · only A right " + aWins + " · only B right " + bWins;
  }

  pickA.addEventListener("change", compare);
  pickB.addEventListener("change", compare);
  compare();
})();
