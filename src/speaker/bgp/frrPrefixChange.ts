// The fast path for the common change: Services come and go, so `network` statements and
// prefix-list entries change while everything else (neighbors, timers, route-maps, BFD) stays.
// frr-reload.py takes seconds for that (it dumps and parses the whole running configuration and
// starts vtysh several times); a handful of vtysh commands take milliseconds. Anything else, or a
// first configuration, goes through frr-reload.py, which keeps unchanged sessions up. Pure.
//
// Order, as frr-reload.py does it: removed prefix-list entries first (so a prefix that moved to
// another sequence number is never in a list twice, nor a number taken twice), then added ones,
// then `network` statements. A new network finds its prefix-list entry in place, so the outbound
// route-map lets it through at once; the route-map delay timer only re-evaluates routes already sent.

/** The lines a prefix-only change may touch: top-level prefix-list entries, `network` in an address family. */
const PREFIX_LIST = /^(ip|ipv6) prefix-list \S+ seq \d+ (permit|deny) \S+$/;
const NETWORK = /^ {2}network \S+$/;

interface Split {
  /** Every other line, with a placeholder where a changeable line was, in order. */
  skeleton: string[];
  prefixLists: Set<string>;
  /** "router bgp N\taddress-family X" -> network lines */
  networks: Map<string, Set<string>>;
}

function split(text: string): Split {
  const out: Split = { skeleton: [], prefixLists: new Set(), networks: new Map() };
  let router: string | undefined;
  let family: string | undefined;
  for (const line of text.split('\n')) {
    if (line.startsWith('router bgp ')) router = line;
    else if (line.startsWith(' address-family ')) family = line.trim();
    else if (line === ' exit-address-family') family = undefined;
    else if (line === 'exit') router = undefined;
    if (PREFIX_LIST.test(line)) {
      out.prefixLists.add(line);
      continue;
    }
    if (NETWORK.test(line) && router !== undefined && family !== undefined) {
      const key = `${router}\t${family}`;
      out.networks.set(key, (out.networks.get(key) ?? new Set()).add(line.trim()));
      continue;
    }
    out.skeleton.push(line);
  }
  return out;
}

const minus = <T>(a: Set<T>, b: Set<T>): T[] => [...a].filter((x) => !b.has(x));

/**
 * The vtysh commands that turn `from` into `to` when they differ only in prefix-list entries and
 * `network` statements; undefined when anything else differs (frr-reload.py's job). Both texts are
 * renderFrrConfig() output. An empty list: nothing to do.
 */
export function prefixOnlyCommands(from: string, to: string): string[] | undefined {
  const a = split(from);
  const b = split(to);
  if (a.skeleton.length !== b.skeleton.length || a.skeleton.some((line, i) => line !== b.skeleton[i])) return undefined;
  const keys = new Set([...a.networks.keys(), ...b.networks.keys()]);
  const lists = [...minus(a.prefixLists, b.prefixLists).map((l) => `no ${l}`), ...minus(b.prefixLists, a.prefixLists)];
  const routers: string[] = [];
  for (const key of [...keys].sort()) {
    const was = a.networks.get(key) ?? new Set<string>();
    const now = b.networks.get(key) ?? new Set<string>();
    const changes = [...minus(was, now).map((n) => `no ${n}`), ...minus(now, was)];
    if (changes.length === 0) continue;
    const [router, family] = key.split('\t') as [string, string];
    routers.push(router, family, ...changes, 'exit-address-family', 'exit');
  }
  if (lists.length === 0 && routers.length === 0) return [];
  return ['configure terminal', ...lists, ...routers, 'end'];
}
