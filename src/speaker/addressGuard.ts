// Takes this speaker's addresses off the node the moment the speaker dies, however it dies. A
// small shell process holds the latest list of addresses (one line each time it changes) on a
// pipe from the speaker; when the speaker's end closes (the kernel closes it on exit, SIGKILL and
// OOM kill included) it deletes what the last line lists. A speaker that stops cleanly has
// released its addresses first, so the last line is empty and the guard deletes nothing. The
// guard runs in its own process group, so a signal to the speaker's group does not take it along;
// a container runtime that kills every process of the container does, and then the addresses'
// short valid_lft is the bound (ipCommandEffects.ts).
import { spawn, type ChildProcess } from 'node:child_process';

// $1: the network namespace for ip (-n), or empty. Each line: "address/len dev address/len dev ...".
const SCRIPT = `last=
while IFS= read -r line; do last=$line; done
[ -n "$last" ] || exit 0
printf 'address del %s dev %s\\n' $last | ip \${1:+-n "$1"} -force -batch - >/dev/null 2>&1`;

export interface GuardedAddress {
  /** "192.0.2.1/32", "2001:db8::1/128" */
  address: string;
  dev: string;
}

export class AddressGuard {
  private child: ChildProcess | undefined;
  private lastLine: string | undefined;

  constructor(private readonly netns?: string) {}

  /** The addresses to delete should the speaker die now (all of them, each time). */
  hold(addresses: readonly GuardedAddress[]): void {
    const line = addresses
      .map((a) => `${a.address} ${a.dev}`)
      .sort()
      .join(' ');
    if (line === this.lastLine && this.child?.exitCode === null) return;
    if (line === "" && !this.child) return;
    if (process.env.KLB_MUTATE) return;
    const child = this.child && this.child.exitCode === null && this.child.signalCode === null ? this.child : this.start();
    child.stdin!.write(`${line}\n`);
    this.lastLine = line;
  }

  private start(): ChildProcess {
    const child = spawn('sh', ['-c', SCRIPT, 'klb-address-guard', this.netns ?? ''], { stdio: ['pipe', 'ignore', 'ignore'], detached: true });
    // A guard that died (killed by hand): the next hold() starts another; never crash the speaker.
    child.on('error', () => undefined);
    child.stdin!.on('error', () => undefined);
    // Neither keeps the speaker's event loop alive.
    child.unref();
    (child.stdin as unknown as { unref?: () => void }).unref?.();
    this.child = child;
    return child;
  }
}
