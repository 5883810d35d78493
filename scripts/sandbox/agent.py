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
- Forwards: the AWS API endpoint inside the VPC (the emulator on the host,
  as a VPC interface endpoint would) and each node's SSH port to loopback
  addresses on the host (the document's spec.nodes.ssh.endpoints, as a NAT
  would).
- Carries the API load balancer's traffic: the emulator's network load
  balancer is only a record, so a real TCP load balancer (HAProxy, run and
  reloaded here) forwards to the targets registered in its target group,
  checking each API server's /readyz. It listens inside the VPC on the
  router's address, which the load balancer's DNS name resolves to on
  every node, and on the host on a loopback address of the sandbox's own,
  which the name resolves to in SANDBOX_DIR/hosts.host (the host's hosts
  file and that line: scripts/sandbox/with-hosts.sh runs a command with it
  over /etc/hosts; the host's /etc/hosts is never written). It also listens
  on the sandbox's API address (net's "api"): without a load balancer
  (apiLoadBalancer: none) it forwards there to the control planes, as a NAT
  in front of that one node would (the document's apiEndpoint then).

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


def to_ns(ns, port):
    def connect():
        s = socket_in(ns)
        s.connect(("127.0.0.1", port))
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
        starts it afresh)."""
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
                    f.write(f"AWS_ENDPOINT_URL=http://{self.router}:{self.net['awsPort']}\n")
                self.ip(i, ip)
                self.assigned[i] = (inst["InstanceId"], ip)
                log(f"node {i} ({name}): {inst['InstanceId']} at {ip}")
            by_ip[ip] = inst
        for ip, inst in sorted(by_ip.items()):
            dns = inst.get("PrivateDnsName") or f"ip-{ip.replace('.', '-')}.ec2.internal"
            hosts.append(f"{ip} {dns} {dns.split('.')[0]}")
        control_planes = sorted(ip for ip, inst in by_ip.items()
                                if "-control-plane-" in (name_of(inst) or ""))
        names, _ = self.balancer.poll(control_planes)
        hosts.extend(f"{self.router} {n}" for n in names)
        with lock:
            self.by_ip = by_ip
        rewrite_in_place(os.path.join(self.dir, "hosts"), "\n".join(hosts) + "\n")
        # The host's view: its own hosts file, the names on the host-side
        # address (a command started before the load balancer existed sees
        # them too).
        rewrite_in_place(os.path.join(self.dir, "hosts.host"),
                         self.host_hosts + "".join(f"{self.net['lbHost']} {n}\n" for n in names))

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
    """HAProxy for the API load balancer: its configuration written from
    the emulator's load balancers and targets, reloaded when they change."""

    def __init__(self, d, net, router):
        self.dir = d
        self.net = net
        self.router = router
        self.elbv2 = boto3.client("elbv2")
        self.cfg = os.path.join(d, "haproxy.cfg")
        self.proc = None
        self.text = None
        self.names = []
        self.targets = []
        self.next_look = 0

    def api_balancers(self):
        """The network load balancers with a listener on 6443, and the IP
        targets of their target groups: (DNS names, [ip])."""
        names, targets = [], set()
        for lb in self.elbv2.describe_load_balancers()["LoadBalancers"]:
            if lb.get("Type") != "network":
                continue
            listeners = self.elbv2.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"]
            if not any(l["Port"] == 6443 for l in listeners):
                continue
            names.append(lb["DNSName"])
            for tg in self.elbv2.describe_target_groups(LoadBalancerArn=lb["LoadBalancerArn"])["TargetGroups"]:
                if tg.get("TargetType") != "ip":
                    continue
                health = self.elbv2.describe_target_health(TargetGroupArn=tg["TargetGroupArn"])
                targets.update(t["Target"]["Id"] for t in health["TargetHealthDescriptions"])
        return names, sorted(targets)

    def poll(self, control_planes):
        """Once a second: the load balancers looked up again, HAProxy told
        if its backends changed. Returns the DNS names to resolve."""
        if time.time() >= self.next_look:
            self.next_look = time.time() + 1
            self.names, self.targets = self.api_balancers()
        targets = self.targets if self.names else control_planes
        self.configure(targets)
        return self.names, targets

    def config(self, targets):
        vpc_ns = f"{self.net['prefix']}-vpc"
        host, port = self.net["api"].rsplit(":", 1)
        servers = "".join(
            f"    server {t} {t}:6443 namespace {vpc_ns} check check-ssl verify none\n" for t in targets)
        return f"""# Written by scripts/sandbox/agent.py: the API load balancer's traffic.
global
    maxconn 2000
defaults
    mode tcp
    timeout connect 2s
    timeout client 1h
    timeout server 1h
    timeout check 2s
    default-server inter 1s fall 2 rise 1 on-marked-down shutdown-sessions
frontend api
    bind {host}:{port}
    bind {self.net['lbHost']}:6443
    bind {self.router}:6443 namespace {vpc_ns}
    default_backend control-planes
backend control-planes
    option httpchk GET /readyz
    http-check expect status 200
{servers}"""

    def configure(self, targets):
        text = self.config(targets)
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
        log(f"API load balancer: {', '.join(targets) or 'no targets'}")


def main():
    sb = Sandbox(sys.argv[1])
    net = sb.net
    vpc_ns = f"{net['prefix']}-vpc"
    # The AWS API inside the VPC, on the router's address.
    start(forward, listen_in(vpc_ns, sb.router, net["awsPort"]), to_host("127.0.0.1", net["awsPort"]))
    # The metadata service.
    server = ThreadingHTTPServer(("127.0.0.1", 0), sb.imds(), bind_and_activate=False)
    server.socket = listen_in(vpc_ns, "169.254.169.254", 80)
    server.socket.listen(64)
    start(server.serve_forever)
    # Each node's SSH on the host; the API's traffic is HAProxy's.
    for i, ep in net["ssh"].items():
        host, port = ep.rsplit(":", 1)
        start(forward, listen_in(None, host, int(port)), to_ns(sb.node_ns(int(i)), 22))
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
