// The 3D viewer: plays the takes' GLB files (the same files users download) at a time given from outside
// (the music's clock), with orbit/zoom, a floor grid, the skinned capsule body from the file, a skeleton
// drawn through it, and the feet marked while they are on the ground. While "follow" is on the camera keeps
// every dancer in view: it aims at the middle of them all and stands back far enough for all of them.
import * as THREE from 'three';
import { OrbitControls } from 'three/addons/controls/OrbitControls.js';
import { GLTFLoader } from 'three/addons/loaders/GLTFLoader.js';

const CONTACT = new THREE.Color(0xffeb3c);
const NO_CONTACT = new THREE.Color(0x59606e);
const SPACING = 1.8; // metres between takes compared side by side
const BODY = 0.15; // metres the capsule body reaches beyond the joints
const MARGIN = 1.1; // room around the dancers when framing them
const EASE = 0.08; // how far the camera goes towards its framing each frame (smooth, not jumpy)

export class Viewer {
  constructor(canvas) {
    this.canvas = canvas;
    this.renderer = new THREE.WebGLRenderer({ canvas, antialias: true });
    this.renderer.setPixelRatio(Math.min(window.devicePixelRatio || 1, 2));
    this.scene = new THREE.Scene();
    this.scene.background = new THREE.Color(0x161920);
    this.scene.fog = new THREE.Fog(0x161920, 9, 28); // the floor fades out instead of ending at a line
    this.camera = new THREE.PerspectiveCamera(40, 1, 0.05, 200);
    this.camera.position.set(0.7, 1.8, 4.4);
    this.controls = new OrbitControls(this.camera, canvas);
    this.controls.target.set(0, 0.95, 0);
    this.controls.enableDamping = true;
    this.controls.maxDistance = 40;
    // the distance the user chose (by zooming); framing stands further back only when the dancers need it
    this.userDistance = this.camera.position.distanceTo(this.controls.target);
    this.controls.addEventListener('end', () => {
      this.userDistance = this.camera.position.distanceTo(this.controls.target);
    });
    this.scene.add(new THREE.HemisphereLight(0xdfe6ff, 0x303440, 2.2));
    const sun = new THREE.DirectionalLight(0xffffff, 1.6);
    sun.position.set(3, 6, 4);
    this.scene.add(sun);
    const floor = new THREE.Mesh(new THREE.CircleGeometry(30, 64), new THREE.MeshStandardMaterial({ color: 0x232834, roughness: 1 }));
    floor.rotation.x = -Math.PI / 2;
    floor.position.y = -0.002;
    this.scene.add(floor);
    const grid = new THREE.GridHelper(30, 60, 0x5a6478, 0x363c4a);
    this.scene.add(grid);
    this.loader = new GLTFLoader();
    this.actors = [];
    this.follow = true;
    this.time = 0;
    this.dirty = true; // a frame must be drawn
    this.stale = true; // the dancers must be posed again
    this.loadToken = 0;
    new ResizeObserver(() => this.resize()).observe(canvas);
    this.resize();
  }

  resize() {
    const w = this.canvas.clientWidth || 1;
    const h = this.canvas.clientHeight || 1;
    this.renderer.setSize(w, h, false);
    this.camera.aspect = w / h;
    this.camera.updateProjectionMatrix();
    this.dirty = true;
  }

  clear() {
    for (const a of this.actors) {
      this.scene.remove(a.group, ...a.extra);
      for (const o of [a.group, ...a.extra]) o.traverse((x) => { if (x.geometry) x.geometry.dispose(); });
    }
    this.actors = [];
  }

  // Show these takes (the first one leads; the others stand beside it). Resolves once all are loaded.
  async show(takes) {
    const token = ++this.loadToken;
    const loaded = await Promise.all(takes.map((t) => this.loader.loadAsync(`/files/${t.glb}`)));
    if (token !== this.loadToken) return false; // a newer request won
    this.clear();
    loaded.forEach((gltf, i) => this.actors.push(this.makeActor(takes[i], gltf, i, takes.length)));
    this.stale = true;
    this.setTime(this.time);
    if (this.follow) this.frame(1);
    return true;
  }

  makeActor(take, gltf, index, count) {
    const group = new THREE.Group();
    group.position.x = (index - (count - 1) / 2) * SPACING;
    group.add(gltf.scene);
    this.scene.add(group);
    const mixer = new THREE.AnimationMixer(gltf.scene);
    const clip = gltf.animations[0];
    const action = mixer.clipAction(clip);
    action.play();
    const joints = take.joints.map((n) => gltf.scene.getObjectByName(THREE.PropertyBinding.sanitizeNodeName(n)));
    gltf.scene.traverse((o) => { if (o.isMesh) o.frustumCulled = false; }); // skinned bounds lag the dance
    // the skeleton, drawn through the body
    const pairs = [];
    take.parents.forEach((p, j) => { if (p >= 0 && joints[p] && joints[j]) pairs.push([p, j]); });
    const lineGeo = new THREE.BufferGeometry();
    lineGeo.setAttribute('position', new THREE.BufferAttribute(new Float32Array(pairs.length * 6), 3));
    const lines = new THREE.LineSegments(lineGeo, new THREE.LineBasicMaterial({ color: 0xffffff, transparent: true, opacity: 0.75, depthTest: false }));
    lines.renderOrder = 2;
    lines.frustumCulled = false;
    this.scene.add(lines);
    group.userData.lines = lines;
    // the feet: a ball on the joint and a disc on the floor, yellow while in contact
    const feet = [];
    take.feet.forEach((name, k) => {
      if (!name) return;
      const joint = gltf.scene.getObjectByName(THREE.PropertyBinding.sanitizeNodeName(name));
      if (!joint) return;
      const ball = new THREE.Mesh(new THREE.SphereGeometry(0.035, 12, 8), new THREE.MeshBasicMaterial({ color: NO_CONTACT.clone() }));
      const disc = new THREE.Mesh(new THREE.CircleGeometry(0.07, 20), new THREE.MeshBasicMaterial({ color: NO_CONTACT.clone(), transparent: true, opacity: 0.8 }));
      disc.rotation.x = -Math.PI / 2;
      ball.renderOrder = 3;
      ball.material.depthTest = false;
      this.scene.add(ball, disc);
      feet.push({ joint, ball, disc, bits: take.contacts[k] || '' });
    });
    return { take, group, mixer, action, duration: clip.duration, joints, pairs, lines, feet, extra: [lines, ...feet.flatMap((f) => [f.ball, f.disc])] };
  }

