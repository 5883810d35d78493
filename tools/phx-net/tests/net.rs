//! phx-net against the moto emulator: convergence, zero-write re-runs,
//! interrupted applies, refusals, and a destroy that leaves nothing.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use assert_cmd::Command;
use phx_aws::ec2::types::{Filter, Tag};
use phx_testkit::ok;
use phx_testkit::{AwsProxy, Moto};
use serde_json::{json, Value};
use std::collections::BTreeMap;

const CLUSTER: &str = "phoenix";

fn doc(network: Value) -> String {
    json!({"apiVersion":"phx/v1","kind":"Cluster","metadata":{"name":CLUSTER},
           "spec":{"region":"us-east-1","network":network}})
    .to_string()
}

fn reference() -> String {
    doc(json!({"adminCidrs": ["203.0.113.7/32"]}))
}

fn net(moto: &Moto, args: &[&str], stdin: &str) -> std::process::Output {
    let mut cmd = Command::cargo_bin("phx-net").unwrap();
    moto.configure(&mut cmd);
    cmd.args(args).write_stdin(stdin.to_string()).output().unwrap()
}

/// The one line of a refusal (exit 65).
fn refused(out: &std::process::Output) -> String {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(65), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    err
}

fn ec2(moto: &Moto) -> phx_aws::ec2::Client {
    moto.aws().ec2()
}

fn owned() -> Filter {
    Filter::builder()
        .name(format!("tag:kubernetes.io/cluster/{CLUSTER}"))
        .values("owned")
        .build()
}

fn tag<'a>(tags: &'a [Tag], key: &str) -> Option<&'a str> {
    tags.iter().find(|t| t.key() == Some(key)).and_then(|t| t.value())
}

/// The one load balancer named for the cluster's API.
fn the_api_load_balancer(moto: &Moto) -> phx_aws::elbv2::types::LoadBalancer {
    let elbv2 = moto.aws().elbv2();
    let found = phx_testkit::block_on(elbv2.describe_load_balancers().names("phoenix-api").send()).unwrap();
    assert_eq!(found.load_balancers().len(), 1, "{found:?}");
    found.load_balancers()[0].clone()
}

/// The API load balancers, target groups and listeners (by name, the
/// internet-facing `phoenix-api` and the internal `phoenix-api-int`:
/// elbv2 has no tag filter), counted.
fn api_lb(moto: &Moto) -> (usize, usize, usize) {
    let elbv2 = moto.aws().elbv2();
    phx_testkit::block_on(async {
        let lbs = elbv2.describe_load_balancers().send().await.unwrap();
        let lbs: Vec<_> = lbs
            .load_balancers()
            .iter()
            .filter(|l| {
                l.load_balancer_name()
                    .is_some_and(|n| n.starts_with("phoenix-api"))
            })
            .collect();
        let mut listeners = 0;
        for l in &lbs {
            let arn = l.load_balancer_arn().unwrap();
            listeners += elbv2
                .describe_listeners()
                .load_balancer_arn(arn)
                .send()
                .await
                .unwrap()
                .listeners()
                .len();
        }
        let tgs = elbv2.describe_target_groups().send().await.unwrap();
        let tgs = tgs
            .target_groups()
            .iter()
            .filter(|t| {
                t.target_group_name()
                    .is_some_and(|n| n.starts_with("phoenix-api"))
            })
            .count();
        (lbs.len(), tgs, listeners)
    })
}

