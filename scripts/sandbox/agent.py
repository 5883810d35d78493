"""The sandbox's EC2 side: what AWS does for a machine that the emulator
cannot, for the real-Kubernetes sandbox (scripts/sandbox.sh up --real).

- Plays the instances' network: when the emulator has an instance named
  for a sandbox node, that node's network namespace gets the instance's
  private IP (and a default route), every node resolves every instance's
  private DNS name (ip-10-0-1-5.ec2.internal, a shared /etc/hosts), and
  the node learns its machine's size (machine.json, from the emulator's
  instance types). A terminated instance's node is powered off (every
  process in its namespace killed) and started again empty, as a new
  machine would be.
- Serves the instance metadata service (IMDSv2, 169.254.169.254) inside the
  VPC, answering each node about its own instance: what the AWS cloud
  controller manager asks on a real instance.
- Enforces AWS's network from what the emulator holds, re-read every
  second (awsnet.py): security groups on each node's interface, the
  internet gateway's and NAT gateway's addresses, the load balancers'
  security groups. The internet is a namespace of its own; the AWS API's
  public endpoint is there (the emulator on the host, forwarded), so a
  node reaches AWS only with a way out, as on AWS.
- Each node's SSH on a loopback address of the host (the document's
  spec.nodes.ssh.endpoints): the host connects as the admin on the
  internet (awsnet.ADMIN, the document's adminCidrs) to the instance's
  public IP, through its security groups.
- Carries the API load balancers' traffic: the emulator's network load
  balancer is only a record, so a real TCP load balancer (HAProxy, run and
  reloaded here) forwards to the targets registered in each one's target
  groups, checking each API server's /readyz. An internet-facing one
  listens on a public address in the internet, an internal one on an
  address of its first subnet; its DNS name resolves to that address on
  every node. On the host, the internet-facing name resolves to a loopback
  address of the sandbox's own (SANDBOX_DIR/hosts.host, the host's hosts
  file and that line: scripts/sandbox/with-hosts.sh runs a command with it
  over /etc/hosts; the host's /etc/hosts is never written), where HAProxy
  takes the connection to the load balancer as the admin. An internal
  name does not resolve on the host (on AWS it resolves to private
  addresses the host cannot reach; here no packet to them may leave the
  machine). The sandbox's API address (net's "api") reaches the control
  planes' public IPs as the admin (apiLoadBalancer: none, the document's
  apiEndpoint then).

usage: agent.py SANDBOX_DIR     (AWS_* in the environment; runs until killed)
Reads SANDBOX_DIR/net (written by sandbox.sh): the namespaces and addresses.
"""
import ctypes
import ipaddress
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3

import awsnet

CLONE_NEWNET = 0x40000000
libc = ctypes.CDLL(None, use_errno=True)
HOST_NS = os.open("/proc/self/ns/net", os.O_RDONLY)
lock = threading.Lock()


def log(*a):
    print("agent:", *a, file=sys.stderr, flush=True)


def setns(fd):
    if libc.setns(fd, CLONE_NEWNET) != 0:
        raise OSError(ctypes.get_errno(), "setns")


def socket_in(ns):
    """A TCP socket in network namespace NS (a /run/netns name); the calling
    thread is back in the host's namespace afterwards."""
    fd = os.open(f"/run/netns/{ns}", os.O_RDONLY)
    try:
        setns(fd)
        return socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    finally:
        setns(HOST_NS)
        os.close(fd)


def pipe(a, b):
    try:
        while True:
            data = a.recv(65536)
            if not data:
                break
            b.sendall(data)
    except OSError:
        pass
    finally:
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def forward(listener, connect):
    """Accept on LISTENER; for each, CONNECT() a peer and copy both ways."""
    listener.listen(64)

    def serve(c):
        try:
            peer = connect()
        except OSError:
            c.close()
            return
        threading.Thread(target=pipe, args=(c, peer), daemon=True).start()
        pipe(peer, c)
        c.close()
        peer.close()

    while True:
        c, _ = listener.accept()
        threading.Thread(target=serve, args=(c,), daemon=True).start()


def listen_in(ns, addr, port):
    s = socket_in(ns) if ns else socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    return s


