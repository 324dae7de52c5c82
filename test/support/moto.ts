// Starts moto_server (an AWS API emulator) on a free loopback port for one test file, and seeds the
// world an AWS cluster sees: a VPC, subnets tagged for load balancers in several zones, node
// instances with a node security group, and Elastic IPs. Fails loudly when moto_server is missing.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ipaddr from 'ipaddr.js';
import {
  AllocateAddressCommand,
  AssociateSubnetCidrBlockCommand,
  AssociateVpcCidrBlockCommand,
  CreateSecurityGroupCommand,
  CreateSubnetCommand,
  CreateTagsCommand,
  CreateVpcCommand,
  DescribeVpcsCommand,
  EC2Client,
  RunInstancesCommand,
} from '@aws-sdk/client-ec2';
import { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';

export const MOTO_REGION = 'us-east-1';
const credentials = { accessKeyId: 'testing', secretAccessKey: 'testing' };

export interface Moto {
  endpoint: string;
  port: number;
  /** Wipes every resource (moto's reset API), for a clean slate between tests. */
  reset(): Promise<void>;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function motoBinary(): string {
  const found = spawnSync('sh', ['-c', 'command -v moto_server'], { encoding: 'utf8' });
  const path = found.stdout.trim();
  if (found.status !== 0 || path === '') {
    throw new Error('moto_server is not installed or not on PATH: the AWS integration tests need it (pip install "moto[server]")');
  }
  return path;
}

export async function startMoto(): Promise<Moto> {
  const binary = motoBinary();
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  // moto-patches/: moto's EC2 tag lookups by resource ID without a scan of every tag, and the NLB's
  // EnablePrefixForIpv6SourceNat kept and reported (moto ignores it).
  const pythonPath = [join(dirname(fileURLToPath(import.meta.url)), 'moto-patches'), process.env.PYTHONPATH].filter(Boolean).join(':');
  const child: ChildProcess = spawn(binary, ['-H', '127.0.0.1', '-p', String(port)], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, PYTHONPATH: pythonPath } });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  let exited: number | null = null;
  child.once('exit', (code) => {
    exited = code ?? -1;
  });
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (exited !== null) throw new Error(`moto_server exited with code ${exited} before it was ready:\n${stderr}`);
    try {
      const res = await fetch(`${endpoint}/moto-api/`);
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`moto_server did not become ready on ${endpoint} within 30s:\n${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    endpoint,
    port,
    async reset() {
      await fetch(`${endpoint}/moto-api/reset`, { method: 'POST' });
    },
    async stop() {
      if (exited !== null) return;
      const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await gone;
      clearTimeout(timer);
    },
  };
}

export function motoClients(endpoint: string): { ec2: EC2Client; elbv2: ElasticLoadBalancingV2Client } {
  const common = { region: MOTO_REGION, endpoint, credentials, maxAttempts: 1 };
  return { ec2: new EC2Client(common), elbv2: new ElasticLoadBalancingV2Client(common) };
}

export interface SeedOptions {
  clusterName: string;
  zones?: string[];
  nodes?: number;
  eips?: number;
}

export interface SeededWorld {
  vpcId: string;
  publicSubnets: Record<string, string>;
  privateSubnets: Record<string, string>;
  /** A subnet in the VPC with no role tags (must not be picked by discovery). */
  untaggedSubnet: string;
  nodeSecurityGroupId: string;
  nodes: { name: string; instanceId: string; zone: string; providerID: string; privateIp: string }[];
  eips: { allocationId: string; publicIp: string }[];
}

/** Seeds a cluster's AWS world. Instances are spread over the zones round-robin. */
export async function seedWorld(ec2: EC2Client, options: SeedOptions): Promise<SeededWorld> {
  const zones = options.zones ?? [`${MOTO_REGION}a`, `${MOTO_REGION}b`, `${MOTO_REGION}c`];
  const clusterTag = { Key: `kubernetes.io/cluster/${options.clusterName}`, Value: 'owned' };
  const vpc = await ec2.send(new CreateVpcCommand({ CidrBlock: '10.0.0.0/16' }));
  const vpcId = vpc.Vpc!.VpcId!;
  const publicSubnets: Record<string, string> = {};
  const privateSubnets: Record<string, string> = {};
  let octet = 0;
  for (const zone of zones) {
    for (const role of ['elb', 'internal-elb'] as const) {
      const subnet = await ec2.send(new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: `10.0.${octet++}.0/24`, AvailabilityZone: zone }));
      const id = subnet.Subnet!.SubnetId!;
      await ec2.send(new CreateTagsCommand({ Resources: [id], Tags: [clusterTag, { Key: `kubernetes.io/role/${role}`, Value: '1' }] }));
      (role === 'elb' ? publicSubnets : privateSubnets)[zone] = id;
    }
  }
  const untagged = await ec2.send(new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: `10.0.200.0/24`, AvailabilityZone: zones[0] }));
  const sg = await ec2.send(new CreateSecurityGroupCommand({ GroupName: `${options.clusterName}-nodes`, Description: 'nodes', VpcId: vpcId }));
  const nodeSecurityGroupId = sg.GroupId!;
  await ec2.send(new CreateTagsCommand({ Resources: [nodeSecurityGroupId], Tags: [clusterTag] }));
  const nodes: SeededWorld['nodes'] = [];
  for (let i = 0; i < (options.nodes ?? 3); i++) {
    const zone = zones[i % zones.length]!;
    const run = await ec2.send(
      new RunInstancesCommand({
        ImageId: 'ami-12c6146b',
        MinCount: 1,
        MaxCount: 1,
        InstanceType: 't3.medium',
        SubnetId: privateSubnets[zone],
        SecurityGroupIds: [nodeSecurityGroupId],
      }),
    );
    const instance = run.Instances![0]!;
    nodes.push({
      name: `node-${i}`,
      instanceId: instance.InstanceId!,
      zone,
      providerID: `aws:///${zone}/${instance.InstanceId!}`,
      privateIp: instance.PrivateIpAddress ?? '',
    });
  }
  const eips: SeededWorld['eips'] = [];
  for (let i = 0; i < (options.eips ?? 2); i++) {
    const eip = await ec2.send(new AllocateAddressCommand({ Domain: 'vpc' }));
    eips.push({ allocationId: eip.AllocationId!, publicIp: eip.PublicIp! });
  }
  return { vpcId, publicSubnets, privateSubnets, untaggedSubnet: untagged.Subnet!.SubnetId!, nodeSecurityGroupId, nodes, eips };
}