/// How many of each kind the cluster owns, by its tag (and the API load
/// balancer's parts, by name).
fn inventory(moto: &Moto) -> BTreeMap<&'static str, usize> {
    let ec2 = ec2(moto);
    let (lb, tg, listener) = api_lb(moto);
    phx_testkit::block_on(async {
        let vpcs = ec2.describe_vpcs().filters(owned()).send().await.unwrap();
        let nats = match vpcs.vpcs().first().and_then(|v| v.vpc_id()) {
            Some(vpc) => {
                let f = Filter::builder().name("vpc-id").values(vpc).build();
                let n = ec2.describe_nat_gateways().filter(f).send().await.unwrap();
                n.nat_gateways()
                    .iter()
                    .filter(|n| n.state().map(|s| s.as_str()) != Some("deleted"))
                    .count()
            }
            None => 0,
        };
        BTreeMap::from([
            ("lb", lb),
            ("tg", tg),
            ("listener", listener),
            ("vpc", vpcs.vpcs().len()),
            (
                "subnet",
                ec2.describe_subnets()
                    .filters(owned())
                    .send()
                    .await
                    .unwrap()
                    .subnets()
                    .len(),
            ),
            (
                "igw",
                ec2.describe_internet_gateways()
                    .filters(owned())
                    .send()
                    .await
                    .unwrap()
                    .internet_gateways()
                    .len(),
            ),
            (
                "rtb",
                ec2.describe_route_tables()
                    .filters(owned())
                    .send()
                    .await
                    .unwrap()
                    .route_tables()
                    .len(),
            ),
            (
                "sg",
                ec2.describe_security_groups()
                    .filters(owned())
                    .send()
                    .await
                    .unwrap()
                    .security_groups()
                    .len(),
            ),
            (
                "eip",
                ec2.describe_addresses()
                    .filters(owned())
                    .send()
                    .await
                    .unwrap()
                    .addresses()
                    .len(),
            ),
            ("nat", nats),
        ])
    })
}

fn full() -> BTreeMap<&'static str, usize> {
    BTreeMap::from([
        ("vpc", 1),
        ("subnet", 6),
        ("igw", 1),
        ("rtb", 2),
        ("sg", 3),
        ("lb", 2),
        ("tg", 2),
        ("listener", 2),
        ("eip", 1),
        ("nat", 1),
    ])
}

