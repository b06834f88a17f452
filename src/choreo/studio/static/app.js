// choreo studio's page: uploads, making and editing dances, music for dances, exports, and the player.
// Everything the server says is shown with textContent (never parsed as HTML): file names are user input.
import { Viewer } from './viewer.js';
import { Timeline } from './timeline.js';

const $ = (id) => document.getElementById(id);
const PATH = '__path__';
// the run's token, written into the page by the studio: every state change sends it, which a page on another
// site cannot do (it cannot read this page, and a custom header needs a CORS preflight the studio never grants)
const TOKEN = document.querySelector('meta[name="choreo-token"]').content;
const TOKEN_HEADER = 'X-Choreo-Token';

const state = {
  models: null,
  maxUploadMB: 100,
  takes: new Map(),
  current: null,
  compare: new Set(),
  polling: new Map(),
};

// ---- talking to the server -------------------------------------------------------------------------------
async function api(method, url, body) {
  const opts = { method, headers: {} };
  if (method !== 'GET') opts.headers[TOKEN_HEADER] = TOKEN;
  if (body !== undefined) {
    opts.headers['Content-Type'] = 'application/json';
    opts.body = JSON.stringify(body);
  }
  const r = await fetch(url, opts);
  let data = null;
  try { data = await r.json(); } catch { /* not JSON */ }
  if (!r.ok) throw new Error((data && data.error) || `the studio answered ${r.status} ${r.statusText}`);
  return data;
}

function say(id, text, ok = false) {
  const el = $(id);
  el.textContent = text || '';
  el.classList.toggle('ok', ok);
}

function numberOrNull(id) {
  const v = $(id).value.trim();
  return v === '' ? null : Number(v);
}

// ---- the clock: the music when there is some, else the wall clock -----------------------------------------
class Clock {
  constructor(audio) {
    this.audio = audio;
    this.hasAudio = false;
    this.duration = 0;
    this.rate = 1;
    this.playing = false;
    this.base = 0;
    this.t0 = 0;
    audio.addEventListener('ended', () => { this.playing = false; });
  }

  set(src, duration) {
    this.pause();
    this.duration = duration;
    this.base = 0;
    this.hasAudio = Boolean(src);
    if (src) {
      this.audio.src = src;
      this.audio.load();
    } else {
      this.audio.removeAttribute('src');
      this.audio.load();
    }
  }

  get time() {
    if (this.hasAudio) return Math.min(this.audio.currentTime, this.duration);
    if (!this.playing) return this.base;
    const t = this.base + ((performance.now() - this.t0) / 1000) * this.rate;
    if (t >= this.duration) { this.playing = false; this.base = this.duration; return this.duration; }
    return t;
  }

  async play() {
    if (this.time >= this.duration - 1e-3) this.seek(0);
    this.playing = true;
    if (this.hasAudio) {
      this.audio.playbackRate = this.rate;
      try { await this.audio.play(); } catch (e) { this.playing = false; throw e; }
    } else {
      this.t0 = performance.now();
    }
  }

  pause() {
    if (!this.hasAudio && this.playing) this.base = this.time;
    this.playing = false;
    this.audio.pause();
  }

  seek(t) {
    t = Math.min(Math.max(t, 0), this.duration);
    if (this.hasAudio) this.audio.currentTime = t;
    this.base = t;
    this.t0 = performance.now();
  }

  setRate(r) {
    if (!this.hasAudio && this.playing) { this.base = this.time; this.t0 = performance.now(); }
    this.rate = r;
    this.audio.playbackRate = r;
  }
}

const viewer = new Viewer($('view'));
const clock = new Clock($('audio'));
const timeline = new Timeline($('timeline'), {
  onSeek: (t) => clock.seek(t),
  onRange: (a, b) => { $('edit-from').value = a.toFixed(2); $('edit-to').value = b.toFixed(2); },
});
window.studio = { viewer, clock, timeline, state }; // for tests and the curious

