// The window console (/verify): scanner input, PDF/photo upload and the camera, each sent to
// POST /api/v1/verify and the report rendered here. A static file, so the page's
// Content-Security-Policy needs no inline script.
(function () {
  'use strict';
  const result = document.getElementById('result');
  const esc = (s) => String(s == null ? '' : s).replace(/[&<>"']/g, (c) => ({'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;'}[c]));
  // What was handed in, as the clerk says it; the code stays in data-evidence for programs.
  const EVIDENCE = {qr: '二维码', pdf: 'PDF 文件', image: '图片（照片或扫描）', scan: '扫描件（无签章的 PDF）'};
  // An ISO 8601 moment as the pages give it: Beijing time (UTC+8 all year), 2026年12月08日 10:20:33.
  function beijing(iso) {
    const t = new Date(Date.parse(iso) + 8 * 3600 * 1000);
    const two = (n) => String(n).padStart(2, '0');
    return t.getUTCFullYear() + '年' + two(t.getUTCMonth() + 1) + '月' + two(t.getUTCDate()) + '日 ' +
      two(t.getUTCHours()) + ':' + two(t.getUTCMinutes()) + ':' + two(t.getUTCSeconds());
  }
  const reasons = (checks, passed) => checks.filter((c) => c.passed === passed).map((c) => c.reason_zh || c.reason);

  // valid: green; unchecked (genuine, status not checked): amber, never green; the rest: red.
  function tone(report) {
    if (report.valid) return 'ok';
    return report.verdict === 'unchecked' ? 'warn' : 'bad';
  }

  function headline(report, t) {
    if (t === 'ok') return report.copy ? '该加注件真实有效，仅限下列用途' : '该电子证照真实有效';
    if (t === 'warn') return '证照真实，但未能核验其当前状态，不能作为有效证照使用：' + reasons(report.checks, null).join('；');
    return reasons(report.checks, false).join('；');
  }

  function notices(report) {
    const list = report.warnings || [];
    if (!list.length) return '';
    return '<div class="notices" role="alert" data-notices="' + list.length + '"><strong>请注意</strong><ul>' +
      list.map((w) => '<li data-notice="' + esc(w.code) + '">' + esc(w.message_zh || w.message) + '</li>').join('') + '</ul></div>';
  }

  function show(report) {
    const lic = report.licence || {};
    const t = tone(report);
    let html = '<div class="card"><div class="verdict ' + t + '" data-verdict="' + esc(report.verdict) + '">' +
      esc(report.verdict_label || report.verdict) + '<div class="reason">' + esc(headline(report, t)) + '</div></div>';
    html += notices(report);
    if (report.copy) {
      const cp = report.copy;
      html += '<div class="copy-notice" data-copy-expired="' + (cp.expired ? 'true' : 'false') + '"><strong>加注件' + (cp.expired ? '（已过期）' : '') + '</strong>' +
        '<table><tr><th>使用单位</th><td>' + esc(cp.recipient.name) + '</td></tr>' +
        '<tr><th>申请事由</th><td>' + esc(cp.purpose) + '</td></tr>' +
        '<tr><th>有效期至</th><td>' + esc(new Date(cp.expires_at).toLocaleString('zh-CN', {timeZone: 'Asia/Shanghai', hour12: false})) + '</td></tr></table>' +
        '<p class="muted">' + esc(cp.notice) + '</p></div>';
    }
    if (report.licence) {
      html += '<table><tr><th>证照类型</th><td>' + esc(lic.kind_label) + '</td></tr>' +
        '<tr><th>持证人</th><td>' + esc(lic.holder) + '</td></tr>' +
        (lic.holder_id ? '<tr><th>证件号码</th><td>' + esc(lic.holder_id) + '</td></tr>' : '') +
        '<tr><th>电子证照制证单位</th><td>' + esc((lic.issuer && (lic.issuer.name || lic.issuer.code)) || '') + '</td></tr>' +
        '<tr><th>有效期至</th><td>' + esc(lic.expires_at ? lic.expires_at.slice(0, 10) : '长期') + '</td></tr>' +
        '<tr><th>证照标识</th><td><code>' + esc(lic.identifier) + '</code></td></tr></table>';
    }
    html += '<ul class="checks">' + report.checks.map((c) =>
      '<li class="' + (c.passed ? 'pass' : (c.passed === false ? 'fail' : 'skip')) + '" data-check="' + esc(c.name) + '">' +
      esc(c.label || c.name) + '：' + esc(c.reason_zh || c.reason) + '</li>').join('') + '</ul>';
    html += '<p class="muted" data-evidence="' + esc(report.evidence) + '">核验时间：' + esc(beijing(report.checked_at)) +
      '（北京时间） · 证据：' + esc(EVIDENCE[report.evidence] || report.evidence) + '</p></div>';
    result.innerHTML = html;
  }

  function problem(p) {
    const fields = (p.errors || []).map((e) => e.field + '：' + e.reason).join('；');
    result.innerHTML = '<div class="card"><div class="verdict bad" data-verdict="unreadable">无法识别<div class="reason">' +
      esc(p.detail || p.title) + (fields ? '（' + esc(fields) + '）' : '') + '</div></div></div>';
  }

  async function send(body, headers) {
    result.innerHTML = '<div class="card muted">核验中…</div>';
    try {
      const resp = await fetch('/api/v1/verify', {method: 'POST', body: body, headers: headers || {}});
      const data = await resp.json();
      if (resp.ok) show(data); else problem(data);
    } catch (e) {
      problem({detail: '网络错误，请重试'});
    }
  }

  const qr = document.getElementById('qr');
  document.getElementById('qr-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const text = qr.value.trim();
    if (!text) return;
    send(JSON.stringify({qr: text}), {'Content-Type': 'application/json'});
    qr.value = '';
    qr.focus();
  });

  function upload(input) {
    input.addEventListener('change', () => {
      if (!input.files.length) return;
      const form = new FormData();
      form.append('file', input.files[0]);
      send(form);
      input.value = '';
    });
  }
  upload(document.getElementById('file'));
  upload(document.getElementById('photo'));

  const camBtn = document.getElementById('camera-btn');
  const video = document.getElementById('camera');
  const snap = document.getElementById('snap');
  if (navigator.mediaDevices && navigator.mediaDevices.getUserMedia) {
    camBtn.hidden = false;
    camBtn.addEventListener('click', async () => {
      try {
        video.srcObject = await navigator.mediaDevices.getUserMedia({video: {facingMode: 'environment', width: {ideal: 1920}}});
        video.classList.add('on');
        await video.play();
        snap.hidden = false;
      } catch (e) {
        problem({detail: '无法打开摄像头：' + e.message});
      }
    });
    snap.addEventListener('click', () => {
      const canvas = document.createElement('canvas');
      canvas.width = video.videoWidth; canvas.height = video.videoHeight;
      canvas.getContext('2d').drawImage(video, 0, 0);
      canvas.toBlob((blob) => { const f = new FormData(); f.append('file', blob, 'camera.jpg'); send(f); }, 'image/jpeg', 0.92);
    });
  }
})();
