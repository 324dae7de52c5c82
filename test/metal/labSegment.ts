// The network both labs are built on: a bridge in its own namespace (the L2 segment) and namespaces
// attached to it by a veth pair whose inner end is eth0 with an IPv4 and an IPv6 address. It keeps
// the list of what it made, so one call deletes it all, newest first.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

export async function sh(cmd: string, args: string[], timeoutMs = 10_000): Promise<string> {
  const { stdout } = await run(cmd, args, { timeout: timeoutMs });
  return stdout;
}

export async function inNetns(netns: string, cmd: string, args: string[], timeoutMs = 10_000): Promise<string> {
  return sh('ip', ['netns', 'exec', netns, cmd, ...args], timeoutMs);
}

export class LabSegment {
  private created: string[] = [];

  /** `lan`: the namespace that holds the bridge br0. */
  constructor(readonly lan: string) {}

  async createBridge(): Promise<void> {
    await this.addNetns(this.lan);
    await inNetns(this.lan, 'ip', ['link', 'add', 'br0', 'type', 'bridge']);
    await inNetns(this.lan, 'ip', ['link', 'set', 'br0', 'up']);
  }

  /** A namespace with only loopback up. */
  async addNetns(name: string): Promise<void> {
    await sh('ip', ['netns', 'add', name]);
    this.created.push(name);
    await inNetns(name, 'ip', ['link', 'set', 'lo', 'up']);
  }

  /** A namespace with eth0 on the bridge (`lanSide` names the bridge's end). */
  async attach(netns: string, lanSide: string, cidr: string, cidr6: string): Promise<void> {
    await this.addNetns(netns);
    await inNetns(this.lan, 'ip', ['link', 'add', lanSide, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', netns]);
    await inNetns(this.lan, 'ip', ['link', 'set', lanSide, 'master', 'br0', 'up']);
    await inNetns(netns, 'ip', ['addr', 'add', cidr, 'dev', 'eth0']);
    await inNetns(netns, 'sysctl', ['-q', '-w', 'net.ipv6.conf.eth0.disable_ipv6=0']);
    await inNetns(netns, 'ip', ['-6', 'addr', 'add', cidr6, 'dev', 'eth0', 'nodad']);
    await inNetns(netns, 'ip', ['link', 'set', 'eth0', 'up']);
  }

  async deleteAll(): Promise<void> {
    for (const name of this.created.reverse()) await sh('ip', ['netns', 'del', name]).catch(() => undefined);
    this.created = [];
  }
}
