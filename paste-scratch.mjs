import { planPaste } from './dist/src/compose/rgb-paste.js';
import { pasteBytesIntoRgb } from './variant.mjs';
import { squareCrops } from './dist/src/render/onnx/face-crop.js';
import sharp from 'sharp';
const crop = squareCrops([[150,150,362,420]], 1)[0];
const plan = planPaste(crop, 320, 512, 512);
const first = plan.ys.lo[0]; const rows = { firstRow: first, planeStride: (320 - first) * 320 };
let x = 3; const rnd = () => (x = (x * 1103515245 + 12345) >>> 0) >>> 24;
const u8 = new Uint8Array(3*rows.planeStride); for (let i = 0; i < u8.length; i++) u8[i] = 100 + (rnd() >> 2) + ((i % 320) >> 3);
const bg = new Uint8Array(512*512*3); for (let i = 0; i < bg.length; i++) bg[i] = 110 + (rnd() >> 3);
const b = Buffer.from(bg);
const cpu = (fn, n) => { const t = process.cpuUsage(); for (let k = 0; k < n; k++) fn(); const d = process.cpuUsage(t); return ((d.user + d.system) / 1000 / n).toFixed(3); };
for (let round = 0; round < 3; round++) {
  const paste = cpu(() => pasteBytesIntoRgb(u8, 0, rows, 'bgr', plan, b, 512), 300);
  const copy = cpu(() => { const f = Buffer.allocUnsafe(bg.length); f.set(bg); }, 300);
  let t = process.cpuUsage(); for (let k = 0; k < 60; k++) await sharp(b, { raw: { width: 512, height: 512, channels: 3 } }).jpeg({ quality: 75, chromaSubsampling: '4:2:0', optimiseCoding: false }).toBuffer(); let d = process.cpuUsage(t);
  console.log({ paste, copy, encode: ((d.user + d.system) / 1000 / 60).toFixed(3) });
}
import { mainLoop } from './variant2.mjs';
const fp = (() => { const q = (v) => Math.round(v * 256); const from = new Int32Array(plan.h), to = new Int32Array(plan.h);
  for (let j = 0; j < plan.h; j++) { let a = plan.w, bb = 0; for (let i = 0; i < plan.w; i++) { if (plan.weight[j * plan.w + i] === 0) continue; if (i < a) a = i; bb = i + 1; } from[j] = a; to[j] = Math.max(a, bb); }
  return { fx: Int32Array.from(plan.xs.f, q), fy: Int32Array.from(plan.ys.f, q), weight: Int32Array.from(plan.weight, q), from, to }; })();
for (let r = 0; r < 3; r++) console.log('mainLoop only', cpu(() => mainLoop(u8, rows, plan, b, 512, fp, [1, -2, 3]), 300));
