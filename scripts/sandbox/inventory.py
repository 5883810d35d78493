"""What the emulator holds for one cluster, by kind and name.

The sandbox's check that a deploy made exactly one of each thing and a
destroy left nothing: every EC2 resource carrying the cluster's tag (and
not already terminated or deleted), the key pair, the IAM roles and
instance profiles named for the cluster, and the load balancers (ELB,
ELBv2) a cloud controller manager made for it.

usage: inventory.py CLUSTER   (AWS_* from `scripts/sandbox.sh env`)
prints {"kind": {"name": count}} as JSON; kinds with nothing are left out.

Known emulator gap: moto keeps the network interfaces of terminated
instances attached (AWS deletes them with the instance); those are not
counted.
"""
import json
import sys

import boto3

cluster = sys.argv[1]
tag = f"kubernetes.io/cluster/{cluster}"
ec2 = boto3.client("ec2")
iam = boto3.client("iam")
by_tag = [{"Name": f"tag:{tag}", "Values": ["owned", "shared"]}]
out = {}


def add(kind, name):
    out.setdefault(kind, {})
    out[kind][name] = out[kind].get(name, 0) + 1


def name(obj, fallback):
    for t in obj.get("Tags") or obj.get("TagSet") or []:
        if t["Key"] == "Name":
            return t["Value"]
    return fallback


def tagged(obj):
    return any(t["Key"] == tag for t in obj.get("Tags") or obj.get("TagSet") or [])


terminated = set()
for r in ec2.describe_instances(Filters=by_tag)["Reservations"]:
    for i in r["Instances"]:
        if i["State"]["Name"] in ("terminated", "shutting-down"):
            terminated.add(i["InstanceId"])
        else:
            add("instance", name(i, i["InstanceId"]))
for kind, describe, key, ident in [
    ("vpc", ec2.describe_vpcs, "Vpcs", "VpcId"),
    ("subnet", ec2.describe_subnets, "Subnets", "SubnetId"),
    ("security-group", ec2.describe_security_groups, "SecurityGroups", "GroupId"),
    ("route-table", ec2.describe_route_tables, "RouteTables", "RouteTableId"),
    ("internet-gateway", ec2.describe_internet_gateways, "InternetGateways", "InternetGatewayId"),
    ("elastic-ip", ec2.describe_addresses, "Addresses", "AllocationId"),
    ("volume", ec2.describe_volumes, "Volumes", "VolumeId"),
]:
    for o in describe(Filters=by_tag)[key]:
        add(kind, name(o, o[ident]))
# moto's tag filter finds no NAT gateway: filter here.
for n in ec2.describe_nat_gateways()["NatGateways"]:
    if tagged(n) and n["State"] not in ("deleted", "deleting"):
        add("nat-gateway", name(n, n["NatGatewayId"]))
for k in ec2.describe_key_pairs()["KeyPairs"]:
    if tagged(k) or k["KeyName"].startswith(f"{cluster}-"):
        add("key-pair", k["KeyName"])
for e in ec2.describe_network_interfaces()["NetworkInterfaces"]:
    attached = (e.get("Attachment") or {}).get("InstanceId")
    if attached in terminated:
        continue
    if tagged(e):
        add("network-interface", e["NetworkInterfaceId"])
# The API load balancer (phx-net), those the cloud controller manager made
# for Services, and their target groups.
elbv2 = boto3.client("elbv2")
lbs = elbv2.describe_load_balancers()["LoadBalancers"]
for lb in lbs:
    tags = elbv2.describe_tags(ResourceArns=[lb["LoadBalancerArn"]])["TagDescriptions"][0]["Tags"]
    if any(t["Key"] == tag for t in tags):
        add("load-balancer", lb["LoadBalancerName"])
for tg in elbv2.describe_target_groups()["TargetGroups"]:
    tags = elbv2.describe_tags(ResourceArns=[tg["TargetGroupArn"]])["TagDescriptions"][0]["Tags"]
    if any(t["Key"] == tag for t in tags):
        add("target-group", tg["TargetGroupName"])
elb = boto3.client("elb")
for lb in elb.describe_load_balancers()["LoadBalancerDescriptions"]:
    tags = elb.describe_tags(LoadBalancerNames=[lb["LoadBalancerName"]])["TagDescriptions"][0]["Tags"]
    if any(t["Key"] == tag for t in tags):
        add("load-balancer", lb["LoadBalancerName"])
for r in iam.list_roles()["Roles"]:
    if r["RoleName"].startswith(f"{cluster}-"):
        add("iam-role", r["RoleName"])
for p in iam.list_instance_profiles()["InstanceProfiles"]:
    if p["InstanceProfileName"].startswith(f"{cluster}-"):
        add("instance-profile", p["InstanceProfileName"])

json.dump(out, sys.stdout, sort_keys=True)
print()
