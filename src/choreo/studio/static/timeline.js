// The timeline under the viewer: the music's beats as ticks from the top, the dance's own beats (from its
// motion) as ticks from the bottom with its bar starts taller, the feet's contacts as strips, the playhead,
// and the time range chosen for editing. Click to go to a time; drag to choose a range.

export class Timeline {
  constructor(canvas, { onSeek, onRange }) {
    this.canvas = canvas;
    this.onSeek = onSeek;
    this.onRange = onRange;
    this.duration = 0;
    this.beats = [];
    this.danceBeats = [];
    this.downbeats = new Set();
    this.contacts = [];
    this.time = 0;
    this.range = null; // [from, to] seconds
    this.drag = null;
    canvas.addEventListener('pointerdown', (e) => this.down(e));
    canvas.addEventListener('pointermove', (e) => this.move(e));
    canvas.addEventListener('pointerup', (e) => this.up(e));
    new ResizeObserver(() => this.draw()).observe(canvas);
  }

  setTake(take) {
    this.duration = take ? take.duration : 0;
    this.beats = take ? take.beats : [];
    this.danceBeats = take && take.dance_beats ? take.dance_beats : [];
    this.downbeats = new Set(take && take.dance_downbeats ? take.dance_downbeats : []);
    this.contacts = take ? take.contacts : [];
    this.range = null;
    this.draw();
  }

  timeAt(e) {
    const r = this.canvas.getBoundingClientRect();
    const x = Math.min(Math.max(e.clientX - r.left, 0), r.width);
    return this.duration * (r.width ? x / r.width : 0);
  }

  down(e) {
    if (!this.duration) return;
    this.canvas.setPointerCapture(e.pointerId);
    this.drag = { t0: this.timeAt(e), x0: e.clientX, moved: false };
  }

  move(e) {
    if (!this.drag) return;
    if (Math.abs(e.clientX - this.drag.x0) > 4) this.drag.moved = true;
    if (this.drag.moved) {
      const t = this.timeAt(e);
      this.range = [Math.min(t, this.drag.t0), Math.max(t, this.drag.t0)];
      this.draw();
    }
  }

  up(e) {
    if (!this.drag) return;
    const { moved } = this.drag;
    this.drag = null;
    if (moved && this.range) this.onRange(this.range[0], this.range[1]);
    else this.onSeek(this.timeAt(e));
  }

  setRange(from, to) {
    this.range = from == null ? null : [from, to == null ? this.duration : to];
    this.draw();
  }

  setTime(t) {
    if (t === this.time) return;
    this.time = t;
    this.draw();
  }

  draw() {
    const c = this.canvas;
    const dpr = window.devicePixelRatio || 1;
    const w = Math.max(1, Math.round(c.clientWidth * dpr));
    const h = Math.max(1, Math.round(c.clientHeight * dpr));
    if (c.width !== w || c.height !== h) { c.width = w; c.height = h; }
    const g = c.getContext('2d');
    g.fillStyle = '#10131a';
    g.fillRect(0, 0, w, h);
    if (!this.duration) return;
    const x = (t) => (t / this.duration) * w;
    if (this.range) {
      g.fillStyle = 'rgba(50, 150, 255, 0.28)';
      g.fillRect(x(this.range[0]), 0, Math.max(1, x(this.range[1]) - x(this.range[0])), h);
    }
    // feet contacts: four thin strips (left heel/ankle, left toe, right heel/ankle, right toe)
    const strip = Math.max(2, Math.round(h * 0.06));
    this.contacts.forEach((bits, k) => {
      g.fillStyle = k < 2 ? 'rgba(255, 128, 32, 0.8)' : 'rgba(50, 150, 255, 0.8)';
      const y = h - (4 - k) * (strip + 1);
      const n = bits.length;
      let i = 0;
      while (i < n) {
        if (bits[i] !== '1') { i++; continue; }
        let j = i;
        while (j < n && bits[j] === '1') j++;
        g.fillRect((i / n) * w, y, Math.max(1, ((j - i) / n) * w), strip);
        i = j;
      }
    });
    // beats
    g.fillStyle = '#ff506e';
    const top = Math.round(h * 0.12);
    const tick = Math.round(h * 0.5);
    for (const b of this.beats) g.fillRect(Math.round(x(b)), top, Math.max(1, Math.round(dpr)), tick);
    // the dance's own beats, up from the bottom edge; a bar's first beat reaches higher
    g.fillStyle = '#7fe0a0';
    for (const b of this.danceBeats) {
      const len = Math.round(h * (this.downbeats.has(b) ? 0.3 : 0.15));
      g.fillRect(Math.round(x(b)), h - len, Math.max(1, Math.round(dpr)), len);
    }
    // playhead
    g.fillStyle = '#ffffff';
    g.fillRect(Math.round(x(this.time)) - dpr, 0, 2 * dpr, h);
  }
}
