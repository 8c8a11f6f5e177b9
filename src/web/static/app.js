// fleetboot admin UI: progressive enhancement over server-rendered pages. Without this file
// everything still works through forms; with it: instant filter/sort, a confirm dialog,
// actions without a reload, and rows that follow installs live over Server-Sent Events.
'use strict';
(() => {
  const $ = (sel, root = document) => root.querySelector(sel);
  const $$ = (sel, root = document) => [...root.querySelectorAll(sel)];
  const csrf = $('meta[name=csrf-token]')?.content ?? '';
  const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
  // timestamps: the browser's local time with its zone; UTC on hover (title)
  const pad = (n) => String(n).padStart(2, '0');
  const zoneOf = (d) => new Intl.DateTimeFormat(undefined, { timeZoneName: 'short' }).formatToParts(d).find((p) => p.type === 'timeZoneName')?.value ?? '';
  const localText = (d) => `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())} ${zoneOf(d)}`;
  const utcText = (d) => `${d.toISOString().replace('T', ' ').slice(0, 19)} UTC`;
  const time = (ms) => {
    if (!ms) return '—';
    const d = new Date(ms);
    return `<time datetime="${d.toISOString()}" title="${utcText(d)}" data-local="1">${esc(localText(d))}</time>`;
  };
  /** server-rendered <time> elements carry UTC: show them in local time */
  const localise = (root = document) => {
    for (const t of $$('time[datetime]:not([data-local])', root)) {
      const d = new Date(t.getAttribute('datetime'));
      if (Number.isNaN(d.getTime())) continue;
      t.textContent = localText(d);
      t.title = utcText(d);
      t.dataset.local = '1';
    }
  };
  // a server clock a little ahead of the browser's must not show as "—"
  const since = (ms) => (ms ? `<span class="since" data-since="${Number(ms)}">${duration(Math.max(0, Date.now() - ms))}</span>` : '');
  // time in state keeps counting without a server round trip
  setInterval(() => { for (const s of $$('.since[data-since]')) s.textContent = duration(Math.max(0, Date.now() - Number(s.dataset.since))); }, 5000);
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
    if (!r.ok) throw Object.assign(new Error(data.error?.message ?? `HTTP ${r.status}`), { details: data.error?.details });
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

  // ---------- hosts table: one page from the server at a time ----------
  function hostsPage(table) {
    const unbootable = JSON.parse($('#unbootable-data')?.textContent || '{}');
    const f = { name: $('#f-name'), role: $('#f-role'), state: $('#f-state'), label: $('#f-label') };
    const q = {
      sort: $('#f-sort').value || 'name',
      dir: $('#f-dir').value === 'desc' ? -1 : 1,
      offset: Number(table.dataset.offset) || 0,
      limit: Number(table.dataset.limit) || 100,
    };
    const tbody = $('tbody', table);
    const selected = new Set();
    let rows = new Map(); // this page's rows by name
    let order = [];       // this page's names, in order
    let total = 0;
    let anchor = null;    // last checkbox clicked: shift-click selects the range up to here

    const qs = () => {
      const p = new URLSearchParams();
      for (const [k, el] of Object.entries(f)) if (el.value.trim()) p.set(k, el.value.trim());
      if (q.sort !== 'name') p.set('sort', q.sort);
      if (q.dir < 0) p.set('dir', 'desc');
      if (q.offset) p.set('offset', String(q.offset));
      if (q.limit !== 100) p.set('limit', String(q.limit));
      return p.toString();
    };
    const syncUrl = () => {
      const s = qs();
      history.replaceState(null, '', s ? `/?${s}` : '/');
      $('#back').value = `/?${s}`;
    };

    const rowHtml = (h) => {
      const sel = selected.has(h.name);
      const miss = unbootable[h.roles[0]];
      return `<tr data-host="${esc(h.name)}" class="st-${esc(h.state)}${sel ? ' selected' : ''}">
      <td class="sel"><input type="checkbox" name="hosts" value="${esc(h.name)}" aria-label="Select ${esc(h.name)}"${sel ? ' checked' : ''}></td>
      <td class="name"><a href="/hosts/${encodeURIComponent(h.name)}">${esc(h.name)}</a>${h.labels.map((l) => ` <span class="label">${esc(l)}</span>`).join('')}</td>
      <td class="mono small c-macs">${esc(h.macs.join(', '))}</td>
      <td class="c-roles">${esc(h.roles.join(', '))}${miss ? ` <span class="nob" title="cannot boot: missing ${esc(miss.join(', '))}">⚠</span>` : ''}</td>
      <td class="mono c-ip">${esc(h.address ?? '—')}</td>
      <td class="state"><span class="badge st-${esc(h.state)}">${esc(h.state)}</span>${h.marked ? ' <span class="mark" title="marked for reinstall">●</span>' : ''}${h.stateSince ? ` <span class="small muted">for ${since(h.stateSince)}</span>` : ''}</td>
      <td class="power pw-${esc(h.power || 'none')} c-power">${esc(h.power || '—')}</td>
      <td class="stage c-stage">${esc(h.stage ?? '—')}${h.reason ? `<div class="reason">${esc(h.reason)}</div>` : h.message ? `<div class="msg small muted">${esc(h.message)}</div>` : ''}</td>
      <td class="prog"><progress max="100" value="${h.progress}" class="st-${esc(h.state)}"></progress><span class="pct">${h.progress}%</span></td>
      <td class="c-last">${duration(h.lastDurationMs)}</td>
      <td class="small muted c-upd">${time(h.updatedAt)}</td></tr>`;
    };

    function renderRows() {
      tbody.innerHTML = order.length ? order.map((n) => rowHtml(rows.get(n))).join('') : '<tr class="empty"><td colspan="11">No hosts match.</td></tr>';
      $('#range').textContent = total ? `${q.offset + 1}–${q.offset + order.length} of ${total}` : '0 of 0';
      const prev = $('#pg-prev'), next = $('#pg-next');
      prev.classList.toggle('disabled', q.offset === 0);
      next.classList.toggle('disabled', q.offset + q.limit >= total);
      prev.setAttribute('aria-disabled', String(q.offset === 0));
      next.setAttribute('aria-disabled', String(q.offset + q.limit >= total));
      for (const th of $$('th[data-sort]', table)) {
        if (th.dataset.sort === q.sort) th.setAttribute('aria-sort', q.dir > 0 ? 'ascending' : 'descending');
        else th.removeAttribute('aria-sort');
      }
      updateSelection();
    }

    function renderChips(counts, all) {
      $('#count').textContent = `${total} of ${all}`;
      const order = [...f.state.options].map((o) => o.value).filter(Boolean);
      $('#chips').innerHTML = order.filter((s) => counts[s]).map((s) => `<a class="chip st-${s}${f.state.value === s ? ' on' : ''}" data-state="${s}" href="/?state=${s}"${f.state.value === s ? ' aria-current="true"' : ''}>${s} <b>${counts[s]}</b></a>`).join('');
    }

    // one request in flight: a newer query aborts the older one (its answer is stale anyway)
    let inflight = null;
    async function load() {
      inflight?.abort();
      const ctl = new AbortController();
      inflight = ctl;
      try {
        const r = await fetch(`/hosts.json?${qs()}`, { credentials: 'same-origin', signal: ctl.signal });
        if (r.status === 401) return void (location.href = '/login');
        if (!r.ok) throw new Error(`HTTP ${r.status}`);
        const d = await r.json();
        if (ctl !== inflight) return;
        q.offset = d.query.offset;
        total = d.total;
        rows = new Map(d.rows.map((h) => [h.name, h]));
        order = d.rows.map((h) => h.name);
        renderChips(d.counts, d.all);
        renderRows();
        table.dataset.loaded = String(Date.now());
      } catch (err) {
        if (err.name !== 'AbortError') toast(`Could not load hosts: ${err.message}`, true);
      } finally {
        if (inflight === ctl) inflight = null;
      }
    }
    // live changes elsewhere in the fleet: re-read this page at most every 400 ms
    let reloadTimer = null;
    const reloadSoon = () => { reloadTimer ??= setTimeout(() => { reloadTimer = null; load(); }, 400); };
    const requery = () => { q.offset = 0; syncUrl(); load(); };

    function updateSelection() {
      $('#selcount').textContent = `${selected.size} selected`;
      $('#btn-reinstall').disabled = $('#btn-cancel').disabled = selected.size === 0;
      const all = $('#selall');
      const shownSel = order.filter((n) => selected.has(n)).length;
      all.checked = order.length > 0 && shownSel === order.length;
      all.indeterminate = shownSel > 0 && shownSel < order.length;
    }
    const setSel = (name, on) => {
      on ? selected.add(name) : selected.delete(name);
      const tr = $(`tr[data-host="${CSS.escape(name)}"]`, tbody);
      if (!tr) return;
      tr.classList.toggle('selected', on);
      const cb = $('input[name=hosts]', tr);
      if (cb) cb.checked = on;
    };

    // click (not change) carries shiftKey: shift-click sets every box from the last one clicked
    tbody.addEventListener('click', (e) => {
      const cb = e.target;
      if (cb.name !== 'hosts' || cb.type !== 'checkbox') return;
      const i = order.indexOf(cb.value);
      const j = anchor === null ? -1 : order.indexOf(anchor);
      if (e.shiftKey && j >= 0 && i >= 0) {
        for (let k = Math.min(i, j); k <= Math.max(i, j); k++) setSel(order[k], cb.checked);
      } else setSel(cb.value, cb.checked);
      anchor = cb.value;
      updateSelection();
    });
    $('#selall').addEventListener('change', (e) => {
      for (const n of order) setSel(n, e.target.checked);
      updateSelection();
    });

    // sorting: the header links carry the URL for no-JS use; here they re-query in place
    for (const th of $$('th[data-sort]', table)) {
      th.querySelector('a').addEventListener('click', (e) => {
        e.preventDefault();
        const key = th.dataset.sort;
        q.dir = q.sort === key ? -q.dir : 1;
        q.sort = key;
        $('#f-sort').value = key;
        $('#f-dir').value = q.dir > 0 ? 'asc' : 'desc';
        requery();
      });
    }
    // state chips filter (a second click clears)
    $('#chips').addEventListener('click', (e) => {
      const chip = e.target.closest('a.chip[data-state]');
      if (!chip) return;
      e.preventDefault();
      f.state.value = f.state.value === chip.dataset.state ? '' : chip.dataset.state;
      requery();
    });
    for (const [id, dir] of [['#pg-prev', -1], ['#pg-next', 1]]) {
      $(id).addEventListener('click', (e) => {
        e.preventDefault();
        if (e.currentTarget.classList.contains('disabled')) return;
        q.offset = Math.max(0, q.offset + dir * q.limit);
        syncUrl();
        load();
      });
    }

    // filters apply as you type (debounced: one request per pause, not per key)
    let typing = null;
    f.name.addEventListener('input', () => { clearTimeout(typing); typing = setTimeout(requery, 40); });
    for (const el of [f.role, f.state, f.label]) el.addEventListener('change', requery);
    $('#filters').addEventListener('submit', (e) => { e.preventDefault(); requery(); });
    $('#f-clear').addEventListener('click', (e) => {
      e.preventDefault();
      for (const el of Object.values(f)) el.value = '';
      requery();
    });

    // confirm step in a dialog, then the API (no reload: the stream shows the result). A role
    // that cannot boot comes back as 409 with the missing files: shown, with a force box.
    const dlg = $('#confirm');
    const ask = (names, cancel, missing) => {
      $('#confirm-title').textContent = cancel ? `Cancel reinstall of ${names.length} host${names.length === 1 ? '' : 's'}?` : `Reinstall ${names.length} host${names.length === 1 ? '' : 's'}?`;
      $('#confirm-text').textContent = cancel ? 'Their open install runs are cancelled; they boot from disk again.' : 'They are reinstalled — disks reformatted as their role says — the next time they network-boot.';
      $('#confirm-names').innerHTML = names.map((n) => `<li>${esc(n)}</li>`).join('');
      const m = $('#confirm-missing');
      m.hidden = !missing;
      m.innerHTML = missing ? `<p><b>Nothing was marked: these roles cannot boot</b></p><ul>${Object.entries(missing).map(([r, ps]) => `<li>role <b>${esc(r)}</b> is missing ${ps.map((p) => `<code>${esc(p)}</code>`).join(', ')}</li>`).join('')}</ul><label class="check"><input type="checkbox" id="confirm-force"> Mark anyway (recorded in the audit log)</label>` : '';
      const ok = $('#confirm-ok');
      ok.textContent = cancel ? 'Cancel reinstall' : `Reinstall ${names.length} host${names.length === 1 ? '' : 's'}`;
      ok.className = cancel ? 'primary' : 'danger';
      $('#confirm-power-row').hidden = cancel;
      $('#confirm-power').checked = false;
      dlg.returnValue = '';
      dlg.onclose = async () => {
        if (dlg.returnValue !== 'ok') return;
        const force = !!$('#confirm-force')?.checked;
        try {
          const power = !cancel && !!$('#confirm-power')?.checked;
          const out = await api('POST', cancel ? '/reinstall/cancel' : '/reinstall', { hosts: names, ...(force ? { force: true } : {}), ...(power ? { power: true } : {}) });
          const good = out.results.filter((r) => r.ok).length;
          const bad = out.results.filter((r) => !r.ok).map((r) => `${r.host}: ${r.error}`)
            .concat(out.results.filter((r) => r.power && (!r.power.ok || r.power.instruction)).map((r) => `${r.host}: power ${r.power.error ?? r.power.instruction}`));
          toast(`${cancel ? 'Cancelled' : 'Marked for reinstall'}: ${good} host${good === 1 ? '' : 's'}${bad.length ? ` — ${bad.join('; ')}` : ''}`, bad.length > 0);
          for (const n of [...selected]) setSel(n, false);
          selected.clear();
          updateSelection();
          reloadSoon();
        } catch (err) {
          if (err.details?.missing) return ask(names, cancel, err.details.missing);
          toast(`Failed: ${err.message}`, true);
        }
      };
      if (!dlg.open) dlg.showModal();
    };
    $('#hostsform').addEventListener('submit', (e) => {
      e.preventDefault();
      const names = [...selected].sort();
      if (names.length) ask(names, e.submitter?.value === 'cancel');
    });

    stream({
      host: (h) => {
        const old = rows.get(h.name);
        if (old) {
          h = { power: old.power, ...h }; // live rows carry no power state: keep the page's
          rows.set(h.name, h);
          const tr = $(`tr[data-host="${CSS.escape(h.name)}"]`, tbody);
          if (tr) {
            tr.outerHTML = rowHtml(h);
            $(`tr[data-host="${CSS.escape(h.name)}"]`, tbody).classList.add('flash');
          }
        }
        // counts, and whether the host now enters or leaves this filtered page, come from the server
        if (!old || old.state !== h.state || q.sort !== 'name') reloadSoon();
      },
      refresh: reloadSoon,
    });
    // the first page came with the HTML; the script takes over from the same query
    total = Number(($('#range').textContent.match(/of (\d+)/) || [])[1]) || 0;
    load();
  }

  // ---------- host page: every panel follows the host live ----------
  function hostPage(tl) {
    const host = tl.dataset.host;
    const viewedRun = Number(tl.dataset.run) || null;
    const live = tl.dataset.live === 'yes';
    const tbody = $('tbody', tl);
    const log = $('#log');
    const head = (h) => {
      const b = $('#h-state');
      b.className = `badge st-${h.state}`;
      b.textContent = h.state;
      $('#h-since').innerHTML = h.stateSince ? `for ${since(h.stateSince)}` : '';
      $('#h-progress').value = h.progress;
      $('#h-progress').className = `st-${h.state}`;
      $('#h-pct').textContent = `${h.progress}%`;
      $('#h-stage').textContent = h.stage ?? '';
      const reason = $('#h-reason');
      reason.textContent = h.reason ?? '';
      reason.hidden = !h.reason;
      $('#f-last').textContent = duration(h.lastDurationMs);
      $('#f-updated').innerHTML = time(h.updatedAt);
    };
    const runsTable = (runs, current) => {
      $('#runs tbody').innerHTML = runs.length
        ? runs.map((r) => `<tr data-run="${r.id}"${r.id === current ? ' class="current"' : ''}><td><a href="/hosts/${encodeURIComponent(host)}?run=${r.id}">#${r.id}</a></td><td><span class="badge st-${esc(r.state)}">${esc(r.state)}</span></td><td class="small">${time(r.created_at)}</td><td class="small">${esc(r.marked_by ?? '—')}</td><td class="small">${r.finished_at ? duration(r.finished_at - (r.booted_at ?? r.created_at)) : '—'}</td></tr>`).join('')
        : '<tr class="empty"><td colspan="5">None.</td></tr>';
    };
    const timeline = (events) => {
      const t0 = events[0]?.at ?? 0;
      tl.dataset.t0 = t0;
      const steps = events.filter((e) => e.kind !== 'log');
      const logs = events.filter((e) => e.kind === 'log');
      tbody.innerHTML = steps.length
        ? steps.map((e) => `<tr class="k-${esc(e.kind)}"><td class="mono small">${time(e.at)}</td><td class="mono small">${((e.at - t0) / 1000).toFixed(1)}</td><td><span class="kind">${esc(e.kind)}</span></td><td>${esc(e.stage ?? '')}</td><td>${esc(e.message ?? '')}</td><td class="mono small muted">${esc(e.source ?? '')}</td></tr>`).join('')
        : '<tr class="empty"><td colspan="6">No install runs yet.</td></tr>';
      const atBottom = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
      log.innerHTML = logs.length ? logs.map((e) => `<span>${time(e.at)}  ${esc(e.message)}\n</span>`).join('') : '<span class="muted">No log lines (installer syslog) for this run.</span>';
      if (atBottom) log.scrollTop = log.scrollHeight;
    };
    // the header, facts, the runs list and (for the latest run) timeline and log all come
    // from one read, so no panel can lag behind another
    let timer = null;
    let busy = false;
    let again = false;
    const reload = async () => {
      if (busy) { again = true; return; }
      busy = true;
      try {
        const r = await fetch(`/hosts/${encodeURIComponent(host)}/run.json`, { credentials: 'same-origin' });
        if (!r.ok) return;
        const d = await r.json();
        head(d.host);
        const current = live ? (d.run?.id ?? null) : viewedRun;
        runsTable(d.runs ?? [], current);
        if (live) {
          tl.dataset.run = d.run?.id ?? '';
          $('#run-info').textContent = d.run ? `run ${d.run.id} · marked by ${d.run.marked_by ?? '?'}` : '';
          timeline(d.events);
        }
        tl.dataset.synced = String(Date.now());
      } finally {
        busy = false;
        if (again) { again = false; reload(); }
      }
    };
    const soon = () => { timer ??= setTimeout(() => { timer = null; reload(); }, 120); };
    stream({
      host: (h) => { if (h.name === host) { head(h); soon(); } },
      event: (e) => { if (e.host === host) soon(); },
      refresh: soon,
    });
  }

  document.addEventListener('DOMContentLoaded', () => {
    localise();
    for (const s of $$('.since[data-since]')) s.textContent = duration(Math.max(0, Date.now() - Number(s.dataset.since)));
    const hosts = $('#hosts');
    if (hosts && $('#unbootable-data')) hostsPage(hosts);
    const tl = $('#timeline');
    if (tl) hostPage(tl);
  });
})();
