// RFC 7386 JSON Merge Patch: objects merge recursively, null deletes, everything else replaces.
// Keys are read and written as own properties only (see ownProperties.ts).
import type { Json } from './jsonPatch.js';
import { ownValue, setOwn } from './ownProperties.js';
import { isJsonObject } from './jsonObject.js';


export function applyMergePatch(target: Json | undefined, patch: Json): Json {
  if (!isJsonObject<Json>(patch)) return structuredClone(patch);
  const out: { [key: string]: Json } = isJsonObject<Json>(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else setOwn(out, key, applyMergePatch(ownValue(out, key), value));
  }
  return out;
}