function loop() {
  const t = clock.time;
  viewer.setTime(t);
  viewer.render();
  timeline.setTime(t);
  const label = `${t.toFixed(2)} / ${clock.duration.toFixed(2)} s`;
  if ($('time').textContent !== label) $('time').textContent = label;
  const play = clock.playing ? 'Pause' : 'Play';
  if ($('play').textContent !== play) $('play').textContent = play;
  requestAnimationFrame(loop);
}

// ---- models ---------------------------------------------------------------------------------------------------
function fillModels(select, models, preferred, pathLabel) {
  select.replaceChildren();
  for (const m of models) {
    const o = document.createElement('option');
    o.value = m.name;
    o.textContent = `${m.name} (${m.method}, ${m.fps} fps)`;
    o.title = m.description || '';
    o.dataset.guidance = m.guidance ?? '';
    o.dataset.steps = m.steps ?? '';
    if (m.stage_steps) o.dataset.stageSteps = JSON.stringify(m.stage_steps);
    select.append(o);
  }
  const other = document.createElement('option');
  other.value = PATH;
  other.textContent = pathLabel;
  select.append(other);
  select.value = preferred && models.some((m) => m.name === preferred) ? preferred : (models[0] ? models[0].name : PATH);
}

function chosenModel(select, input) {
  return select.value === PATH ? input.value.trim() : select.value;
}

function showPathRows() {
  $('model-path-row').hidden = $('model').value !== PATH;
  $('music-path-row').hidden = $('music-model').value !== PATH;
  showSampling();
  refreshButtons();
}

// Steps as the model counts them: a model that samples in stages (DiffDance: a base model, then
// super-resolution) runs the steps given once per stage, so the label says "per stage" and how many stages.
function stepsText(stageSteps) {
  if (!stageSteps || stageSteps.length < 2) {
    return { label: 'Steps', value: stageSteps ? `${stageSteps[0]}` : '', title: 'denoising steps' };
  }
  const n = stageSteps.length;
  const same = stageSteps.every((k) => k === stageSteps[0]);
  return {
    label: same ? `Steps per stage (${n} stages)` : `Steps (${n} stages)`,
    value: same ? `${stageSteps[0]}` : stageSteps.join(' + '),
    title: `denoising steps of each of the model's ${n} sampling stages (it makes a dance, then refines it); ` +
      `the model's own: ${same ? `${stageSteps[0]} per stage` : stageSteps.join(' + ')}`,
  };
}

// What the page knows of a typed checkpoint or run folder (asked of the studio once typed).
const typed = { name: '', info: null };

async function describeTyped() {
  const name = $('model-path').value.trim();
  if (name === typed.name) return;
  Object.assign(typed, { name, info: null });
  showSampling();
  if (!name) return;
  try {
    const info = await api('GET', `/api/model?name=${encodeURIComponent(name)}`);
    if (typed.name === name) { typed.info = info; showSampling(); }
  } catch (e) {
    if (typed.name === name) say('make-message', e.message);
  }
}

// The chosen model's sampling defaults: a packaged one's from the list, a typed one's once described (those
// its checkpoint states).
function samplingDefaults() {
  const o = $('model').selectedOptions[0];
  if (o && o.value !== PATH) {
    const stageSteps = o.dataset.stageSteps ? JSON.parse(o.dataset.stageSteps) : null;
    return { name: o.value, packaged: true, guidance: o.dataset.guidance, stageSteps };
  }
  // a checkpoint's header may leave out settings its method has: a typed model's fields are never turned off
  if (typed.info) {
    return { name: typed.name, packaged: false, guidance: `${typed.info.guidance ?? ''}`, stageSteps: typed.info.stage_steps };
  }
  return null;
}

// Guidance and steps show the chosen model's defaults, and are off for a model without them.
function showSampling() {
  const m = samplingDefaults();
  const steps = stepsText(m ? m.stageSteps : null);
  $('steps-label').textContent = steps.label;
  $('steps').title = steps.title;
  for (const key of ['guidance', 'steps']) {
    const value = m ? (key === 'steps' ? steps.value : m.guidance) : '';
    const unused = Boolean(m) && m.packaged && value === '';
    $(key).disabled = unused;
    if (unused) $(key).value = '';
    $(key).placeholder = unused ? `not used by ${m.name}` : (value === '' ? "model's" : `model's (${value})`);
  }
}

