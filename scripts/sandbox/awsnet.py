"""AWS's network, as the real sandbox enforces it (issue #31): what the
emulator holds (instances, security groups, route tables, NAT gateways,
load balancers) turned into nftables rulesets for the sandbox's own
network namespaces, so traffic AWS would block is blocked here too.

- Security groups, on each node's interface (the node's namespace):
  ingress by CIDR and by referenced group (the members' private IPs only,
  as on AWS), protocol (tcp, udp, icmp, any number such as 4, or -1) and
  port range; egress likewise; stateful (replies and related packets
  pass, and a connection made before a rule went keeps flowing, as AWS's
  connection tracking does). Traffic a node sends itself, and to the
  instance metadata service, is never filtered (AWS does not either).
- Addresses, in the VPC namespace (the router): a node leaves for a public
  address with its public IP as source when its subnet routes 0.0.0.0/0 to
  the internet gateway, with its NAT gateway's Elastic IP when the route
  names a NAT gateway, and not at all otherwise; a public IP is reachable
  from the internet (1:1, as the internet gateway does), a NAT's is not.
- The internet is a namespace of its own holding the sandbox's public
  range (INTERNET): the host as an admin (ADMIN, the sandbox document's
  adminCidrs), a stranger who is not one (STRANGER), the AWS API's public
  endpoint (AWS_API), and the internet-facing load balancers' addresses.
- Load balancers' security groups filter what reaches their listeners, by
  the source address AWS would see (in the internet namespace for an
  internet-facing one, in the VPC namespace for an internal one, whose
  address is in its first subnet).

Pure functions of what the emulator said; agent.py reads the emulator and
loads the rulesets (`nft -f -` in the namespace, only when one changed).
"""
import ipaddress

INTERNET = ipaddress.ip_network("198.18.0.0/15")
ADMIN = "198.18.0.10"
STRANGER = "198.18.0.66"
AWS_API = "198.18.0.5"
# The link between the VPC's router and the internet (the internet gateway).
LINK_VPC, LINK_INET = "169.254.0.1", "169.254.0.2"
IMDS = "169.254.169.254"


def lb_public_address(k):
    """The k-th internet-facing load balancer's public address (from 0)."""
    return str(INTERNET.network_address + 256 + 1 + k)


def lb_private_address(subnet_cidr):
    """An internal load balancer's address: the fourth of its first subnet,
    which AWS reserves (and the emulator never gives an instance)."""
    return str(ipaddress.ip_network(subnet_cidr).network_address + 3)


def _protocol(p):
    return {"6": "tcp", "17": "udp", "1": "icmp"}.get(str(p), str(p).lower())


def _match(perm):
    """The protocol and port part of an nft rule for one permission, or
    None for a protocol the sandbox cannot express (none today)."""
    proto = _protocol(perm.get("IpProtocol", "-1"))
    lo, hi = perm.get("FromPort"), perm.get("ToPort")
    if proto == "-1":
        return ""
    if proto in ("tcp", "udp"):
        if lo is None or lo < 0 or (lo == 0 and hi == 65535):
            return f"ip protocol {proto}"
        return f"{proto} dport {lo}" if lo == hi else f"{proto} dport {lo}-{hi}"
    if proto == "icmp":
        # ICMP type/code ranges are not split out: any ICMP from the source.
        return "ip protocol icmp"
    if proto.isdigit():
        return f"ip protocol {proto}"
    return None


def _peers(perm, members):
    """The permission's peers as nft set elements: CIDRs, and the private
    IPs of referenced groups' members. None means any address."""
    out = []
    for r in perm.get("IpRanges", []):
        c = r.get("CidrIp")
        if c == "0.0.0.0/0":
            return None
        if c:
            out.append(str(ipaddress.ip_network(c, strict=False)))
    for g in perm.get("UserIdGroupPairs", []):
        out.extend(members.get(g.get("GroupId"), []))
    return sorted(set(out))


def _rules(perms, members, direction):
    """nft rule lines for a list of permissions; direction saddr (ingress)
    or daddr (egress)."""
    lines = []
    for perm in perms:
        m = _match(perm)
        if m is None:
            continue
        peers = _peers(perm, members)
        if peers == []:
            continue  # a group with no members: nobody
        who = "" if peers is None else f"ip {direction} {{ {', '.join(peers)} }} "
        lines.append(f"{who}{m} accept".replace("  ", " ").strip())
    return lines


def members_of(instances):
    """Group id -> the private IPs of its member instances."""
    members = {}
    for inst in instances:
        for g in inst.get("SecurityGroups", []):
            members.setdefault(g["GroupId"], []).append(inst["PrivateIpAddress"])
    return members


def node_ruleset(inst, groups, members):
    """The node's security groups (the union of their rules) on its eth0."""
    ingress, egress = [], []
    for g in inst.get("SecurityGroups", []):
        sg = groups.get(g["GroupId"])
        if sg is None:
            continue
        ingress += _rules(sg.get("IpPermissions", []), members, "saddr")
        egress += _rules(sg.get("IpPermissionsEgress", []), members, "daddr")
    ind = "\n        "
    return f"""table ip phx_sg {{
    chain ingress {{
        type filter hook input priority 0; policy drop;
        iif "lo" accept
        ct state established,related accept
        {ind.join(sorted(set(ingress))) or '# no ingress rule: nothing comes in'}
    }}
    chain egress {{
        type filter hook output priority 0; policy drop;
        oif "lo" accept
        ct state established,related accept
        ip daddr {IMDS} accept
        {ind.join(sorted(set(egress))) or '# no egress rule: nothing goes out'}
    }}
}}
"""


