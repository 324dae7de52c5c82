// One unsolicited IPv6 Neighbour Advertisement (RFC 4861 4.4, 7.2.6), as gratuitous ARP is for IPv4:
// to all nodes (ff02::1), hop limit 255, from the address itself, flags Override (not Solicited,
// not Router), target the address, with the interface's MAC as target link-layer address option.
// The kernel fills in the ICMPv6 checksum of a raw ICMPv6 socket. Node.js has no raw sockets and
// ndisc6's tools send no unsolicited NAs, so python3 (in the image for FRR's tools) sends it.
// Arguments: address, interface.
export const UNSOLICITED_NA_SCRIPT = [
  'import socket, sys',
  'addr, dev = sys.argv[1], sys.argv[2]',
  'index = socket.if_nametoindex(dev)',
  "mac = bytes.fromhex(open('/sys/class/net/%s/address' % dev).read().strip().replace(':', ''))",
  's = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)',
  's.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)',
  's.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, index)',
  's.bind((addr, 0))',
  "s.sendto(bytes([136, 0, 0, 0, 0x20, 0, 0, 0]) + socket.inet_pton(socket.AF_INET6, addr) + bytes([2, 1]) + mac, ('ff02::1', 0, 0, index))",
].join('\n');