function setupModels(models) {
  state.models = models;
  fillModels($('model'), models.dance, models.default.dance, 'a checkpoint or run folder…');
  fillModels($('music-model'), models.music, models.default.music, 'a checkpoint or run folder…');
  $('music-note').textContent = models.music_available
    ? 'Makes music that follows the take shown (an uploaded motion or a dance), then plays them together.'
    : 'No music model is installed (choreo models lists what is). To use one you trained ' +
      '(choreo train --method d2mgan), type its checkpoint file or run folder below.';
  showPathRows();
}

function addSong(up) {
  const o = document.createElement('option');
  o.value = up.id;
  o.textContent = `${up.name} (${up.duration.toFixed(1)} s)`;
  $('song').append(o);
  $('song').value = up.id;
}

// ---- uploads ----------------------------------------------------------------------------------------------------
async function uploadFile(file) {
  say('upload-message', '');
  if (!file) return;
  if (file.size > state.maxUploadMB * 2 ** 20) {
    say('upload-message', `${file.name} is larger than the upload limit of ${state.maxUploadMB} MB.`);
    return;
  }
  say('upload-message', `Uploading ${file.name}…`, true);
  try {
    const r = await fetch(`/api/upload?name=${encodeURIComponent(file.name)}`, {
      method: 'POST', body: file, headers: { [TOKEN_HEADER]: TOKEN },
    });
    let data = null;
    try { data = await r.json(); } catch { /* not JSON */ }
    // the studio's messages name the file already
    if (!r.ok) throw new Error((data && data.error) || `${file.name}: upload failed (${r.status})`);
    const up = data.upload;
    if (up.kind === 'audio') {
      addSong(up);
      say('upload-message', `${up.name}: ${up.duration.toFixed(1)} s of music, ready to dance to.`, true);
    } else {
      addTake(data.take, true);
      say('upload-message', `${up.name}: ${up.frames} frames at ${up.fps} fps (${up.skeleton}).`, true);
    }
  } catch (e) {
    say('upload-message', e.message.startsWith(`${file.name}:`) ? e.message : `${file.name}: ${e.message}`);
  }
  refreshButtons();
}

// ---- jobs -------------------------------------------------------------------------------------------------------
function track(job, messageId) {
  const li = document.createElement('li');
  li.dataset.job = job.id;
  const title = document.createElement('div');
  title.textContent = job.title;
  const detail = document.createElement('div');
  detail.className = 'detail';
  const bar = document.createElement('div');
  bar.className = 'bar';
  const fill = document.createElement('div');
  bar.append(fill);
  li.append(title, bar, detail);
  $('jobs').prepend(li);
  const update = (j) => {
    fill.style.width = `${Math.round(j.progress * 100)}%`;
    li.className = j.state;
    if (j.state === 'queued') detail.textContent = j.position ? `waiting: ${j.position} job(s) ahead` : 'waiting';
    else if (j.state === 'running') detail.textContent = `${j.message} (${Math.round(j.progress * 100)}%)`;
    else if (j.state === 'failed') detail.textContent = j.error;
    else detail.textContent = 'done';
  };
  update(job);
  const poll = async () => {
    let j;
    try { j = await api('GET', `/api/jobs/${job.id}`); } catch (e) { detail.textContent = e.message; return; }
    update(j);
    if (j.state === 'done') {
      finished(j);
      // its take is in the list now: the job makes room (a failed job stays, with its message)
      setTimeout(() => li.remove(), 1500);
    } else if (j.state === 'failed') {
      say(messageId, `${j.title}: ${j.error}`);
    } else {
      setTimeout(poll, 400);
    }
    updateStatus();
  };
  setTimeout(poll, 300);
  state.polling.set(job.id, job);
  updateStatus();
}

