/* A job's progress page (我的导出/导入): polls the job's status and fills the bar; when the job is done
   the download link appears (and starts, when the page was opened by an export). No inline script. */
(function () {
  'use strict';
  var box = document.getElementById('job');
  if (!box || !window.fetch) { return; }
  var bar = document.getElementById('job-progress-bar');
  var info = document.getElementById('job-progress-text');
  var result = document.getElementById('job-result');
  var message = document.getElementById('job-message');
  var link = document.getElementById('job-download');
  var url = box.getAttribute('data-status-url');
  var delay = 700, failures = 0;

  function text(name, values) {
    var template = box.getAttribute('data-text-' + name) || '';
    return template.replace(/\{(\w+)\}/g, function (_m, k) {
      return values && values[k] !== undefined ? Number(values[k]).toLocaleString() : '';
    });
  }

  function show(state) {
    var active = state.status === 'queued' || state.status === 'running';
    bar.style.width = state.percent + '%';
    bar.textContent = state.percent + '%';
    bar.setAttribute('aria-valuenow', state.percent);
    box.setAttribute('data-status', state.status);
    if (active) {
      var phase = state.phase === 'rows' || state.phase === 'writing' || state.phase === 'validating' ? state.phase
        : (state.status === 'queued' ? 'queued' : 'running');
      info.textContent = (phase === 'rows' || phase === 'writing') && state.total ? text(phase, state) : text(phase);
      return;
    }
    bar.classList.remove('active', 'progress-bar-striped');
    info.textContent = state.status_label;
    result.hidden = false;
    message.textContent = state.message;
    if (state.status === 'failed') {
      bar.classList.add('progress-bar-danger');
      result.className = 'alert alert-danger';
    } else {
      result.className = 'alert alert-success';
      if (state.download_url) {
        link.href = state.download_url;
        link.hidden = false;
        if (box.getAttribute('data-autodownload') === '1' && !box.getAttribute('data-downloaded')) {
          box.setAttribute('data-downloaded', '1');
          window.location.assign(state.download_url);
        }
      }
    }
  }

  function poll() {
    fetch(url, {credentials: 'same-origin', headers: {'Accept': 'application/json'}}).then(function (r) {
      if (!r.ok) { throw new Error(r.status); }
      return r.json();
    }).then(function (state) {
      failures = 0;
      show(state);
      if (state.status === 'queued' || state.status === 'running') {
        delay = Math.min(delay * 1.3, 3000);
        window.setTimeout(poll, delay);
      }
    }).catch(function () {
      failures += 1;
      if (failures > 5) { info.textContent = text('lost'); return; }
      window.setTimeout(poll, 3000);
    });
  }

  var status = box.getAttribute('data-status');
  if (status === 'queued' || status === 'running') {
    window.setTimeout(poll, 300);
  } else if (status === 'done' && box.getAttribute('data-autodownload') === '1' && link && !link.hidden) {
    box.setAttribute('data-downloaded', '1');
    window.location.assign(link.href);
  }
})();
