import { copyFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { AvatarError } from '../core/errors.js';
import { contractByName } from '../render/onnx/contracts.js';
import { loadModel } from '../render/onnx/model-session.js';
import { readCropRects, readFolderManifest } from './avatar-folder.js';
import type { AvatarManifest } from './manifest.js';

/** What attachModel did. */
export interface AttachResult {
  readonly dir: string;
  readonly id: string;
  readonly contract: string;
  readonly model: string;
}

/**
 * Attaches a neural model to an avatar folder (prepared, or in the earlier systems'
 * layout): the model is loaded and checked against the contract first, then copied into
 * the folder as `model.onnx`, and avatar.json names it with renderer `onnx`. Files are
 * replaced atomically; a model that does not fit leaves the folder untouched.
 */
export async function attachModel(dir: string, modelFile: string, contractName: string, audioEncoder?: string): Promise<AttachResult> {
  try {
    contractByName(contractName);
  } catch (e) {
    throw new AvatarError('invalid_input', (e as Error).message);
  }
  const folder = resolve(dir);
  const id = basename(folder);
  let manifest: AvatarManifest;
  try {
    manifest = await readFolderManifest(folder, id);
    await readCropRects(folder);
  } catch (e) {
    throw new AvatarError('invalid_input', `${folder} is not an avatar the onnx renderer can use: ${(e as Error).message}`);
  }
  await loadModel(resolve(modelFile), { path: modelFile, contract: contractName }, undefined, audioEncoder ? resolve(audioEncoder) : undefined);
  const target = join(folder, 'model.onnx');
  for (const [from, to] of [[modelFile, target], ...(audioEncoder ? [[audioEncoder, join(folder, 'audio_encoder.onnx')]] : [])] as [string, string][]) {
    if (resolve(from) === to) continue;
    const temp = `${to}.${process.pid}.part`;
    await copyFile(from, temp);
    await rename(temp, to);
  }
  const updated: AvatarManifest = {
    ...manifest, renderer: 'onnx',
    model: { path: 'model.onnx', contract: contractName, ...(audioEncoder ? { audioEncoder: 'audio_encoder.onnx' } : {}) },
  };
  const temp = join(folder, `avatar.json.${process.pid}.part`);
  try {
    await writeFile(temp, JSON.stringify(updated, null, 2) + '\n');
    await rename(temp, join(folder, 'avatar.json'));
  } catch (e) {
    await rm(temp, { force: true });
    throw new AvatarError('output_unwritable', `cannot write ${join(folder, 'avatar.json')}: ${(e as Error).message}`);
  }
  return { dir: folder, id, contract: contractName, model: target };
}

/** True for a folder that is an avatar (avatar.json, or frames/ in the earlier layout). */
export async function isAvatarFolder(dir: string): Promise<boolean> {
  for (const name of ['avatar.json', 'frames']) if (await stat(join(dir, name)).then(() => true, () => false)) return true;
  return false;
}