async function finished(job) {
  state.polling.delete(job.id);
  const r = job.result || {};
  if (job.kind === 'video') {
    const take = state.takes.get(r.take);
    if (take) take.files.mp4 = r.file;
    if (state.current && state.current.id === r.take) showExports();
    say('export-message', 'The MP4 is ready.', true);
    return;
  }
  if (r.take) {
    const take = await api('GET', `/api/takes/${r.take}`);
    addTake(take, true);
  }
}

function updateStatus() {
  const running = [...state.polling.values()].length;
  $('status').textContent = running ? `working… (${running} job(s) in progress)` : 'ready';
  $('status').dataset.busy = running ? '1' : '0';
}

// ---- takes ------------------------------------------------------------------------------------------------------
function addTake(take, select) {
  state.takes.set(take.id, take);
  const li = document.createElement('li');
  li.dataset.take = take.id;
  const box = document.createElement('input');
  box.type = 'checkbox';
  box.title = 'watch beside the take shown';
  box.addEventListener('click', (e) => {
    e.stopPropagation();
    if (!state.current || take.id === state.current.id) { box.checked = false; return; }
    if (box.checked) state.compare.add(take.id); else state.compare.delete(take.id);
    selectTake(state.current, true);
  });
  const number = document.createElement('span');
  number.className = 'number';
  number.textContent = `#${take.number}`;
  const kind = document.createElement('span');
  kind.className = 'kind';
  kind.textContent = `${take.kind} · ${take.duration.toFixed(1)} s`;
  const title = document.createElement('span');
  title.className = 'title';
  title.textContent = take.title;
  li.title = Object.entries(take.settings || {}).map(([k, v]) => `${k}: ${v}`).join('\n');
  li.append(box, number, kind, title);
  li.addEventListener('click', () => selectTake(take));
  $('takes').prepend(li);
  fillInbetween();
  if (select) selectTake(take);
  else syncTakeList();
}

// The list shows which take plays (orange) and which play beside it (blue, ticked).
function syncTakeList() {
  for (const li of $('takes').children) {
    const id = li.dataset.take;
    const current = Boolean(state.current) && state.current.id === id;
    li.classList.toggle('current', current);
    li.classList.toggle('compared', state.compare.has(id));
    const box = li.querySelector('input');
    box.checked = state.compare.has(id);
    box.disabled = current;
  }
}

async function selectTake(take, keepTime = false) {
  if (!state.current || state.current.id !== take.id) {
    // ticks belong to the take shown: choosing a ticked take swaps it with the one shown; any other take
    // (a click, or a new take arriving) starts without comparisons
    if (state.compare.has(take.id)) {
      state.compare.delete(take.id);
      if (state.current) state.compare.add(state.current.id);
    } else {
      state.compare.clear();
    }
  }
  const t = keepTime ? clock.time : 0;
  state.current = take;
  syncTakeList();
  const others = [...state.compare].map((id) => state.takes.get(id)).filter(Boolean);
  $('stage-empty').hidden = true;
  $('take-title').textContent = `#${take.number} ${take.title}`;
  $('take-title').title = take.title;
  clock.set(take.audio ? `/files/${take.audio}` : null, take.duration);
  timeline.setTake(take);
  $('edit-from').value = '0';
  $('edit-to').value = '';
  try {
    if (await viewer.show([take, ...others])) document.body.dataset.loaded = take.id;
    document.body.dataset.shown = viewer.actors.map((a) => a.take.id).join(' ');
  } catch (e) {
    say('export-message', `cannot show ${take.title}: ${e.message}`);
  }
  clock.seek(t);
  fillInbetween();
  showExports();
  refreshButtons();
}

function fillInbetween() {
  const sel = $('inbetween-to');
  const keep = sel.value;
  sel.replaceChildren();
  for (const take of state.takes.values()) {
    if (state.current && take.id === state.current.id) continue;
    if (take.kind !== 'dance' && take.kind !== 'upload') continue;
    const o = document.createElement('option');
    o.value = take.id;
    o.textContent = `#${take.number} ${take.title}`;
    sel.append(o);
  }
  if ([...sel.options].some((o) => o.value === keep)) sel.value = keep;
}