def as_admin(sandbox, i):
    """Node I's SSH as the admin on the internet would reach it: from
    awsnet.ADMIN to the instance's public IP, through the internet gateway
    and the node's security groups. A node with no instance yet (a
    machine the sandbox is starting) is reached on its own console; one
    whose instance has no public IP is not reachable from the internet."""
    def connect():
        with lock:
            inst = sandbox.instance_of.get(i)
        if inst is None:
            s = socket_in(sandbox.node_ns(i))
            s.connect(("127.0.0.1", 22))
            return s
        public = inst.get("PublicIpAddress")
        if not public:
            raise OSError(f"node {i}: its instance has no public IP")
        s = socket_in(sandbox.inet_ns)
        s.settimeout(10)
        s.bind((awsnet.ADMIN, 0))
        s.connect((public, 22))
        s.settimeout(None)
        return s
    return connect


def to_host(addr, port):
    return lambda: socket.create_connection((addr, port))


def start(target, *args):
    threading.Thread(target=target, args=args, daemon=True).start()


def name_of(inst):
    return next((t["Value"] for t in inst.get("Tags", []) if t["Key"] == "Name"), None)


def rewrite_in_place(path, text):
    """PATH holds TEXT, written into the same file (not replaced): it is
    bind-mounted (the nodes' hosts file, with-hosts.sh's), and a mount
    keeps the file it was made on."""
    if open(path).read() != text:
        with open(path, "r+") as f:
            f.write(text)
            f.truncate()


