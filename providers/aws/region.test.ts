// The region chain as AWS tools follow it: configuration, AWS_REGION, AWS_DEFAULT_REGION, the AWS
// config file's active profile, then IMDSv2 (nock stands in for the metadata service; nothing else does).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import nock from 'nock';
import { afterEach, describe, expect, it } from 'vitest';
import { regionFromConfigFile, regionFromInstanceMetadata, resolveRegion } from './region.js';

const IMDS = 'http://169.254.169.254';
const none = async () => undefined;

afterEach(() => {
  nock.cleanAll();
  delete process.env.AWS_CONFIG_FILE;
  delete process.env.AWS_PROFILE;
});

describe('AWS region', () => {
  it('takes the configuration first, then AWS_REGION, then AWS_DEFAULT_REGION', async () => {
    const env = { AWS_REGION: 'us-east-2', AWS_DEFAULT_REGION: 'eu-central-1' };
    expect(await resolveRegion('eu-west-1', { env, fromConfigFile: none, fromInstanceMetadata: none })).toBe('eu-west-1');
    expect(await resolveRegion(undefined, { env, fromConfigFile: none, fromInstanceMetadata: none })).toBe('us-east-2');
    expect(await resolveRegion(undefined, { env: { AWS_DEFAULT_REGION: 'eu-central-1' }, fromConfigFile: none, fromInstanceMetadata: none })).toBe('eu-central-1');
  });

  it("reads the active profile's region from the AWS config file", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'aws-config-'));
    writeFileSync(join(dir, 'config'), '[default]\nregion = ap-south-1\n\n[profile ops]\nregion = sa-east-1\n');
    process.env.AWS_CONFIG_FILE = join(dir, 'config');
    process.env.AWS_PROFILE = 'ops';
    expect(await regionFromConfigFile()).toBe('sa-east-1');
    expect(await resolveRegion(undefined, { env: {}, fromInstanceMetadata: none })).toBe('sa-east-1');
  });

  it('asks instance metadata with an IMDSv2 token last', async () => {
    const scope = nock(IMDS)
      .put('/latest/api/token')
      .matchHeader('x-aws-ec2-metadata-token-ttl-seconds', '60')
      .reply(200, 'tok')
      .get('/latest/meta-data/placement/region')
      .matchHeader('x-aws-ec2-metadata-token', 'tok')
      .reply(200, 'eu-north-1');
    expect(await resolveRegion(undefined, { env: {}, fromConfigFile: none })).toBe('eu-north-1');
    expect(scope.isDone()).toBe(true);
  });

  it('fails with a message naming every place a region can come from', async () => {
    nock(IMDS).put('/latest/api/token').reply(403);
    expect(await regionFromInstanceMetadata({})).toBeUndefined();
    await expect(resolveRegion(undefined, { env: { AWS_EC2_METADATA_DISABLED: 'true' }, fromConfigFile: none })).rejects.toThrow(
      /no AWS region: set providers\[\]\.region .*--region.*AWS_REGION or AWS_DEFAULT_REGION/,
    );
  });
});