/**
 * Gives the seeded VPC an Amazon-provided IPv6 /56 and the public subnets of `zones` one /64 each
 * (as AWS hands them out), for dual-stack NLBs. Answers each zone's /64.
 */
export async function seedIPv6(ec2: EC2Client, world: SeededWorld, zones: string[]): Promise<Record<string, string>> {
  await ec2.send(new AssociateVpcCidrBlockCommand({ VpcId: world.vpcId, AmazonProvidedIpv6CidrBlock: true }));
  const vpc = (await ec2.send(new DescribeVpcsCommand({ VpcIds: [world.vpcId] }))).Vpcs![0]!;
  const block = vpc.Ipv6CidrBlockAssociationSet![0]!.Ipv6CidrBlock!;
  const blocks: Record<string, string> = {};
  for (const [k, zone] of zones.entries()) {
    const bytes = ipaddr.IPv6.parse(block.split('/')[0]!).toByteArray();
    bytes[7] = k + 1;
    blocks[zone] = `${ipaddr.fromByteArray(bytes).toString()}/64`;
    await ec2.send(new AssociateSubnetCidrBlockCommand({ SubnetId: world.publicSubnets[zone], Ipv6CidrBlock: blocks[zone] }));
  }
  return blocks;
}

/** An address in a /64: its prefix with `host` as the last group, in RFC 5952 form. */
export function hostIn(cidr: string, host: string): string {
  return ipaddr.IPv6.parse(`${cidr.split('::/')[0]}::${host}`).toString();
}