#[test]
fn fresh_apply_builds_the_reference_network_and_a_rerun_writes_nothing() {
    let moto = Moto::start();
    moto.start_recording();
    let out = ok(&net(&moto, &["apply"], &reference()));
    // A first apply looks once (one round of reads, zones included) before
    // it makes anything: round two needs a VPC, and there is none.
    let calls = moto
        .recording()
        .actions()
        .into_iter()
        .map(str::to_string)
        .collect::<Vec<_>>();
    let first_write = calls.iter().position(|a| !a.starts_with("Describe")).unwrap();
    let mut looks = calls[..first_write].to_vec();
    looks.sort();
    assert_eq!(
        looks,
        [
            "DescribeAddresses",
            "DescribeAvailabilityZones",
            "DescribeInternetGateways",
            "DescribeRouteTables",
            "DescribeSecurityGroups",
            "DescribeSubnets",
            "DescribeVpcs"
        ],
        "{calls:?}"
    );
    let st = &out["status"]["network"];
    assert_eq!(inventory(&moto), full());
    assert_eq!(st["zones"], json!(["us-east-1a", "us-east-1b", "us-east-1c"]));
    assert_eq!(st["subnets"].as_array().unwrap().len(), 6);
    assert!(st["vpcId"].as_str().unwrap().starts_with("vpc-"));
    assert!(st["natGatewayId"].as_str().unwrap().starts_with("nat-"));
    assert!(out.get("error").is_none());

    let ec2 = ec2(&moto);
    phx_testkit::block_on(async {
        let subnets = ec2.describe_subnets().filters(owned()).send().await.unwrap();
        for s in subnets.subnets() {
            let public = tag(s.tags(), "phx:component")
                .unwrap()
                .starts_with("subnet/public/");
            assert_eq!(s.map_public_ip_on_launch(), Some(public));
            // Where load balancers go (the reference's Istio ingress got no
            // public address until its subnets were tagged by hand).
            let (role, not) = if public {
                ("kubernetes.io/role/elb", "kubernetes.io/role/internal-elb")
            } else {
                ("kubernetes.io/role/internal-elb", "kubernetes.io/role/elb")
            };
            assert_eq!(tag(s.tags(), role), Some("1"), "{:?}", s.subnet_id());
            assert_eq!(tag(s.tags(), not), None, "{:?}", s.subnet_id());
            assert_eq!(tag(s.tags(), "kubernetes.io/cluster/phoenix"), Some("owned"));
            assert!(tag(s.tags(), "Name").unwrap().starts_with("phoenix-"));
        }
        let vpc = st["vpcId"].as_str().unwrap();
        let attr = ec2
            .describe_vpc_attribute()
            .vpc_id(vpc)
            .attribute(phx_aws::ec2::types::VpcAttributeName::EnableDnsHostnames)
            .send()
            .await
            .unwrap();
        assert_eq!(attr.enable_dns_hostnames().unwrap().value(), Some(true));
        let rtbs = ec2.describe_route_tables().filters(owned()).send().await.unwrap();
        for t in rtbs.route_tables() {
            let default = t
                .routes()
                .iter()
                .find(|r| r.destination_cidr_block() == Some("0.0.0.0/0"))
                .unwrap();
            match tag(t.tags(), "phx:component").unwrap() {
                "rtb/public" => assert_eq!(default.gateway_id(), st["internetGatewayId"].as_str()),
                _ => assert_eq!(default.nat_gateway_id(), st["natGatewayId"].as_str()),
            }
            assert_eq!(
                t.associations()
                    .iter()
                    .filter(|a| a.subnet_id().is_some())
                    .count(),
                3
            );
        }
        // SSH only from the admin CIDR, on both groups; the API only on the control plane.
        let groups = ec2
            .describe_security_groups()
            .filters(owned())
            .send()
            .await
            .unwrap();
        for g in groups.security_groups() {
            if tag(g.tags(), "phx:component") == Some("sg/api-lb") {
                // The load balancer's group: the API only, from the VPC and the admins.
                let mut api: Vec<_> = g
                    .ip_permissions()
                    .iter()
                    .inspect(|p| assert_eq!((p.from_port(), p.to_port()), (Some(6443), Some(6443))))
                    .flat_map(|p| p.ip_ranges())
                    .filter_map(|r| r.cidr_ip())
                    .collect();
                api.sort();
                assert_eq!(api, ["10.0.0.0/16", "203.0.113.7/32"]);
                continue;
            }
            let ssh: Vec<_> = g
                .ip_permissions()
                .iter()
                .filter(|p| p.from_port() == Some(22))
                .collect();
            let cidrs: Vec<_> = ssh
                .iter()
                .flat_map(|p| p.ip_ranges())
                .filter_map(|r| r.cidr_ip())
                .collect();
            assert_eq!(cidrs, vec!["203.0.113.7/32"], "{:?}", g.group_name());
            let api = g.ip_permissions().iter().any(|p| p.from_port() == Some(6443));
            assert_eq!(api, tag(g.tags(), "phx:component") == Some("sg/control-plane"));
            let ipip = g
                .ip_permissions()
                .iter()
                .find(|p| p.ip_protocol() == Some("4"))
                .unwrap();
            assert_eq!(
                ipip.user_id_group_pairs().len(),
                2,
                "IP-in-IP from both cluster groups"
            );
        }
    });

    // The API load balancer: network, internet-facing, in the public
    // subnets behind its own group; IP targets on 6443; one listener.
    let lb = &st["apiLoadBalancer"];
    assert_eq!(lb["name"], "phoenix-api");
    assert_eq!(lb["scheme"], "internet-facing");
    let elbv2 = moto.aws().elbv2();
    let l = &the_api_load_balancer(&moto);
    phx_testkit::block_on(async {
        assert_eq!(l.load_balancer_arn(), lb["arn"].as_str());
        assert_eq!(l.dns_name(), lb["dnsName"].as_str());
        assert_eq!(l.r#type().map(|t| t.as_str()), Some("network"));
        assert_eq!(l.scheme().map(|s| s.as_str()), Some("internet-facing"));
        assert_eq!(l.vpc_id(), st["vpcId"].as_str());
        assert_eq!(
            l.security_groups(),
            [st["securityGroups"]["apiLoadBalancer"].as_str().unwrap()]
        );
        let mut zones: Vec<_> = l
            .availability_zones()
            .iter()
            .map(|z| z.subnet_id().unwrap().to_string())
            .collect();
        zones.sort();
        let mut public: Vec<String> = st["subnets"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["public"] == true)
            .map(|s| s["id"].as_str().unwrap().to_string())
            .collect();
        public.sort();
        assert_eq!(zones, public);
        let tg = elbv2
            .describe_target_groups()
            .names("phoenix-api")
            .send()
            .await
            .unwrap();
        let tg = &tg.target_groups()[0];
        assert_eq!(tg.target_group_arn(), lb["targetGroupArn"].as_str());
        assert_eq!(tg.target_type().map(|t| t.as_str()), Some("ip"));
        assert_eq!(
            (tg.port(), tg.protocol().map(|p| p.as_str())),
            (Some(6443), Some("TCP"))
        );
        // The API server's readiness, not a TCP connect.
        assert_eq!(
            (
                tg.health_check_protocol().map(|p| p.as_str()),
                tg.health_check_path()
            ),
            (Some("HTTPS"), Some("/readyz"))
        );
        let listeners = elbv2
            .describe_listeners()
            .load_balancer_arn(l.load_balancer_arn().unwrap())
            .send()
            .await
            .unwrap();
        let forward = &listeners.listeners()[0].default_actions()[0];
        assert_eq!(forward.target_group_arn(), tg.target_group_arn());
        let tags = elbv2
            .describe_tags()
            .resource_arns(l.load_balancer_arn().unwrap())
            .send()
            .await
            .unwrap();
        let owned = tags.tag_descriptions()[0]
            .tags()
            .iter()
            .any(|t| t.key() == Some("kubernetes.io/cluster/phoenix") && t.value() == Some("owned"));
        assert!(owned, "{tags:?}");
    });

    // Beside it, the internal one: the cluster's endpoint, in the private
    // subnets, behind the same group, with its own target group.
    let int = &st["apiInternalLoadBalancer"];
    assert_eq!(int["name"], "phoenix-api-int");
    assert_eq!(int["scheme"], "internal");
    phx_testkit::block_on(async {
        let found = elbv2
            .describe_load_balancers()
            .names("phoenix-api-int")
            .send()
            .await
            .unwrap();
        let l = &found.load_balancers()[0];
        assert_eq!(l.dns_name(), int["dnsName"].as_str());
        assert_eq!(l.scheme().map(|s| s.as_str()), Some("internal"));
        assert_eq!(
            l.security_groups(),
            [st["securityGroups"]["apiLoadBalancer"].as_str().unwrap()]
        );
        let mut zones: Vec<_> = l
            .availability_zones()
            .iter()
            .map(|z| z.subnet_id().unwrap().to_string())
            .collect();
        zones.sort();
        let mut private: Vec<String> = st["subnets"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["public"] == false)
            .map(|s| s["id"].as_str().unwrap().to_string())
            .collect();
        private.sort();
        assert_eq!(zones, private);
        let tg = elbv2
            .describe_target_groups()
            .names("phoenix-api-int")
            .send()
            .await
            .unwrap();
        let tg = &tg.target_groups()[0];
        assert_eq!(tg.target_group_arn(), int["targetGroupArn"].as_str());
        assert_ne!(int["targetGroupArn"], lb["targetGroupArn"]);
        assert_eq!(tg.health_check_path(), Some("/readyz"));
        let listeners = elbv2
            .describe_listeners()
            .load_balancer_arn(l.load_balancer_arn().unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(
            listeners.listeners()[0].default_actions()[0].target_group_arn(),
            tg.target_group_arn()
        );
    });

    moto.start_recording();
    let again = ok(&net(&moto, &["apply"], &serde_json::to_string(&out).unwrap()));
    let rec = moto.recording();
    assert!(
        rec.mutating().is_empty(),
        "a converged apply wrote: {:?}",
        rec.mutating()
    );
    // Nine EC2 reads, and both load balancers and both target groups, by
    // name, in one read each.
    assert!(
        rec.actions().contains(&"DescribeLoadBalancers") && rec.actions().contains(&"DescribeTargetGroups"),
        "{:?}",
        rec.actions()
    );
    assert!(
        rec.len() <= 11,
        "a no-op apply made {} reads: {:?}",
        rec.len(),
        rec.actions()
    );
    assert_eq!(again["status"]["network"], out["status"]["network"]);
}

#[test]
fn plan_changes_nothing_and_lists_what_apply_would_do() {
    let moto = Moto::start();
    moto.start_recording();
    let out = net(&moto, &["plan"], &reference());
    let planned = ok(&out);
    assert!(moto.recording().mutating().is_empty());
    let plan = planned["status"]["network"]["plan"].as_array().unwrap();
    let creates = plan.iter().filter(|c| c["action"] == "create").count();
    // VPC, IGW, 6 subnets, EIP, NAT, 2 route tables, 3 groups, and the
    // two API load balancers (internet-facing, internal), their target
    // groups and listeners.
    assert_eq!(creates, 21, "{plan:?}");
    let table = String::from_utf8_lossy(&out.stderr);
    assert!(
        table.contains("create  subnet") && table.contains("21 to create"),
        "{table}"
    );
    assert_eq!(inventory(&moto).values().sum::<usize>(), 0);

    // After apply, a drifted rule shows as a change, and apply puts it right.
    let applied = ok(&net(&moto, &["apply"], &reference()));
    let ec2 = ec2(&moto);
    let group = applied["status"]["network"]["securityGroups"]["workers"]
        .as_str()
        .unwrap()
        .to_string();
    phx_testkit::block_on(async {
        let world = phx_aws::ec2::types::IpPermission::builder()
            .ip_protocol("tcp")
            .from_port(22)
            .to_port(22)
            .ip_ranges(
                phx_aws::ec2::types::IpRange::builder()
                    .cidr_ip("0.0.0.0/0")
                    .build(),
            )
            .build();
        ec2.authorize_security_group_ingress()
            .group_id(&group)
            .ip_permissions(world)
            .send()
            .await
            .unwrap();
    });
    let drift = ok(&net(&moto, &["plan"], &reference()));
    let plan = drift["status"]["network"]["plan"].as_array().unwrap().clone();
    assert_eq!(plan.len(), 1, "{plan:?}");
    assert_eq!(plan[0]["detail"], "revoke tcp 22 from 0.0.0.0/0");
    ok(&net(&moto, &["apply"], &reference()));
    moto.start_recording();
    ok(&net(&moto, &["apply"], &reference()));
    assert!(moto.recording().mutating().is_empty(), "drift was corrected");
}

#[test]
fn status_reports_what_apply_would_change_and_writes_no_document() {
    let moto = Moto::start();
    moto.start_recording();
    let fresh = ok(&net(&moto, &["status"], &reference()));
    assert_eq!(fresh["inSync"], false, "{fresh}");
    let creates = fresh["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["action"] == "create")
        .count();
    assert_eq!(creates, 21, "the plan's creates: {fresh}");
    assert!(
        fresh.get("kind").is_none(),
        "status prints a report, not the document"
    );
    assert!(moto.recording().mutating().is_empty());
    let applied = ok(&net(&moto, &["apply"], &reference()));
    let now = ok(&net(&moto, &["status"], &reference()));
    assert_eq!(now["inSync"], true, "{now}");
    assert_eq!(now["changes"], json!([]));
    assert_eq!(now["network"]["vpcId"], applied["status"]["network"]["vpcId"]);
}

#[test]
fn an_apply_killed_midway_and_run_again_makes_exactly_one_of_each() {
    let moto = Moto::start();
    let proxy = AwsProxy::latency(moto.port(), 150);
    let bin = assert_cmd::cargo::cargo_bin("phx-net");
    let mut child = moto
        .process(&bin, &["apply"])
        .env("AWS_ENDPOINT_URL", proxy.endpoint())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(reference().as_bytes())
            .unwrap();
    }
    // Kill it as soon as the VPC exists: the NAT gateway, which needs a
    // subnet's answer first, cannot have been asked for yet.
    let ec2 = ec2(&moto);
    let start = std::time::Instant::now();
    phx_testkit::block_on(async {
        while start.elapsed() < std::time::Duration::from_secs(30) {
            let v = ec2.describe_vpcs().filters(owned()).send().await.unwrap();
            if !v.vpcs().is_empty() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    });
    child.kill().unwrap();
    child.wait().unwrap();
    // Requests the killed run had sent still sit in the proxy for 150 ms and
    // then land; let them, so the re-run's discovery sees what they made.
    std::thread::sleep(std::time::Duration::from_secs(1));
    let partial = inventory(&moto);
    assert!(
        partial["vpc"] == 1 && partial["nat"] == 0 && partial != full(),
        "killed too late to test anything: {partial:?}"
    );

    ok(&net(&moto, &["apply"], &reference()));
    assert_eq!(inventory(&moto), full(), "after the kill: {partial:?}");
}

#[test]
fn admin_cidrs_missing_or_the_world_are_refused_before_any_call() {
    let moto = Moto::start();
    let cases = [
        (doc(json!({})), "spec.network.adminCidrs: required"),
        (doc(json!({"adminCidrs": ["0.0.0.0/0"]})), "allowWorldSsh"),
        (
            doc(json!({"adminCidrs": ["10.0.0.300/32"]})),
            "is not an IPv4 CIDR",
        ),
    ];
    for (input, expect) in cases {
        moto.start_recording();
        let out = net(&moto, &["apply"], &input);
        let err = refused(&out);
        assert!(
            err.starts_with("phx-net: spec.network.adminCidrs: ") && err.contains(expect),
            "{err}"
        );
        // The document still flows on, marked, so a pipeline stores it.
        let marked: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(marked["error"]["tool"], "phx-net");
        assert!(moto.recording().is_empty(), "no call for a refused spec");
    }
}

#[test]
fn destroy_removes_the_network_and_what_controllers_made_in_it() {
    let moto = Moto::start();
    let applied = ok(&net(&moto, &["apply"], &reference()));
    let st = applied["status"]["network"].clone();
    let vpc = st["vpcId"].as_str().unwrap().to_string();
    let public: Vec<String> = st["subnets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["public"] == true)
        .map(|s| s["id"].as_str().unwrap().to_string())
        .collect();
    // What the AWS cloud controller and the Load Balancer Controller would make.
    let aws = moto.aws();
    let key = format!("kubernetes.io/cluster/{CLUSTER}");
    phx_testkit::block_on(async {
        let sg = aws
            .ec2()
            .create_security_group()
            .group_name("k8s-elb-a1b2c3")
            .description("Security group for Kubernetes ELB")
            .vpc_id(&vpc)
            .send()
            .await
            .unwrap();
        let sg = sg.group_id().unwrap().to_string();
        aws.ec2()
            .create_tags()
            .resources(&sg)
            .tags(Tag::builder().key(&key).value("owned").build())
            .send()
            .await
            .unwrap();
        let listener = phx_aws::elb::types::Listener::builder()
            .protocol("TCP")
            .load_balancer_port(80)
            .instance_port(30080)
            .build()
            .unwrap();
        aws.elb()
            .create_load_balancer()
            .load_balancer_name("a1b2c3")
            .listeners(listener)
            .set_subnets(Some(public.clone()))
            .security_groups(&sg)
            .tags(
                phx_aws::elb::types::Tag::builder()
                    .key(&key)
                    .value("owned")
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
        let lb = aws
            .elbv2()
            .create_load_balancer()
            .name("k8s-booking-web")
            .set_subnets(Some(public.clone()))
            .tags(
                phx_aws::elbv2::types::Tag::builder()
                    .key("elbv2.k8s.aws/cluster")
                    .value(CLUSTER)
                    .build(),
            )
            .send()
            .await
            .unwrap();
        let lb_arn = lb.load_balancers()[0].load_balancer_arn().unwrap().to_string();
        let tg = aws
            .elbv2()
            .create_target_group()
            .name("k8s-booking-web-tg")
            .protocol(phx_aws::elbv2::types::ProtocolEnum::Http)
            .port(30080)
            .vpc_id(&vpc)
            .send()
            .await
            .unwrap();
        let tg_arn = tg.target_groups()[0].target_group_arn().unwrap().to_string();
        aws.elbv2()
            .create_listener()
            .load_balancer_arn(&lb_arn)
            .protocol(phx_aws::elbv2::types::ProtocolEnum::Http)
            .port(80)
            .default_actions(
                phx_aws::elbv2::types::Action::builder()
                    .r#type(phx_aws::elbv2::types::ActionTypeEnum::Forward)
                    .target_group_arn(&tg_arn)
                    .build(),
            )
            .send()
            .await
            .unwrap();
    });

    let out = net(&moto, &["destroy"], &serde_json::to_string(&applied).unwrap());
    let destroyed = ok(&out);
    assert!(destroyed["status"].get("network").is_none());
    assert_eq!(
        inventory(&moto).values().sum::<usize>(),
        0,
        "{:?}",
        inventory(&moto)
    );
    phx_testkit::block_on(async {
        assert!(aws
            .elb()
            .describe_load_balancers()
            .send()
            .await
            .unwrap()
            .load_balancer_descriptions()
            .is_empty());
        assert!(aws
            .elbv2()
            .describe_load_balancers()
            .send()
            .await
            .unwrap()
            .load_balancers()
            .is_empty());
        assert!(aws
            .elbv2()
            .describe_target_groups()
            .send()
            .await
            .unwrap()
            .target_groups()
            .is_empty());
        let left = aws.ec2().describe_vpcs().vpc_ids(&vpc).send().await;
        assert!(
            left.is_err() || left.unwrap().vpcs().is_empty(),
            "the VPC is gone"
        );
        let sgs = aws
            .ec2()
            .describe_security_groups()
            .filters(Filter::builder().name("tag-key").values(&key).build())
            .send()
            .await
            .unwrap();
        assert!(sgs.security_groups().is_empty(), "controller groups are gone");
    });
    // A second destroy finds nothing and succeeds.
    ok(&net(&moto, &["destroy"], &reference()));
}

#[test]
fn a_brought_vpc_gets_only_security_groups_and_survives_destroy() {
    let moto = Moto::start();
    let ec2 = ec2(&moto);
    let (vpc, subnets) = phx_testkit::block_on(async {
        let vpc = ec2.create_vpc().cidr_block("10.9.0.0/16").send().await.unwrap();
        let vpc = vpc.vpc().unwrap().vpc_id().unwrap().to_string();
        let mut subnets = Vec::new();
        for (i, zone) in ["us-east-1a", "us-east-1b"].iter().enumerate() {
            let s = ec2
                .create_subnet()
                .vpc_id(&vpc)
                .cidr_block(format!("10.9.{i}.0/24"))
                .availability_zone(*zone)
                .send()
                .await
                .unwrap();
            subnets.push(s.subnet().unwrap().subnet_id().unwrap().to_string());
        }
        (vpc, subnets)
    });
    let input = doc(json!({"adminCidrs": ["203.0.113.7/32"], "vpcId": vpc, "subnetIds": subnets}));
    let applied = ok(&net(&moto, &["apply"], &input));
    let st = &applied["status"]["network"];
    assert_eq!(st["owned"], false);
    assert_eq!(st["vpcId"], vpc.as_str());
    assert_eq!(st["subnets"].as_array().unwrap().len(), 2);
    let inv = inventory(&moto);
    assert_eq!(
        (
            inv["vpc"],
            inv["subnet"],
            inv["igw"],
            inv["nat"],
            inv["sg"],
            inv["lb"]
        ),
        (0, 0, 0, 0, 3, 2),
        "{inv:?}"
    );
    let shared = |id: &str| {
        phx_testkit::block_on(async {
            let v = ec2.describe_vpcs().vpc_ids(id).send().await.unwrap();
            tag(v.vpcs()[0].tags(), &format!("kubernetes.io/cluster/{CLUSTER}")).map(str::to_string)
        })
    };
    assert_eq!(shared(&vpc).as_deref(), Some("shared"));
    moto.start_recording();
    ok(&net(&moto, &["apply"], &input));
    assert!(moto.recording().mutating().is_empty());

    ok(&net(
        &moto,
        &["destroy"],
        &serde_json::to_string(&applied).unwrap(),
    ));
    phx_testkit::block_on(async {
        let v = ec2.describe_vpcs().vpc_ids(&vpc).send().await.unwrap();
        assert_eq!(v.vpcs().len(), 1, "the user's VPC survives");
        let s = ec2
            .describe_subnets()
            .set_subnet_ids(Some(subnets.clone()))
            .send()
            .await
            .unwrap();
        assert_eq!(s.subnets().len(), 2, "the user's subnets survive");
    });
    let inv = inventory(&moto);
    assert_eq!((inv["sg"], inv["lb"], inv["tg"]), (0, 0, 0), "{inv:?}");
    assert_eq!(shared(&vpc), None, "the shared tag is taken off");
}

/// An internal load balancer goes in the private subnets; the endpoint's
/// scheme cannot change afterwards, nor can it be dropped: both refused
/// (65) before any write.
#[test]
fn an_internal_api_load_balancer_and_a_scheme_that_cannot_change() {
    let moto = Moto::start();
    let internal = |lb: &str| {
        let mut d: Value = serde_json::from_str(&reference()).unwrap();
        d["spec"]["kubernetes"] = json!({"apiLoadBalancer": lb});
        d.to_string()
    };
    let out = ok(&net(&moto, &["apply"], &internal("internal")));
    let st = &out["status"]["network"];
    assert_eq!(st["apiLoadBalancer"]["scheme"], "internal");
    let private: Vec<String> = st["subnets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["public"] == false)
        .map(|s| s["id"].as_str().unwrap().to_string())
        .collect();
    let l = the_api_load_balancer(&moto);
    assert_eq!(l.scheme().map(|s| s.as_str()), Some("internal"));
    for z in l.availability_zones() {
        assert!(
            private.contains(&z.subnet_id().unwrap().to_string()),
            "{z:?} not private"
        );
    }

    moto.start_recording();
    for (spec, says) in [
        (
            internal("internet-facing"),
            "apiLoadBalancer: internet-facing, but the cluster's API load balancer is internal",
        ),
        (
            internal("none"),
            "apiLoadBalancer: none, but the cluster's endpoint is the internal load balancer",
        ),
    ] {
        let err = refused(&net(&moto, &["apply"], &spec));
        assert!(err.contains(says), "{err}");
    }
    assert!(moto.recording().mutating().is_empty());
    assert_eq!(api_lb(&moto), (1, 1, 1));
}