  // Pose every dancer at time t (seconds); nothing to do when neither the time nor the dancers changed.
  setTime(t) {
    if (t === this.time && !this.stale) return;
    this.time = t;
    this.stale = false;
    this.dirty = true;
    const v = new THREE.Vector3();
    for (const a of this.actors) {
      a.action.time = Math.min(Math.max(t, 0), Math.max(a.duration - 1e-6, 0));
      a.mixer.update(0);
      a.group.updateMatrixWorld(true);
      const pos = a.lines.geometry.attributes.position;
      a.pairs.forEach(([p, j], i) => {
        a.joints[p].getWorldPosition(v); pos.setXYZ(2 * i, v.x, v.y, v.z);
        a.joints[j].getWorldPosition(v); pos.setXYZ(2 * i + 1, v.x, v.y, v.z);
      });
      pos.needsUpdate = true;
      const frame = Math.min(a.take.frames - 1, Math.max(0, Math.floor(t * a.take.fps + 1e-6)));
      for (const f of a.feet) {
        const on = f.bits[frame] === '1';
        f.joint.getWorldPosition(v);
        f.ball.position.copy(v);
        f.disc.position.set(v.x, 0.003, v.z);
        f.ball.material.color.copy(on ? CONTACT : NO_CONTACT);
        f.disc.material.color.copy(on ? CONTACT : NO_CONTACT);
        f.disc.visible = on;
      }
    }
  }

  // Where the camera should aim and how far back it should stand to see every dancer now: it aims at the
  // middle of the box around all their joints (grown by the body around them) and stands back until every
  // corner of that box lies inside both fields of view, looking from where the camera looks now.
  framing() {
    const box = new THREE.Box3();
    const v = new THREE.Vector3();
    for (const a of this.actors) for (const j of a.joints) if (j) box.expandByPoint(j.getWorldPosition(v));
    if (box.isEmpty()) return null;
    box.expandByScalar(BODY);
    const target = box.getCenter(new THREE.Vector3());
    const m = this.camera.matrixWorld.elements;
    const right = new THREE.Vector3(m[0], m[1], m[2]).normalize();
    const up = new THREE.Vector3(m[4], m[5], m[6]).normalize();
    const back = new THREE.Vector3(m[8], m[9], m[10]).normalize();
    const tanV = Math.tan(THREE.MathUtils.degToRad(this.camera.fov) / 2) / MARGIN;
    const tanH = tanV * this.camera.aspect;
    let distance = this.userDistance;
    for (const x of [box.min.x, box.max.x]) {
      for (const y of [box.min.y, box.max.y]) {
        for (const z of [box.min.z, box.max.z]) {
          const r = v.set(x, y, z).sub(target);
          const depth = r.dot(back); // towards the camera
          distance = Math.max(distance, depth + Math.abs(r.dot(right)) / tanH, depth + Math.abs(r.dot(up)) / tanV);
        }
      }
    }
    return { target, distance };
  }

  // Move the camera the fraction `ease` (1: all the way) towards the framing, keeping the direction the user
  // looks from. Returns whether it moved.
  frame(ease = EASE) {
    const f = this.framing();
    if (!f) return false;
    const offset = this.camera.position.clone().sub(this.controls.target);
    const d = offset.length();
    const delta = f.target.sub(this.controls.target).multiplyScalar(ease);
    const dd = (f.distance - d) * ease;
    if (delta.lengthSq() < 1e-10 && Math.abs(dd) < 1e-5) return false;
    this.controls.target.add(delta);
    this.camera.position.copy(this.controls.target).add(offset.multiplyScalar((d + dd) / d));
    this.camera.updateMatrixWorld();
    this.dirty = true;
    return true;
  }

  // Each dancer's joints as the camera sees them: [{min: [x, y], max: [x, y]}] in normalised device
  // coordinates (-1..1 across the canvas), for tests and the curious.
  projected() {
    this.camera.updateMatrixWorld();
    const v = new THREE.Vector3();
    return this.actors.map((a) => {
      const min = [Infinity, Infinity];
      const max = [-Infinity, -Infinity];
      for (const j of a.joints) {
        if (!j) continue;
        j.getWorldPosition(v).project(this.camera);
        min[0] = Math.min(min[0], v.x); min[1] = Math.min(min[1], v.y);
        max[0] = Math.max(max[0], v.x); max[1] = Math.max(max[1], v.y);
      }
      return { min, max };
    });
  }

  // Draw a frame when something changed (time, dancers, camera): an idle page costs no CPU.
  render() {
    let moved = false;
    if (this.follow) moved = this.frame();
    moved = this.controls.update() || moved;
    if (moved || this.dirty) {
      this.renderer.render(this.scene, this.camera);
      this.dirty = false;
    }
  }
}