class Sandbox:
    def __init__(self, d):
        self.dir = d
        self.net = json.load(open(os.path.join(d, "net")))
        self.vpc = ipaddress.ip_network(self.net["cidr"])
        self.router = str(self.vpc.network_address + 2)
        self.ec2 = boto3.client("ec2")
        self.assigned = {}  # node index -> (instance id, ip)
        self.by_ip = {}  # ip -> instance dict
        self.instance_of = {}  # node index -> instance dict
        self.vpc_ns = f"{self.net['prefix']}-vpc"
        self.inet_ns = f"{self.net['prefix']}-inet"
        self.rulesets = {}  # namespace -> the nft ruleset loaded there
        self.world = {"groups": {}, "route_tables": [], "nats": [], "subnets": {}}
        self.next_world = 0
        self.types = {}
        self.tokens = set()
        self.balancer = Balancer(d, self.net, self.router)
        # The host's own hosts file, the start of hosts.host.
        self.host_hosts = open("/etc/hosts").read().rstrip("\n") + "\n"

    def node_ns(self, i):
        return f"{self.net['prefix']}-n{i}"

    def machine(self, itype):
        if itype not in self.types:
            try:
                t = self.ec2.describe_instance_types(InstanceTypes=[itype])["InstanceTypes"][0]
                self.types[itype] = {"cpu": t["VCpuInfo"]["DefaultVCpus"],
                                     "memoryMiB": t["MemoryInfo"]["SizeInMiB"]}
            except Exception as e:  # an unknown type: a small machine
                log(f"instance type {itype}: {e}")
                self.types[itype] = {"cpu": 2, "memoryMiB": 4096}
        return dict(self.types[itype], instanceType=itype)

    def ip(self, i, addr):
        ns = self.node_ns(i)
        subprocess.run(["ip", "-n", ns, "addr", "flush", "dev", "eth0"], check=True)
        if addr:
            subprocess.run(["ip", "-n", ns, "addr", "add", f"{addr}/{self.vpc.prefixlen}", "dev", "eth0"], check=True)
            subprocess.run(["ip", "-n", ns, "route", "replace", "default", "via", self.router], check=True)
            subprocess.run(["ip", "-n", ns, "route", "replace", "169.254.169.254/32", "dev", "eth0"], check=True)

    def power_off(self, i):
        """The instance is gone: so is everything its machine ran
        (`sandbox.sh start-node` kills all in the node's namespace and
        starts it afresh). Until it has an instance again, its SSH forward
        is the machine's console (start-node waits for the banner there)."""
        with lock:
            self.instance_of.pop(i, None)
        self.ip(i, None)
        subprocess.run([os.path.join(self.net["scripts"], "sandbox.sh"), "start-node", str(i)],
                       env=dict(os.environ, PHX_SANDBOX_DIR=self.dir), check=False,
                       stdout=subprocess.DEVNULL)

    def poll(self):
        pages = self.ec2.get_paginator("describe_instances").paginate(
            Filters=[{"Name": "instance-state-name", "Values": ["pending", "running"]}])
        live = {}
        for page in pages:
            for r in page["Reservations"]:
                for inst in r["Instances"]:
                    if "PrivateIpAddress" in inst and ipaddress.ip_address(inst["PrivateIpAddress"]) in self.vpc:
                        live[name_of(inst)] = inst
        hosts = ["127.0.0.1 localhost"]
        by_ip = {}
        instance_of = {}
        for i, name in self.net["nodes"].items():
            i = int(i)
            inst = live.get(name)
            have = self.assigned.get(i)
            if inst is None:
                if have:
                    log(f"node {i} ({name}): instance {have[0]} gone: powering off")
                    del self.assigned[i]
                    self.power_off(i)
                continue
            ip = inst["PrivateIpAddress"]
            if have != (inst["InstanceId"], ip):
                if have:
                    self.power_off(i)
                node = os.path.join(self.dir, "nodes", f"n{i}")
                with open(os.path.join(node, "machine.json"), "w") as f:
                    json.dump(self.machine(inst["InstanceType"]), f)
                with open(os.path.join(node, "instance.env"), "w") as f:
                    # The AWS API's public endpoint: reached through the
                    # internet gateway or a NAT gateway, as on AWS.
                    f.write(f"AWS_ENDPOINT_URL=http://{awsnet.AWS_API}:{self.net['awsPort']}\n")
                self.ip(i, ip)
                self.assigned[i] = (inst["InstanceId"], ip)
                log(f"node {i} ({name}): {inst['InstanceId']} at {ip}")
            by_ip[ip] = inst
            instance_of[i] = inst
        for ip, inst in sorted(by_ip.items()):
            dns = inst.get("PrivateDnsName") or f"ip-{ip.replace('.', '-')}.ec2.internal"
            hosts.append(f"{ip} {dns} {dns.split('.')[0]}")
        control_planes = sorted(ip for ip, inst in by_ip.items()
                                if "-control-plane-" in (name_of(inst) or ""))
        self.look_around()
        members = awsnet.members_of(by_ip.values())
        names, public_name = self.balancer.poll(control_planes, self.world, members, by_ip)
        hosts.extend(f"{addr} {n}" for n, addr in names)
        with lock:
            self.by_ip = by_ip
            self.instance_of = instance_of
        self.enforce(by_ip, members)
        rewrite_in_place(os.path.join(self.dir, "hosts"), "\n".join(hosts) + "\n")
        # The host's view: its own hosts file, the names on the host-side
        # address (a command started before the load balancer existed sees
        # them too).
        rewrite_in_place(os.path.join(self.dir, "hosts.host"),
                         self.host_hosts + (f"{self.net['lbHost']} {public_name}\n" if public_name else ""))

    def look_around(self):
        """Once a second: the groups, routes, NAT gateways and subnets the
        network is enforced from (a change takes effect within seconds)."""
        if time.time() < self.next_world:
            return
        self.next_world = time.time() + 1
        groups = {}
        for page in self.ec2.get_paginator("describe_security_groups").paginate():
            groups.update({g["GroupId"]: g for g in page["SecurityGroups"]})
        self.world = {
            "groups": groups,
            "route_tables": self.ec2.describe_route_tables()["RouteTables"],
            "nats": self.ec2.describe_nat_gateways()["NatGateways"],
            "subnets": {s["SubnetId"]: s for s in self.ec2.describe_subnets()["Subnets"]},
        }

    def load(self, ns, ruleset, table):
        """RULESET in namespace NS, replacing TABLE atomically; only when it
        changed."""
        if self.rulesets.get(ns) == ruleset:
            return
        text = f"table ip {table} {{}}\ndelete table ip {table}\n{ruleset}"
        r = subprocess.run(["ip", "netns", "exec", ns, "nft", "-f", "-"], input=text,
                           capture_output=True, text=True)
        if r.returncode != 0:
            log(f"nft in {ns} refused: {r.stderr.strip()}")
            return
        self.rulesets[ns] = ruleset

    def enforce(self, by_ip, members):
        """Security groups on every node, the router's addresses and routes,
        the load balancers' groups: AWS's network from what the emulator
        holds now. PHX_SANDBOX_NETWORK=open (scripts/bench-network.sh's
        peer run, never a test's) loads none of it: a flat network."""
        if os.environ.get("PHX_SANDBOX_NETWORK") == "open":
            return
        w = self.world
        nats = awsnet.nat_addresses(w["nats"])
        routed = []
        for ip, inst in by_ip.items():
            route = awsnet.internet_route(inst.get("SubnetId"), w["route_tables"], inst.get("VpcId"))
            if route and route[0] == "nat":
                route = ("nat", nats.get(route[1]))
            if route and route[0] == "igw" and not inst.get("PublicIpAddress"):
                route = None  # no public IP: the internet gateway does not carry it
            routed.append((ip, inst.get("PublicIpAddress"), route))
        for i, inst in list(self.instance_of.items()):
            self.load(self.node_ns(i), awsnet.node_ruleset(inst, w["groups"], members), "phx_sg")
        self.load(self.vpc_ns, awsnet.vpc_ruleset(str(self.vpc), routed, self.balancer.internal), "phx_vpc")
        self.load(self.inet_ns, awsnet.inet_ruleset(self.balancer.public), "phx_inet")

    def imds(self):
        sandbox = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def reply(self, code, body, ctype="text/plain", headers=()):
                b = body.encode()
                self.send_response(code)
                for k, v in headers:
                    self.send_header(k, v)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(b)))
                self.end_headers()
                self.wfile.write(b)

            def do_PUT(self):
                if self.path != "/latest/api/token":
                    return self.reply(404, "")
                t = secrets.token_urlsafe(32)
                with lock:
                    sandbox.tokens.add(t)
                # The SDKs read the token's lifetime back from this header.
                ttl = self.headers.get("X-aws-ec2-metadata-token-ttl-seconds", "21600")
                self.reply(200, t, headers=[("X-aws-ec2-metadata-token-ttl-seconds", ttl)])

            def do_GET(self):
                # IMDSv2 only, as phx's launch templates require.
                with lock:
                    ok = self.headers.get("X-aws-ec2-metadata-token") in sandbox.tokens
                    inst = sandbox.by_ip.get(self.client_address[0])
                if not ok:
                    return self.reply(401, "")
                if inst is None:
                    return self.reply(404, "")
                v = sandbox.metadata(inst, self.path)
                if v is None:
                    return self.reply(404, "")
                self.reply(200, v, "application/json" if v.startswith("{") else "text/plain")

        return Handler

    def metadata(self, inst, path):
        zone = inst["Placement"]["AvailabilityZone"]
        mac = "0e:00:00:00:00:01"
        eni = (inst.get("NetworkInterfaces") or [{}])[0]
        mac = eni.get("MacAddress", mac)
        role = (inst.get("IamInstanceProfile") or {}).get("Arn", "/sandbox").rsplit("/", 1)[-1]
        m = {
            "instance-id": inst["InstanceId"],
            "instance-type": inst["InstanceType"],
            "ami-id": inst.get("ImageId", ""),
            "local-ipv4": inst["PrivateIpAddress"],
            "local-hostname": inst.get("PrivateDnsName", ""),
            "hostname": inst.get("PrivateDnsName", ""),
            "mac": mac,
            "placement/availability-zone": zone,
            "placement/region": zone[:-1],
            f"network/interfaces/macs/{mac}/vpc-id": inst.get("VpcId", ""),
            f"network/interfaces/macs/{mac}/subnet-id": inst.get("SubnetId", ""),
            f"network/interfaces/macs/{mac}/local-ipv4s": inst["PrivateIpAddress"],
            f"network/interfaces/macs/{mac}/device-number": "0",
            "network/interfaces/macs/": mac + "/",
            "iam/security-credentials/": role,
            f"iam/security-credentials/{role}": json.dumps({
                "Code": "Success", "Type": "AWS-HMAC", "AccessKeyId": "sandbox",
                "SecretAccessKey": "sandbox", "Token": "sandbox",
                "LastUpdated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "Expiration": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 6 * 3600))}),
        }
        if path.startswith("/latest/dynamic/instance-identity/document"):
            return json.dumps({"instanceId": inst["InstanceId"], "region": zone[:-1],
                               "availabilityZone": zone, "instanceType": inst["InstanceType"],
                               "privateIp": inst["PrivateIpAddress"], "accountId": "123456789012"})
        key = path.removeprefix("/latest/meta-data/")
        return m.get(key)


class Balancer:
    """HAProxy for the API load balancers: its configuration written from
    the emulator's load balancers and targets, reloaded when they change.
    Each network load balancer with a 6443 listener gets an address as AWS
    would give it (a public one in the internet for an internet-facing
    one, one in its first subnet for an internal one) and its security
    groups enforced there by the source address AWS would see (awsnet)."""

    def __init__(self, d, net, router):
        self.dir = d
        self.net = net
        self.router = router
        self.vpc_ns = f"{net['prefix']}-vpc"
        self.inet_ns = f"{net['prefix']}-inet"
        self.elbv2 = boto3.client("elbv2")
        self.cfg = os.path.join(d, "haproxy.cfg")
        self.proc = None
        self.text = None
        self.lbs = []  # [(lb, [target ip])]
        self.addresses = {}  # address -> namespace it was added in
        self.public, self.internal = [], []  # [(address, port, allowed)]
        self.next_look = 0

    def api_balancers(self):
        """The network load balancers with a listener on 6443, each with the
        IP targets of its target groups, oldest first."""
        out = []
        lbs = self.elbv2.describe_load_balancers()["LoadBalancers"]
        for lb in sorted(lbs, key=lambda l: (str(l.get("CreatedTime", "")), l["DNSName"])):
            if lb.get("Type") != "network":
                continue
            listeners = self.elbv2.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"]
            if not any(l["Port"] == 6443 for l in listeners):
                continue
            targets = set()
            for tg in self.elbv2.describe_target_groups(LoadBalancerArn=lb["LoadBalancerArn"])["TargetGroups"]:
                if tg.get("TargetType") != "ip":
                    continue
                health = self.elbv2.describe_target_health(TargetGroupArn=tg["TargetGroupArn"])
                targets.update(t["Target"]["Id"] for t in health["TargetHealthDescriptions"])
            out.append((lb, sorted(targets)))
        return out

    def address(self, ns, addr, dev):
        if self.addresses.get(addr) == ns:
            return
        subprocess.run(["ip", "-n", ns, "addr", "replace", f"{addr}/32", "dev", dev], check=True)
        self.addresses[addr] = ns

    def poll(self, control_planes, world, members, by_ip):
        """Once a second: the load balancers looked up again, their
        addresses and groups set, HAProxy told if anything changed.
        Returns the names to resolve on the nodes, [(name, address)], and
        the internet-facing name the host resolves (to its own loopback
        address, where HAProxy takes it to the load balancer as the admin)."""
        if time.time() >= self.next_look:
            self.next_look = time.time() + 1
            self.lbs = self.api_balancers()
        names, public, internal, fronts = [], [], [], []
        host_name = None
        for lb, targets in self.lbs:
            allowed = awsnet.lb_allowed(lb, world["groups"], members, 6443)
            if lb.get("Scheme") == "internal":
                subnet = next((world["subnets"].get(z.get("SubnetId"))
                               for z in lb.get("AvailabilityZones", [])), None)
                if subnet is None:
                    continue
                addr = awsnet.lb_private_address(subnet["CidrBlock"])
                self.address(self.vpc_ns, addr, "br0")
                internal.append((addr, 6443, allowed))
                fronts.append((addr, self.vpc_ns, targets))
            else:
                addr = awsnet.lb_public_address(len(public))
                self.address(self.inet_ns, addr, "lo")
                public.append((addr, 6443, allowed))
                fronts.append((addr, self.inet_ns, targets))
                host_name = host_name or (lb["DNSName"], addr)
            names.append((lb["DNSName"], addr))
        self.public, self.internal = public, internal
        # Without a load balancer (apiLoadBalancer: none) the sandbox's API
        # address reaches the control planes as the admin would: at their
        # public IPs, through their security groups.
        direct = [by_ip[ip]["PublicIpAddress"] for ip in control_planes
                  if by_ip[ip].get("PublicIpAddress")]
        self.configure(fronts, host_name[1] if host_name else None, direct)
        return names, host_name[0] if host_name else None

    def config(self, fronts, host_lb, direct):
        vpc_ns, inet_ns = self.vpc_ns, self.inet_ns
        host, port = self.net["api"].rsplit(":", 1)
        text = f"""# Written by scripts/sandbox/agent.py: the API load balancers' traffic.
global
    maxconn 2000
defaults
    mode tcp
    timeout connect 2s
    timeout client 1h
    timeout server 1h
    timeout check 2s
    default-server inter 1s fall 2 rise 1 on-marked-down shutdown-sessions
"""
        for k, (addr, ns, targets) in enumerate(fronts):
            servers = "".join(
                f"    server {t} {t}:6443 namespace {vpc_ns} check check-ssl verify none\n" for t in targets)
            text += f"""frontend lb{k}
    bind {addr}:6443 namespace {ns}
    default_backend lb{k}
backend lb{k}
    option httpchk GET /readyz
    http-check expect status 200
{servers}"""
        # The host, as the admin on the internet (awsnet.ADMIN): to the
        # internet-facing load balancer, and to the control planes' public IPs.
        lb = f"    server lb {host_lb}:6443 namespace {inet_ns} source {awsnet.ADMIN}\n" if host_lb else ""
        cps = "".join(f"    server {a} {a}:6443 namespace {inet_ns} source {awsnet.ADMIN}\n" for a in direct)
        text += f"""frontend host
    bind {self.net['lbHost']}:6443
    default_backend admin-to-lb
backend admin-to-lb
{lb}frontend api
    bind {host}:{port}
    default_backend admin-to-control-planes
backend admin-to-control-planes
{cps}"""
        return text

    def configure(self, fronts, host_lb=None, direct=()):
        text = self.config(fronts, host_lb, direct)
        if text == self.text and self.proc and self.proc.poll() is None:
            return
        tmp = self.cfg + ".new"
        with open(tmp, "w") as f:
            f.write(text)
        check = subprocess.run(["haproxy", "-c", "-q", "-f", tmp], capture_output=True, text=True)
        if check.returncode != 0:
            log(f"haproxy refused its configuration: {check.stderr.strip()}")
            return
        os.replace(tmp, self.cfg)
        self.text = text
        if self.proc and self.proc.poll() is None:
            # Master-worker: the master reloads; open connections finish on the old worker.
            self.proc.send_signal(signal.SIGUSR2)
        else:
            self.proc = subprocess.Popen(["haproxy", "-W", "-f", self.cfg], stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL,
                                         stderr=open(os.path.join(self.dir, "haproxy.log"), "a"))
        log("API load balancers: " + ("; ".join(f"{a}: {', '.join(t) or 'no targets'}"
                                               for a, _, t in fronts) or "none"))


def main():
    sb = Sandbox(sys.argv[1])
    net = sb.net
    vpc_ns = f"{net['prefix']}-vpc"
    # The AWS API's public endpoint, on the internet.
    start(forward, listen_in(sb.inet_ns, awsnet.AWS_API, net["awsPort"]), to_host("127.0.0.1", net["awsPort"]))
    # The metadata service.
    server = ThreadingHTTPServer(("127.0.0.1", 0), sb.imds(), bind_and_activate=False)
    server.socket = listen_in(vpc_ns, "169.254.169.254", 80)
    server.socket.listen(64)
    start(server.serve_forever)
    # Each node's SSH on the host; the API's traffic is HAProxy's.
    for i, ep in net["ssh"].items():
        host, port = ep.rsplit(":", 1)
        start(forward, listen_in(None, host, int(port)), as_admin(sb, int(i)))
    sb.balancer.configure([])
    # The host's view exists before anyone can run a command against it.
    with open(os.path.join(sb.dir, "hosts.host"), "w") as f:
        f.write(sb.host_hosts)
    open(os.path.join(sb.dir, "agent.ready"), "w").close()
    while True:
        try:
            sb.poll()
        except Exception as e:  # the emulator restarting, a node starting: next round
            log(f"poll: {e}")
        time.sleep(0.3)


if __name__ == "__main__":
    main()
