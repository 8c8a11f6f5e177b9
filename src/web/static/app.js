// fleetboot admin UI: progressive enhancement over server-rendered pages. Without this file
// everything still works through forms; with it: instant filter/sort, a confirm dialog,
// actions without a reload, and rows that follow installs live over Server-Sent Events.
'use strict';
(() => {
  const $ = (sel, root = document) => root.querySelector(sel);
  const $$ = (sel, root = document) => [...root.querySelectorAll(sel)];
  const csrf = $('meta[name=csrf-token]')?.content ?? '';
  const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
  const time = (ms) => (ms ? new Date(ms).toISOString().replace('T', ' ').slice(0, 19) : '—');
  const duration = (ms) => {
    if (ms == null || ms < 0) return '—';
    const s = Math.round(ms / 1000);
    if (s < 60) return `${s}s`;
    const m = Math.floor(s / 60);
    return m < 60 ? `${m}m ${String(s % 60).padStart(2, '0')}s` : `${Math.floor(m / 60)}h ${String(m % 60).padStart(2, '0')}m`;
  };

  let toastTimer;
  function toast(msg, err = false) {
    const t = $('#toast');
    t.textContent = msg;
    t.className = err ? 'err' : '';
    t.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => (t.hidden = true), 5000);
  }

  async function api(method, path, body) {
    const r = await fetch(`/api/v1${path}`, {
      method,
      credentials: 'same-origin',
      headers: { 'content-type': 'application/json', 'x-csrf-token': csrf },
      body: body ? JSON.stringify(body) : undefined,
    });
    const data = await r.json().catch(() => ({}));
    if (r.status === 401) location.href = `/login?next=${encodeURIComponent(location.pathname + location.search)}`;
    if (!r.ok) throw new Error(data.error?.message ?? `HTTP ${r.status}`);
    return data;
  }

  // one stream per page; handlers by event name
  function stream(handlers) {
    const live = $('#live');
    const es = new EventSource('/events/stream');
    es.onopen = () => { live.hidden = false; live.className = 'live'; live.textContent = 'live'; };
    es.onerror = () => { live.hidden = false; live.className = 'live off'; live.textContent = 'reconnecting'; };
    for (const [name, fn] of Object.entries(handlers)) es.addEventListener(name, (m) => fn(JSON.parse(m.data)));
    es.addEventListener('logout', () => { es.close(); location.href = '/login'; });
    window.addEventListener('pagehide', () => es.close());
    return es;
  }

  // copy buttons (discovered snippets, new API token); clipboard API needs a secure context,
  // so plain-HTTP deployments fall back to selecting the text
  document.addEventListener('click', async (e) => {
    const b = e.target.closest?.('button.copy');
    if (!b) return;
    const pre = document.getElementById(b.dataset.copy);
    try {
      await navigator.clipboard.writeText(pre.textContent);
      toast('Copied to the clipboard');
    } catch {
      const range = document.createRange();
      range.selectNodeContents(pre);
      getSelection().removeAllRanges();
      getSelection().addRange(range);
      document.execCommand?.('copy');
      toast('Selected: press Ctrl+C to copy');
    }
  });

  // ---------- hosts table ----------
  function hostsPage(table) {
    const rows = new Map(JSON.parse($('#hosts-data').textContent).map((h) => [h.name, h]));
    const selected = new Set();
    const sort = { key: 'name', dir: 1 };
    const f = { name: $('#f-name'), role: $('#f-role'), state: $('#f-state'), label: $('#f-label') };
    const tbody = $('tbody', table);

    const visible = () => {
      const q = { name: f.name.value.trim().toLowerCase(), role: f.role.value, state: f.state.value, label: f.label.value };
      const list = [...rows.values()].filter((h) =>
        (!q.name || h.name.toLowerCase().includes(q.name) || h.macs.some((m) => m.includes(q.name)) || (h.address ?? '').includes(q.name)) &&
        (!q.role || h.roles.includes(q.role)) && (!q.state || h.state === q.state) && (!q.label || h.labels.includes(q.label)));
      const val = (h) => { const v = h[sort.key]; return Array.isArray(v) ? v.join(',') : v ?? ''; };
      return list.sort((a, b) => {
        const x = val(a), y = val(b);
        const c = typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y), undefined, { numeric: true });
        return c * sort.dir || a.name.localeCompare(b.name);
      });
    };

    const rowHtml = (h) => `<tr data-host="${esc(h.name)}" class="st-${esc(h.state)}${selected.has(h.name) ? ' selected' : ''}">
      <td class="sel"><input type="checkbox" name="hosts" value="${esc(h.name)}" aria-label="Select ${esc(h.name)}"${selected.has(h.name) ? ' checked' : ''}></td>
      <td class="name"><a href="/hosts/${encodeURIComponent(h.name)}">${esc(h.name)}</a>${h.labels.map((l) => ` <span class="label">${esc(l)}</span>`).join('')}</td>
      <td class="mono small">${esc(h.macs.join(', '))}</td>
      <td>${esc(h.roles.join(', '))}</td>
      <td class="mono">${esc(h.address ?? '—')}</td>
      <td><span class="badge st-${esc(h.state)}">${esc(h.state)}</span>${h.marked ? ' <span class="mark" title="marked for reinstall">●</span>' : ''}</td>
      <td class="power pw-${esc(h.power || 'none')}">${esc(h.power || '—')}</td>
      <td class="stage" title="${esc(h.message ?? '')}">${esc(h.stage ?? '—')}</td>
      <td class="prog"><progress max="100" value="${h.progress}" class="st-${esc(h.state)}"></progress><span class="pct">${h.progress}%</span></td>
      <td>${duration(h.lastDurationMs)}</td>
      <td class="small muted">${time(h.updatedAt)}</td></tr>`;

    function render() {
      const list = visible();
      tbody.innerHTML = list.length ? list.map(rowHtml).join('') : '<tr class="empty"><td colspan="11">No hosts match.</td></tr>';
      $('#count').textContent = `${list.length} of ${rows.size}`;
      const counts = {};
      for (const h of rows.values()) counts[h.state] = (counts[h.state] ?? 0) + 1;
      const order = [...f.state.options].map((o) => o.value).filter(Boolean);
      $('#chips').innerHTML = order.filter((s) => counts[s]).map((s) => `<span class="chip st-${s}">${s} <b>${counts[s]}</b></span>`).join('');
      updateSelection();
    }

    function updateRow(h) {
      const old = rows.get(h.name);
      rows.set(h.name, { power: rows.get(h.name)?.power, ...h }); // live rows carry no power state: keep the page's
      const tr = $(`tr[data-host="${CSS.escape(h.name)}"]`, tbody);
      // a row whose state changed may now sort or filter differently: full render
      if (!tr || !old || old.state !== h.state || sort.key !== 'name') return render();
      tr.outerHTML = rowHtml(rows.get(h.name));
      $(`tr[data-host="${CSS.escape(h.name)}"]`, tbody).classList.add('flash');
    }

    function updateSelection() {
      const shown = new Set($$('tr[data-host]', tbody).map((tr) => tr.dataset.host));
      for (const n of [...selected]) if (!rows.has(n)) selected.delete(n);
      $('#selcount').textContent = `${selected.size} selected`;
      $('#btn-reinstall').disabled = $('#btn-cancel').disabled = selected.size === 0;
      const all = $('#selall');
      const shownSel = [...shown].filter((n) => selected.has(n)).length;
      all.checked = shown.size > 0 && shownSel === shown.size;
      all.indeterminate = shownSel > 0 && shownSel < shown.size;
    }

    tbody.addEventListener('change', (e) => {
      const cb = e.target;
      if (cb.name !== 'hosts') return;
      cb.checked ? selected.add(cb.value) : selected.delete(cb.value);
      cb.closest('tr').classList.toggle('selected', cb.checked);
      updateSelection();
    });
    $('#selall').addEventListener('change', (e) => {
      for (const cb of $$('input[name=hosts]', tbody)) {
        cb.checked = e.target.checked;
        cb.checked ? selected.add(cb.value) : selected.delete(cb.value);
        cb.closest('tr').classList.toggle('selected', cb.checked);
      }
      updateSelection();
    });

    for (const th of $$('th[data-sort]', table)) {
      th.querySelector('button').addEventListener('click', () => {
        const key = th.dataset.sort;
        sort.dir = sort.key === key ? -sort.dir : 1;
        sort.key = key;
        for (const o of $$('th[data-sort]', table)) o.removeAttribute('aria-sort');
        th.setAttribute('aria-sort', sort.dir > 0 ? 'ascending' : 'descending');
        render();
      });
    }

    // filters apply as you type; the URL keeps them so reload and back work
    const syncUrl = () => {
      const p = new URLSearchParams();
      for (const [k, el] of Object.entries(f)) if (el.value) p.set(k, el.value);
      const qs = p.toString();
      history.replaceState(null, '', qs ? `/?${qs}` : '/');
      $('#back').value = `/?${qs}`;
    };
    for (const el of Object.values(f)) el.addEventListener('input', () => { syncUrl(); render(); });
    $('#filters').addEventListener('submit', (e) => e.preventDefault());
    $('#f-clear').addEventListener('click', (e) => {
      e.preventDefault();
      for (const el of Object.values(f)) el.value = '';
      syncUrl();
      render();
    });

    // confirm step in a dialog, then the API (no reload: the stream shows the result)
    const dlg = $('#confirm');
    $('#hostsform').addEventListener('submit', (e) => {
      e.preventDefault();
      const cancel = e.submitter?.value === 'cancel';
      const names = [...selected].sort();
      if (!names.length) return;
      $('#confirm-title').textContent = cancel ? `Cancel reinstall of ${names.length} host${names.length === 1 ? '' : 's'}?` : `Reinstall ${names.length} host${names.length === 1 ? '' : 's'}?`;
      $('#confirm-text').textContent = cancel ? 'Their open install runs are cancelled; they boot from disk again.' : 'They are reinstalled — disks reformatted as their role says — the next time they network-boot.';
      $('#confirm-names').innerHTML = names.map((n) => `<li>${esc(n)}</li>`).join('');
      const ok = $('#confirm-ok');
      ok.textContent = cancel ? 'Cancel reinstall' : `Reinstall ${names.length} host${names.length === 1 ? '' : 's'}`;
      ok.className = cancel ? 'primary' : 'danger';
      $('#confirm-power-row').hidden = cancel;
      $('#confirm-power').checked = false;
      dlg.returnValue = '';
      dlg.onclose = async () => {
        if (dlg.returnValue !== 'ok') return;
        try {
          const power = !cancel && $('#confirm-power').checked;
          const out = await api('POST', cancel ? '/reinstall/cancel' : '/reinstall', power ? { hosts: names, power: true } : { hosts: names });
          const good = out.results.filter((r) => r.ok).length;
          const bad = out.results.filter((r) => !r.ok).map((r) => `${r.host}: ${r.error}`)
            .concat(out.results.filter((r) => r.power && (!r.power.ok || r.power.instruction)).map((r) => `${r.host}: power ${r.power.error ?? r.power.instruction}`));
          toast(`${cancel ? 'Cancelled' : 'Marked for reinstall'}: ${good} host${good === 1 ? '' : 's'}${bad.length ? ` — ${bad.join('; ')}` : ''}`, bad.length > 0);
          selected.clear();
          render();
        } catch (err) {
          toast(`Failed: ${err.message}`, true);
        }
      };
      dlg.showModal();
    });

    stream({
      host: updateRow,
      refresh: (d) => {
        const power = new Map([...rows.values()].map((h) => [h.name, h.power]));
        rows.clear();
        for (const h of d.hosts) rows.set(h.name, { power: power.get(h.name), ...h });
        render();
      },
    });
    render();
  }

  // ---------- host page: timeline and installer log follow the run ----------
  function hostPage(tl) {
    const host = tl.dataset.host;
    let runId = Number(tl.dataset.run) || null;
    const t0 = () => Number(tl.dataset.t0) || 0;
    const tbody = $('tbody', tl);
    const log = $('#log');
    const head = (h) => {
      const b = $('#h-state');
      b.className = `badge st-${h.state}`;
      b.textContent = h.state;
      $('#h-progress').value = h.progress;
      $('#h-progress').className = `st-${h.state}`;
      $('#h-pct').textContent = `${h.progress}%`;
      $('#h-stage').textContent = h.stage ?? '';
    };
    const add = (e) => {
      if (e.kind === 'log') {
        if (log.querySelector('.muted')) log.innerHTML = '';
        log.insertAdjacentHTML('beforeend', `<span>${time(e.at)}  ${esc(e.message)}\n</span>`);
        log.scrollTop = log.scrollHeight;
        return;
      }
      if (!t0()) tl.dataset.t0 = e.at;
      $('tr.empty', tbody)?.remove();
      tbody.insertAdjacentHTML('beforeend', `<tr class="k-${esc(e.kind)} flash"><td class="mono small">${time(e.at)}</td><td class="mono small">${((e.at - t0()) / 1000).toFixed(1)}</td><td><span class="kind">${esc(e.kind)}</span></td><td>${esc(e.stage ?? '')}</td><td>${esc(e.message ?? '')}</td><td class="mono small muted">${esc(e.source ?? '')}</td></tr>`);
    };
    const reload = async () => {
      const r = await fetch(`/hosts/${encodeURIComponent(host)}/run.json`, { credentials: 'same-origin' });
      if (!r.ok) return;
      const d = await r.json();
      head(d.host);
      runId = d.run?.id ?? null;
      if (d.run) $('#run-info').textContent = `run ${d.run.id} · marked by ${d.run.marked_by ?? '?'}`;
      tbody.innerHTML = '';
      log.innerHTML = '';
      tl.dataset.t0 = d.events[0]?.at ?? 0;
      for (const e of d.events) add(e);
    };
    if (tl.dataset.live !== 'yes') return; // an old run: nothing changes
    stream({
      host: (h) => {
        if (h.name !== host) return;
        head(h);
        // a new run started (marked again): show it from its beginning
        if (h.runId !== runId) reload();
      },
      event: (e) => { if (e.host === host && e.run_id === runId) add(e); },
      refresh: (d) => {
        const h = d.hosts.find((x) => x.name === host);
        if (!h) return;
        head(h);
        if (h.runId !== runId) reload();
      },
    });
  }

  document.addEventListener('DOMContentLoaded', () => {
    const hosts = $('#hosts');
    if (hosts && $('#hosts-data')) hostsPage(hosts);
    const tl = $('#timeline');
    if (tl) hostPage(tl);
  });
})();