function showExports() {
  const take = state.current;
  for (const a of document.querySelectorAll('a.download[data-fmt]')) {
    const fmt = a.dataset.fmt;
    const ok = take && (fmt !== 'wav' || take.audio);
    a.hidden = !ok;
    if (ok) {
      a.href = `/api/takes/${take.id}/download/${fmt}`;
      a.setAttribute('download', '');
    }
  }
  const mp4 = take && take.files && take.files.mp4;
  $('dl-mp4').hidden = !mp4;
  if (mp4) {
    $('dl-mp4').href = `/files/${mp4}?download=1`;
    $('dl-mp4').setAttribute('download', '');
  }
}

// A download asks first and saves only a real file: when the studio refuses (a format the skeleton cannot
// take, say), the page says why instead of saving an error as a file.
function downloadName(response, fallback) {
  const cd = response.headers.get('content-disposition') || '';
  const star = cd.match(/filename\*=(?:UTF-8|utf-8)''([^;]+)/);
  if (star) return decodeURIComponent(star[1]);
  const plain = cd.match(/filename="?([^";]+)"?/);
  return plain ? plain[1] : fallback;
}

async function download(link) {
  if (!state.current || !link.href) return;
  say('export-message', `Preparing ${link.textContent}…`, true);
  try {
    const r = await fetch(link.href);
    if (!r.ok) {
      let data = null;
      try { data = await r.json(); } catch { /* not JSON */ }
      throw new Error((data && data.error) || `the studio answered ${r.status} ${r.statusText}`);
    }
    const url = URL.createObjectURL(await r.blob());
    const a = document.createElement('a');
    a.href = url;
    a.download = downloadName(r, link.textContent);
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
    say('export-message', `${a.download} saved.`, true);
  } catch (e) {
    say('export-message', `${link.textContent}: ${e.message}`);
  }
}

function refreshButtons() {
  const take = state.current;
  const danceModel = chosenModel($('model'), $('model-path'));
  $('make').disabled = !$('song').value || !danceModel;
  $('play').disabled = !take;
  $('edit').disabled = !take || !danceModel;
  $('continue').disabled = !take || take.kind !== 'dance';
  $('inbetween').disabled = !take || take.kind !== 'dance' || !$('inbetween-to').value;
  $('music').disabled = !take || !chosenModel($('music-model'), $('music-path'));
  $('make-mp4').disabled = !take;
}

// ---- actions ----------------------------------------------------------------------------------------------------
function sampling() {
  return { seed: numberOrNull('seed') ?? 0, guidance: numberOrNull('guidance'), steps: numberOrNull('steps') };
}

async function submit(url, body, messageId) {
  say(messageId, '');
  try {
    const job = await api('POST', url, body);
    track(job, messageId);
  } catch (e) {
    say(messageId, e.message);
  }
}

$('make').addEventListener('click', () => submit('/api/dance', {
  song: $('song').value,
  model: chosenModel($('model'), $('model-path')),
  start: numberOrNull('start') ?? 0,
  seconds: numberOrNull('seconds'),
  ...sampling(),
}, 'make-message'));

$('edit').addEventListener('click', () => {
  const take = state.current;
  const s = take.settings || {};
  const fromTake = take.kind === 'dance' && s.song;
  const joints = $('edit-joints').value === 'custom' ? $('edit-custom').value.trim() : $('edit-joints').value;
  submit('/api/dance', {
    song: fromTake ? s.song : $('song').value,
    model: fromTake && $('model').value !== PATH && s.model ? s.model : chosenModel($('model'), $('model-path')),
    start: fromTake ? s.start : (numberOrNull('start') ?? 0),
    seconds: fromTake ? take.duration : numberOrNull('seconds'),
    ...sampling(),
    seed: numberOrNull('edit-seed') ?? 1,
    edit: { mode: 'keep', source: take.id, joints, from: numberOrNull('edit-from') ?? 0, to: numberOrNull('edit-to') },
  }, 'edit-message');
});

