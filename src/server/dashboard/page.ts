/**
 * The dashboard page: plain HTML and JavaScript (no build step), uPlot for the time series (served from
 * the package's own node_modules, never a CDN), fed by /dashboard/events.
 */
export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>modelpool</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/dashboard/uplot.css">
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 0; background: #f6f7f9; color: #1d2330; }
  header { background: #1d2330; color: #fff; padding: 10px 20px; display: flex; gap: 20px; align-items: baseline; }
  header h1 { font-size: 18px; margin: 0; }
  main { display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); gap: 16px; padding: 16px; }
  section { background: #fff; border-radius: 8px; padding: 12px 16px; box-shadow: 0 1px 2px rgba(0,0,0,.08); }
  h2 { font-size: 14px; margin: 0 0 8px; color: #51607a; text-transform: uppercase; letter-spacing: .04em; }
  table { border-collapse: collapse; width: 100%; }
  td, th { text-align: left; padding: 3px 6px; border-bottom: 1px solid #eef0f4; font-variant-numeric: tabular-nums; }
  .bar { background: #eef0f4; border-radius: 4px; height: 18px; position: relative; margin: 4px 0 10px; }
  .bar > div { background: #3d7bfd; height: 100%; border-radius: 4px; }
  .bar > span { position: absolute; left: 8px; top: 0; font-size: 12px; }
  .log { max-height: 260px; overflow: auto; font: 12px/1.5 ui-monospace, monospace; }
  .progress { display: inline-block; width: 60px; height: 8px; background: #eef0f4; border-radius: 4px; margin-left: 6px; vertical-align: middle; }
  .progress > i { display: block; height: 100%; background: #b26b00; border-radius: 4px; }
  .state-ready { color: #14853b; } .state-loading, .state-estimating { color: #b26b00; } .open { color: #c62828; font-weight: 600; }
  #status.live { color: #7ee2a8; } #status { color: #f0a0a0; }
</style>
</head>
<body>
<header><h1>modelpool</h1><span id="status">connecting…</span><span id="clock"></span></header>
<main>
  <section><h2>Memory per device</h2><div id="memory"></div></section>
  <section><h2>Queues</h2><table><tbody id="queues"></tbody></table></section>
  <section><h2>Loaded models</h2><table><thead><tr><th>model</th><th>version</th><th>state</th><th>leases</th><th>queued</th><th>size</th><th>expires in</th><th>breaker</th></tr></thead><tbody id="models"></tbody></table></section>
  <section><h2>Latency p50 (ms) per model</h2><div id="latency"></div></section>
  <section><h2>Throughput (tokens/s) per model</h2><div id="throughput"></div></section>
  <section><h2>Cost per model</h2><table><thead><tr><th>model</th><th>requests</th><th>$ total</th></tr></thead><tbody id="cost"></tbody></table></section>
  <section><h2>Selection decisions</h2><div class="log" id="decisions"></div></section>
  <section><h2>Events</h2><div class="log" id="log"></div></section>
</main>
<script src="/dashboard/uplot.js"></script>
<script>
(() => {
  const $ = (id) => document.getElementById(id);
  const mib = (b) => (b / 1048576).toFixed(1) + ' MiB';
  const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
  const HISTORY = 300;
  const series = { latency: new Map(), throughput: new Map() };
  const times = [];
  // Loads under way: the last progress (0..1) by model, from 'progress' events and snapshots.
  const loading = new Map();
  const stateCell = (id, state, progress) => {
    const pct = state === 'loading' && progress !== null && progress !== undefined ? Math.floor(progress * 100) : null;
    return '<td class="state-' + esc(state) + '">' + esc(state) + (pct === null ? '' : ' ' + pct + '%<span class="progress"><i style="width:' + pct + '%"></i></span>') + '</td>';
  };
  const charts = {};
  const palette = ['#3d7bfd', '#e8590c', '#2b8a3e', '#ae3ec9', '#c92a2a', '#1098ad', '#5f3dc4'];
  function chart(name, el) {
    const models = [...series[name].keys()];
    const opts = { width: el.clientWidth || 400, height: 180, scales: { x: { time: true } }, series: [{}, ...models.map((m, i) => ({ label: m, stroke: palette[i % palette.length], spanGaps: true }))] };
    const data = [times.slice(), ...models.map((m) => series[name].get(m).slice())];
    if (charts[name] && charts[name].models.join() === models.join()) charts[name].plot.setData(data);
    else {
      if (charts[name]) charts[name].plot.destroy();
      charts[name] = { models, plot: new uPlot(opts, data, el) };
    }
  }
  function push(name, model, value) {
    if (!series[name].has(model)) series[name].set(model, times.map(() => null));
    const s = series[name].get(model);
    s.push(value);
  }
  function onSnapshot(s) {
    $('clock').textContent = new Date(s.at).toLocaleTimeString();
    $('memory').innerHTML = s.devices.map((d) => {
      const pct = d.budget ? Math.min(100, (100 * d.used) / d.budget) : 0;
      return '<div>' + esc(d.device) + '</div><div class="bar" data-device="' + esc(d.device) + '"><div style="width:' + pct.toFixed(1) + '%"></div><span>' + mib(d.used) + (d.budget ? ' of ' + mib(d.budget) : '') + '</span></div>';
    }).join('');
    $('queues').innerHTML = '<tr><td>admitted, running</td><td>' + s.queues.inFlight + '</td></tr><tr><td>waiting for admission</td><td>' + s.queues.admission + '</td></tr><tr><td>waiting in the pool</td><td>' + s.queues.pool + '</td></tr>';
    const breakers = new Map(s.breakers.map((b) => [b.model, b.state]));
    for (const m of s.models) if (m.state !== 'loading') loading.delete(m.id);
    $('models').innerHTML = s.models.map((m) => '<tr data-model="' + esc(m.id) + '"><td>' + esc(m.id) + '</td><td>' + esc(m.version ?? '') + '</td>' + stateCell(m.id, m.state, Math.max(m.loadProgress ?? 0, loading.get(m.id) ?? 0)) + '<td>' + m.leases + '</td><td>' + m.queued + '</td><td>' + mib(m.sizeBytes) + '</td><td>' + (m.pinned ? 'pinned' : m.expiresInMs === null ? '—' : (m.expiresInMs / 1000).toFixed(0) + ' s') + '</td><td class="' + esc(breakers.get(m.id) ?? 'closed') + '">' + esc(breakers.get(m.id) ?? 'closed') + '</td></tr>').join('');
    $('cost').innerHTML = s.totals.map((t) => '<tr><td>' + esc(t.model) + '</td><td>' + t.requests + '</td><td>' + t.usd.toFixed(6) + '</td></tr>').join('');
    times.push(s.at / 1000);
    const seen = new Set();
    for (const w of s.window) {
      seen.add(w.model);
      push('latency', w.model, w.p50Ms);
      push('throughput', w.model, w.tokensPerSecond);
    }
    for (const name of ['latency', 'throughput']) for (const [m, values] of series[name]) if (!seen.has(m)) values.push(null);
    if (times.length > HISTORY) { times.shift(); for (const name of ['latency', 'throughput']) for (const v of series[name].values()) v.shift(); }
    chart('latency', $('latency'));
    chart('throughput', $('throughput'));
    document.body.dataset.snapshots = String(Number(document.body.dataset.snapshots ?? 0) + 1);
  }
  function line(el, html) {
    const div = document.createElement('div');
    div.innerHTML = html;
    el.prepend(div);
    while (el.childElementCount > 200) el.lastElementChild.remove();
  }
  const source = new EventSource('/dashboard/events' + location.search);
  source.addEventListener('open', () => { $('status').textContent = 'live'; $('status').className = 'live'; });
  source.addEventListener('error', () => { $('status').textContent = 'reconnecting…'; $('status').className = ''; });
  source.addEventListener('snapshot', (e) => onSnapshot(JSON.parse(e.data)));
  source.addEventListener('decision', (e) => {
    const d = JSON.parse(e.data);
    line($('decisions'), new Date(d.at).toLocaleTimeString() + ' ' + esc(d.task) + ' → <b>' + esc(d.model) + '</b>' + (d.version ? '@' + esc(d.version) : '') + (d.success ? ' ' + (d.ms ?? 0).toFixed(1) + ' ms' : ' <span class="open">' + esc(d.error) + '</span>'));
  });
  source.addEventListener('progress', (e) => {
    const p = JSON.parse(e.data);
    loading.set(p.model, p.progress);
    const row = document.querySelector('#models tr[data-model="' + CSS.escape(p.model) + '"]');
    if (row && row.children[2]) row.children[2].outerHTML = stateCell(p.model, 'loading', p.progress);
    const seen = JSON.parse(document.body.dataset.loadProgress ?? '{}');
    seen[p.model] = Math.max(seen[p.model] ?? 0, p.progress);
    document.body.dataset.loadProgress = JSON.stringify(seen);
  });
  source.addEventListener('log', (e) => {
    const l = JSON.parse(e.data);
    line($('log'), new Date(l.at).toLocaleTimeString() + ' <b>' + esc(l.kind) + '</b> ' + esc(l.model) + ' ' + esc(l.text));
  });
})();
</script>
</body>
</html>
`;