def internet_route(subnet_id, route_tables, vpc_id):
    """What 0.0.0.0/0 leads to from SUBNET_ID: ('igw', id), ('nat', id) or
    None. A subnet without a table of its own uses the VPC's main one."""
    explicit = main = None
    for rt in route_tables:
        if rt.get("VpcId") != vpc_id:
            continue
        for a in rt.get("Associations", []):
            if a.get("SubnetId") == subnet_id:
                explicit = rt
            if a.get("Main"):
                main = rt
    rt = explicit or main
    for r in (rt or {}).get("Routes", []):
        if r.get("DestinationCidrBlock") != "0.0.0.0/0" or r.get("State", "active") != "active":
            continue
        if (r.get("GatewayId") or "").startswith("igw-"):
            return ("igw", r["GatewayId"])
        if r.get("NatGatewayId"):
            return ("nat", r["NatGatewayId"])
    return None


def nat_addresses(nat_gateways):
    """NAT gateway id -> its public (Elastic) IP, for available ones."""
    out = {}
    for n in nat_gateways:
        if n.get("State") not in (None, "available"):
            continue
        for a in n.get("NatGatewayAddresses", []):
            if a.get("PublicIp"):
                out[n["NatGatewayId"]] = a["PublicIp"]
                break
    return out


def _listener_filter(addr, port, allowed):
    if allowed is None:
        return []
    if not allowed:
        return [f"ip daddr {addr} tcp dport {port} drop"]
    return [f"ip daddr {addr} tcp dport {port} ip saddr != {{ {', '.join(allowed)} }} drop"]


def lb_allowed(lb, groups, members, port):
    """Who an NLB's security groups let reach PORT: CIDRs and members'
    private IPs, or None without a group (an NLB without one takes all)."""
    if not lb.get("SecurityGroups"):
        return None
    allowed = set()
    for gid in lb["SecurityGroups"]:
        for perm in groups.get(gid, {}).get("IpPermissions", []):
            proto = _protocol(perm.get("IpProtocol", "-1"))
            lo, hi = perm.get("FromPort"), perm.get("ToPort")
            if proto not in ("-1", "tcp"):
                continue
            if proto == "tcp" and lo is not None and lo >= 0 and not lo <= port <= hi:
                continue
            peers = _peers(perm, members)
            if peers is None:
                return None
            allowed.update(peers)
    return sorted(allowed)


def vpc_ruleset(vpc, nodes, internal_lbs):
    """The router of VPC (its CIDR): NODES is [(private ip, public ip or None, route)] with
    route from internet_route (the NAT's address in place of its id);
    INTERNAL_LBS is [(address, port, allowed)]."""
    pre, post, out, back = [], [], [], []
    for private, public, route in sorted(nodes, key=lambda n: n[0]):
        if public:
            pre.append(f'iif "igw" ip daddr {public} dnat to {private}')
            back.append(private)
        if route is None:
            continue
        kind, via = route
        source = public if kind == "igw" else via
        if source:
            post.append(f'oif "igw" ip saddr {private} snat to {source}')
            out.append(private)
    filt = [line for a, p, allowed in internal_lbs for line in _listener_filter(a, p, allowed)]
    ind = "\n        "
    outs = f'iif "br0" oif "igw" ip saddr {{ {", ".join(out)} }} accept' if out else "# nobody reaches the internet"
    backs = f'iif "igw" oif "br0" ip daddr {{ {", ".join(back)} }} accept' if back else "# nothing reachable from it"
    return f"""table ip phx_vpc {{
    chain inbound {{
        type nat hook prerouting priority -100;
        {ind.join(pre) or '# no public IP'}
    }}
    chain outbound {{
        type nat hook postrouting priority 100;
        {ind.join(post) or '# no way out'}
    }}
    chain route {{
        type filter hook forward priority 0; policy drop;
        ct state established,related accept
        # Inside the VPC, the local route (bridged traffic passes here too
        # where the host loaded br_netfilter): the nodes' groups decide.
        ip saddr {vpc} ip daddr {vpc} accept
        {outs}
        {backs}
    }}
    chain listeners {{
        type filter hook input priority 0; policy accept;
        {ind.join(filt) or '# no internal load balancer'}
    }}
}}
"""


def inet_ruleset(public_lbs):
    """The internet: PUBLIC_LBS is [(address, port, allowed)]; only the
    listener's port answers on a load balancer's address."""
    lines = []
    for a, p, allowed in public_lbs:
        lines += _listener_filter(a, p, allowed)
        lines.append(f"ip daddr {a} tcp dport != {p} drop")
    ind = "\n        "
    return f"""table ip phx_inet {{
    chain listeners {{
        type filter hook input priority 0; policy accept;
        {ind.join(lines) or '# no internet-facing load balancer'}
    }}
}}
"""