$('continue').addEventListener('click', () => {
  const take = state.current;
  submit('/api/dance', {
    model: (take.settings && take.settings.model) || chosenModel($('model'), $('model-path')),
    ...sampling(),
    seed: numberOrNull('edit-seed') ?? 1,
    edit: { mode: 'continue', source: take.id, seconds: numberOrNull('continue-seconds') ?? 8 },
  }, 'edit-message');
});

$('inbetween').addEventListener('click', () => {
  const take = state.current;
  submit('/api/dance', {
    model: (take.settings && take.settings.model) || chosenModel($('model'), $('model-path')),
    ...sampling(),
    seed: numberOrNull('edit-seed') ?? 1,
    edit: { mode: 'inbetween', a: take.id, b: $('inbetween-to').value, seconds: numberOrNull('inbetween-seconds') ?? 4 },
  }, 'edit-message');
});

$('music').addEventListener('click', () => submit('/api/music', {
  source: state.current.id,
  model: chosenModel($('music-model'), $('music-path')),
  seed: numberOrNull('seed') ?? 0,
}, 'music-message'));

$('make-mp4').addEventListener('click', () => {
  say('export-message', 'Rendering the MP4 (see Jobs)…', true);
  submit(`/api/takes/${state.current.id}/video`, {}, 'export-message');
});

for (const link of document.querySelectorAll('a.download')) {
  link.addEventListener('click', (e) => { e.preventDefault(); download(link); });
}

$('play').addEventListener('click', async () => {
  try {
    if (clock.playing) clock.pause(); else await clock.play();
  } catch (e) {
    say('export-message', `cannot play: ${e.message}`);
  }
});
document.addEventListener('keydown', (e) => {
  // space plays and pauses, unless the user is typing
  if (e.code !== 'Space' || ['INPUT', 'SELECT', 'TEXTAREA', 'BUTTON'].includes(e.target.tagName) || !state.current) return;
  e.preventDefault();
  $('play').click();
});
$('speed').addEventListener('change', () => clock.setRate(Number($('speed').value)));
$('follow').addEventListener('change', () => { viewer.follow = $('follow').checked; });
$('edit-joints').addEventListener('change', () => { $('edit-custom-row').hidden = $('edit-joints').value !== 'custom'; });
for (const id of ['model', 'music-model']) $(id).addEventListener('change', showPathRows);
for (const id of ['model-path', 'music-path', 'song']) $(id).addEventListener('input', refreshButtons);
$('model-path').addEventListener('change', describeTyped);
$('song').addEventListener('change', refreshButtons);
const setRange = () => timeline.setRange(numberOrNull('edit-from') ?? 0, numberOrNull('edit-to'));
$('edit-from').addEventListener('input', setRange);
$('edit-to').addEventListener('input', setRange);

// drag and drop anywhere on the drop zone; or the file chooser
const drop = $('drop');
$('file').addEventListener('change', () => { uploadFile($('file').files[0]); $('file').value = ''; });
drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', (e) => {
  e.preventDefault();
  drop.classList.remove('over');
  uploadFile(e.dataTransfer.files[0]);
});

// ---- start ------------------------------------------------------------------------------------------------------
async function start() {
  $('edit-custom-row').hidden = true;
  try {
    const s = await api('GET', '/api/state');
    state.maxUploadMB = s.max_upload_mb;
    $('drop-hint').textContent += ` · ≤ ${s.max_upload_mb} MB`;
    setupModels(s.models);
    for (const up of s.songs) addSong(up);
    for (const t of s.takes) addTake(t, false);
    // a reloaded page keeps following the jobs still waiting or running
    for (const j of s.jobs) if (j.state === 'queued' || j.state === 'running') track(j, 'make-message');
    updateStatus();
  } catch (e) {
    $('status').textContent = `the studio did not answer: ${e.message}`;
  }
  showExports();
  refreshButtons();
  requestAnimationFrame(loop);
}
start();
