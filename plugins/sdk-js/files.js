// Reading the artifact from a renderer or source plugin.
//
// StarlingMonkey has no file API of its own, so this module calls WASI's
// filesystem directly; `sluice plugin build` adds `wasi:filesystem` to the
// renderer and source worlds for JavaScript plugins (the host provides it
// there and preopens the artifact; policies and rollouts have no files, so
// import this module only from a renderer or source).

import { getDirectories } from 'wasi:filesystem/preopens@0.2.12';
import { fail, error } from './index.js';

const decoder = new TextDecoder();

/** The preopened directory `/artifact` (or `/source`) as a WASI descriptor. */
function preopen(name) {
  const found = getDirectories().find(([, path]) => path === name);
  if (!found) fail(error(`${name} is not available to this plugin; only renderers and sources get it`));
  return found[0];
}

/**
 * `relative` joined onto `base` (both relative to the artifact root, `/`
 * separators), with `.` segments dropped; `..` may not leave the root.
 */
export function join(base, relative = '.') {
  const parts = [];
  for (const segment of `${base}/${relative}`.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') {
      if (parts.length === 0) fail(error(`path ${relative} (under ${base}) leaves the artifact`));
      parts.pop();
    } else {
      parts.push(segment);
    }
  }
  return parts.length ? parts.join('/') : '.';
}

function open(path, root, flags) {
  try {
    return preopen(root).openAt({ symlinkFollow: false }, path, flags, { read: true });
  } catch (e) {
    throw wasiFailure(e, root, path);
  }
}

function wasiFailure(e, root, path) {
  if (Array.isArray(e)) return e;
  const code = e?.payload ?? e?.message ?? String(e);
  const why = code === 'no-entry' ? 'it does not exist' : code === 'not-directory' ? 'it is not a directory' : code;
  return [error(`cannot read ${root}/${path}: ${why}`, { location: { file: path, line: 0, column: 0 } })];
}

/** Whether `path` exists in the artifact (any type). */
export function exists(path, root = '/artifact') {
  try {
    preopen(root).statAt({ symlinkFollow: false }, path);
    return true;
  } catch (e) {
    if (e?.payload === 'no-entry') return false;
    throw wasiFailure(e, root, path);
  }
}

/** The contents of the file at `path` in the artifact, as UTF-8 text. */
export function readText(path, root = '/artifact') {
  const fd = open(path, root, {});
  try {
    const size = fd.stat().size;
    const bytes = new Uint8Array(Number(size));
    let offset = 0;
    while (offset < bytes.length) {
      const [chunk, end] = fd.read(BigInt(bytes.length - offset), BigInt(offset));
      bytes.set(chunk, offset);
      offset += chunk.length;
      if (end || chunk.length === 0) break;
    }
    return decoder.decode(bytes.subarray(0, offset));
  } catch (e) {
    throw wasiFailure(e, root, path);
  }
}

/** The entries of the directory at `path`, sorted: `{ name, type }` ('regular-file', 'directory', …). */
export function listDir(path, root = '/artifact') {
  const fd = open(path, root, { directory: true });
  const entries = [];
  try {
    const stream = fd.readDirectory();
    for (let entry = stream.readDirectoryEntry(); entry; entry = stream.readDirectoryEntry()) {
      entries.push({ name: entry.name, type: entry.type });
    }
  } catch (e) {
    throw wasiFailure(e, root, path);
  }
  return entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
