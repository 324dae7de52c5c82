// The AWS region, found the way every AWS tool finds it: the configuration (file or --region), then
// AWS_REGION, then AWS_DEFAULT_REGION (the CLI's name, which the JS SDK alone ignores), then the
// active profile of the AWS config file, then the instance metadata service (IMDSv2), where the
// controller runs on an EC2 node.
import { getProfileName, loadSharedConfigFiles } from '@smithy/core/config';

export interface RegionSources {
  env: Record<string, string | undefined>;
  /** The region of the active profile in ~/.aws/config (AWS_CONFIG_FILE), if any. */
  fromConfigFile?: () => Promise<string | undefined>;
  /** The instance's region from IMDS, if reachable. */
  fromInstanceMetadata?: () => Promise<string | undefined>;
}

export class RegionNotFoundError extends Error {
  constructor() {
    super(
      'no AWS region: set providers[].region in the configuration (or --region), AWS_REGION or AWS_DEFAULT_REGION, a region in the AWS config file, or run on EC2 where instance metadata answers',
    );
    this.name = 'RegionNotFoundError';
  }
}

export async function resolveRegion(configured: string | undefined, sources: RegionSources): Promise<string> {
  const fromEnv = [configured, sources.env.AWS_REGION, sources.env.AWS_DEFAULT_REGION].find((r) => r !== undefined && r.trim() !== '');
  if (fromEnv) return fromEnv.trim();
  const fromFile = await (sources.fromConfigFile ?? regionFromConfigFile)();
  if (fromFile) return fromFile;
  const fromImds = sources.env.AWS_EC2_METADATA_DISABLED === 'true' ? undefined : await (sources.fromInstanceMetadata ?? (() => regionFromInstanceMetadata(sources.env)))();
  if (fromImds) return fromImds;
  throw new RegionNotFoundError();
}

export async function regionFromConfigFile(): Promise<string | undefined> {
  const { configFile } = await loadSharedConfigFiles();
  return configFile[getProfileName({})]?.region;
}

const IMDS_ENDPOINT = 'http://169.254.169.254';

/** IMDSv2: a session token, then placement/region. Unreachable or refused answers undefined. */
export async function regionFromInstanceMetadata(env: Record<string, string | undefined>, timeoutMs = 1000): Promise<string | undefined> {
  const base = (env.AWS_EC2_METADATA_SERVICE_ENDPOINT ?? IMDS_ENDPOINT).replace(/\/$/, '');
  try {
    const token = await fetch(`${base}/latest/api/token`, {
      method: 'PUT',
      headers: { 'x-aws-ec2-metadata-token-ttl-seconds': '60' },
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (!token.ok) return undefined;
    const answer = await fetch(`${base}/latest/meta-data/placement/region`, {
      headers: { 'x-aws-ec2-metadata-token': await token.text() },
      signal: AbortSignal.timeout(timeoutMs),
    });
    const region = answer.ok ? (await answer.text()).trim() : '';
    return region || undefined;
  } catch {
    return undefined;
  }
}
