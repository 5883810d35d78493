//! Running a plan: every step starts as soon as the components it needs
//! exist, so independent calls overlap and the wall time follows the longest
//! chain of dependent calls. A registry maps components to ids (first from
//! what was observed, then from what steps create); a failed step marks its
//! component failed so its dependents stop at once, while unrelated steps
//! finish. What was made is always known, for the document.

use crate::api_lb;
use crate::desired::{SubnetWant, SG_API_LB, SG_CONTROL_PLANE, SG_WORKERS};
use crate::plan::{Step, DEFAULT_ROUTE, EIP_ADDRESS, IGW_ATTACHED, NAT_AVAILABLE};
use phx_aws::ec2::types::{
    AttributeBooleanValue, DomainType, IpPermission, NatGatewayState, ResourceType, Tag, TagSpecification,
};
use phx_aws::ec2::Client;
use phx_aws::retry::retry;
use phx_aws::{ClusterTags, Sent};
use phx_core::{Error, Result};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Notify, Semaphore};

/// Calls in flight at once: enough to overlap independent work, few
/// enough to stay clear of API rate limits.
const CONCURRENCY: usize = 16;

/// Codes AWS returns while a just-created resource is not visible yet.
const NOT_YET_VISIBLE: &[&str] = &[
    "InvalidVpcID.NotFound",
    "InvalidSubnetID.NotFound",
    "InvalidInternetGatewayID.NotFound",
    "InvalidGroup.NotFound",
    "InvalidRouteTableID.NotFound",
    "InvalidAllocationID.NotFound",
    "InvalidNatGatewayID.NotFound",
    "InvalidGatewayID.NotFound",
    // elbv2 naming a subnet, group or VPC EC2 has just made.
    "SubnetNotFound",
    "InvalidSubnet",
    "InvalidSecurityGroup",
    "InvalidConfigurationRequest",
];

#[derive(Debug, Default)]
struct Slots {
    ids: HashMap<String, String>,
    failed: HashMap<String, String>,
}

/// Component ids, awaited by the steps that need them.
#[derive(Debug, Default)]
pub struct Registry {
    slots: Mutex<Slots>,
    changed: Notify,
}

impl Registry {
    pub fn set(&self, component: &str, id: &str) {
        self.slots
            .lock()
            .expect("registry lock")
            .ids
            .insert(component.into(), id.into());
        self.changed.notify_waiters();
    }

    fn fail(&self, component: &str, why: &str) {
        self.slots
            .lock()
            .expect("registry lock")
            .failed
            .insert(component.into(), why.into());
        self.changed.notify_waiters();
    }

    pub fn get(&self, component: &str) -> Option<String> {
        self.slots
            .lock()
            .expect("registry lock")
            .ids
            .get(component)
            .cloned()
    }

    /// Wait for a component's id; an error if the step making it failed.
    async fn wait(&self, component: &str) -> Result<String> {
        loop {
            let notified = self.changed.notified();
            {
                let slots = self.slots.lock().expect("registry lock");
                if let Some(id) = slots.ids.get(component) {
                    return Ok(id.clone());
                }
                if slots.failed.contains_key(component) {
                    return Err(Error::failed(format!("{component} was not made")));
                }
            }
            notified.await;
        }
    }

    pub fn ids(&self) -> HashMap<String, String> {
        self.slots.lock().expect("registry lock").ids.clone()
    }
}

#[derive(Debug)]
pub struct Executor {
    pub ec2: Client,
    pub elbv2: phx_aws::elbv2::Client,
    pub tags: ClusterTags,
    pub vpc_cidr: String,
    pub registry: Arc<Registry>,
    limit: Arc<Semaphore>,
    /// How long a NAT gateway may take to become available.
    wait: Duration,
}

impl Executor {
    pub fn new(
        ec2: Client,
        elbv2: phx_aws::elbv2::Client,
        tags: ClusterTags,
        vpc_cidr: String,
        registry: Arc<Registry>,
    ) -> Executor {
        Executor {
            ec2,
            elbv2,
            tags,
            vpc_cidr,
            registry,
            limit: Arc::new(Semaphore::new(CONCURRENCY)),
            wait: Duration::from_secs(600),
        }
    }

    /// Wait for a NAT gateway at most `wait` (apply's `--timeout`).
    pub fn waiting_at_most(self, wait: Duration) -> Executor {
        Executor { wait, ..self }
    }

    /// Run all steps; every failure is reported, in plan order.
    pub async fn run(self: Arc<Self>, steps: Vec<Step>) -> Result<()> {
        // Every dependency must exist already or be made by a step (steps
        // that make several things name the first; the rest follow it):
        // otherwise a step would wait for ever.
        let known = self.registry.ids();
        let mut made: Vec<String> = steps.iter().filter_map(Step::provides).collect();
        if made.iter().any(|c| c == "nat") {
            made.push(NAT_AVAILABLE.into());
        }
        for step in &steps {
            if let Some(missing) = step
                .needs()
                .into_iter()
                .find(|n| !known.contains_key(n) && !made.contains(n))
            {
                let c = step.change();
                return Err(Error::failed(format!(
                    "internal: nothing provides {missing} for {} {} {}",
                    c.action, c.kind, c.name
                )));
            }
        }
        let mut set = tokio::task::JoinSet::new();
        for (i, step) in steps.into_iter().enumerate() {
            let this = self.clone();
            set.spawn(async move {
                let result = this.run_step(&step).await;
                if let (Err(e), Some(c)) = (&result, step.provides()) {
                    this.registry.fail(&c, &e.to_string());
                    if c == "igw" {
                        this.registry.fail(IGW_ATTACHED, "no internet gateway");
                    }
                    if c == "nat" {
                        this.registry.fail(NAT_AVAILABLE, "no NAT gateway");
                    }
                }
                (i, step, result)
            });
        }
        let mut failures = Vec::new();
        while let Some(joined) = set.join_next().await {
            let (i, step, result) = joined.map_err(Error::failed)?;
            if let Err(e) = result {
                let c = step.change();
                failures.push((i, format!("{} {} {}: {e}", c.action, c.kind, c.name)));
            }
        }
        failures.sort();
        match failures.first() {
            None => Ok(()),
            Some((_, first)) if failures.len() == 1 => Err(Error::failed(first)),
            Some((_, first)) => Err(Error::failed(format!(
                "{first} (and {} more)",
                failures.len() - 1
            ))),
        }
    }

    async fn run_step(&self, step: &Step) -> Result<()> {
        let mut ids = HashMap::new();
        for need in step.needs() {
            ids.insert(need.clone(), self.registry.wait(&need).await?);
        }
        let _permit = self.limit.acquire().await.map_err(Error::failed)?;
        let id = |c: &str| ids.get(c).cloned().unwrap_or_default();
        let made = match step {
            Step::CreateVpc => Some(self.create_vpc().await?),
            Step::SetVpcDns => {
                self.set_vpc_dns(&id("vpc")).await?;
                None
            }
            Step::CreateIgw => Some(self.create_igw().await?),
            Step::AttachIgw => {
                self.attach_igw(&id("igw"), &id("vpc")).await?;
                Some(id("igw"))
            }
            Step::CreateSubnet(s) => Some(self.create_subnet(&id("vpc"), s).await?),
            Step::SetMapPublicIp { subnet } => {
                self.map_public_ip(&id(subnet)).await?;
                None
            }
            Step::AllocateEip => Some(self.allocate_eip().await?),
            Step::CreateNat { subnet } => {
                let nat = self.create_nat(&id(subnet), &id("eip/nat")).await?;
                self.registry.set("nat", &nat);
                self.wait_nat(&nat).await?;
                self.registry.set(NAT_AVAILABLE, &nat);
                None
            }
            Step::CreateRouteTable { table } => Some(self.create_route_table(&id("vpc"), table).await?),
            Step::CreateRoute { table, target } => {
                self.route(&id(table), &id(target), false).await?;
                None
            }
            Step::ReplaceRoute { table, target } => {
                self.route(&id(table), &id(target), true).await?;
                None
            }
            Step::Associate { table, subnet } => {
                self.associate(&id(table), &id(subnet)).await?;
                None
            }
            Step::CreateGroup { group } => Some(self.create_group(&id("vpc"), group).await?),
            Step::Authorize { group, rules } => {
                self.ingress(
                    &id(group),
                    rules.iter().map(|r| r.to_permission(&ids)).collect(),
                    true,
                )
                .await?;
                None
            }
            Step::Revoke { group, rules } => {
                self.ingress(
                    &id(group),
                    rules.iter().map(|r| r.to_permission(&ids)).collect(),
                    false,
                )
                .await?;
                None
            }
            Step::WaitNat => {
                let nat = id("nat");
                self.wait_nat(&nat).await?;
                Some(nat)
            }
            Step::CreateTargetGroup(role) => {
                let vpc = id("vpc");
                Some(
                    self.call("creating an API target group", || {
                        api_lb::create_target_group(&self.elbv2, &self.tags, &vpc, *role)
                    })
                    .await?,
                )
            }
            Step::CheckReadyz(role) => {
                let tg = id(role.target_group());
                self.call("setting an API target group's health check", || {
                    api_lb::check_readyz(&self.elbv2, &tg)
                })
                .await?;
                None
            }
            Step::CreateLoadBalancer {
                role,
                scheme,
                subnets,
            } => {
                let subnet_ids: Vec<String> = subnets.iter().map(|s| id(s)).collect();
                let group = id(SG_API_LB);
                let (arn, dns) = self
                    .call("creating an API load balancer", || {
                        api_lb::create_load_balancer(
                            &self.elbv2,
                            &self.tags,
                            *role,
                            scheme,
                            subnet_ids.clone(),
                            &group,
                        )
                    })
                    .await?;
                self.registry.set(role.dns(), &dns);
                Some(arn)
            }
            Step::CreateListener(role) => {
                let (lb, tg) = (id(role.lb()), id(role.target_group()));
                self.call("creating an API listener", || {
                    api_lb::create_listener(&self.elbv2, &self.tags, *role, &lb, &tg)
                })
                .await?;
                None
            }
            Step::TagShared { id: resource, .. } => {
                self.call("tagging", || async {
                    self.ec2
                        .create_tags()
                        .resources(resource)
                        .tags(
                            Tag::builder()
                                .key(self.tags.cluster_key())
                                .value(phx_aws::tags::SHARED)
                                .build(),
                        )
                        .send()
                        .await
                        .phx()
                })
                .await?;
                None
            }
        };
        if let (Some(c), Some(made)) = (step.provides(), made) {
            self.registry.set(&c, &made);
        }
        let c = step.change();
        tracing::info!("{} {} {} {}", c.action, c.kind, c.name, c.detail);
        Ok(())
    }

    /// One API call, retried while what it names is not visible yet.
    async fn call<T, F, Fut>(&self, what: &str, op: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T>>,
    {
        retry(what, Duration::from_secs(60), |e| e.has_code(NOT_YET_VISIBLE), op)
            .await
            .map_err(|e| e.context(what))
    }

    async fn ingress(&self, group: &str, perms: Vec<IpPermission>, authorize: bool) -> Result<()> {
        if authorize {
            self.call("authorizing ingress", || async {
                let req = self.ec2.authorize_security_group_ingress().group_id(group);
                req.set_ip_permissions(Some(perms.clone()))
                    .send()
                    .await
                    .phx_done()
            })
            .await
        } else {
            self.call("revoking ingress", || async {
                let req = self.ec2.revoke_security_group_ingress().group_id(group);
                req.set_ip_permissions(Some(perms.clone()))
                    .send()
                    .await
                    .phx_done()
            })
            .await
        }
    }

    fn tag_spec(&self, kind: ResourceType, component: &str, suffix: &str) -> TagSpecification {
        let tags = self
            .tags
            .owned(component, suffix)
            .into_iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build());
        TagSpecification::builder()
            .resource_type(kind)
            .set_tags(Some(tags.collect()))
            .build()
    }

    async fn create_vpc(&self) -> Result<String> {
        let out = self
            .call("creating the VPC", || async {
                self.ec2
                    .create_vpc()
                    .cidr_block(&self.vpc_cidr)
                    .tag_specifications(self.tag_spec(ResourceType::Vpc, "vpc", "vpc"))
                    .send()
                    .await
                    .phx()
            })
            .await?;
        Ok(out.vpc().and_then(|v| v.vpc_id()).unwrap_or_default().to_string())
    }

    async fn set_vpc_dns(&self, vpc: &str) -> Result<()> {
        // One attribute per call, as the API demands; both at once.
        let on = || AttributeBooleanValue::builder().value(true).build();
        let support = self.call("enabling DNS support", || async {
            self.ec2
                .modify_vpc_attribute()
                .vpc_id(vpc)
                .enable_dns_support(on())
                .send()
                .await
                .phx()
        });
        let hostnames = self.call("enabling DNS hostnames", || async {
            self.ec2
                .modify_vpc_attribute()
                .vpc_id(vpc)
                .enable_dns_hostnames(on())
                .send()
                .await
                .phx()
        });
        tokio::try_join!(support, hostnames)?;
        Ok(())
    }

    async fn create_igw(&self) -> Result<String> {
        let out = self
            .call("creating the internet gateway", || async {
                self.ec2
                    .create_internet_gateway()
                    .tag_specifications(self.tag_spec(ResourceType::InternetGateway, "igw", "igw"))
                    .send()
                    .await
                    .phx()
            })
            .await?;
        Ok(out
            .internet_gateway()
            .and_then(|g| g.internet_gateway_id())
            .unwrap_or_default()
            .to_string())
    }

    async fn attach_igw(&self, igw: &str, vpc: &str) -> Result<()> {
        self.call("attaching the internet gateway", || async {
            self.ec2
                .attach_internet_gateway()
                .internet_gateway_id(igw)
                .vpc_id(vpc)
                .send()
                .await
                .phx()
        })
        .await?;
        Ok(())
    }

    async fn create_subnet(&self, vpc: &str, s: &SubnetWant) -> Result<String> {
        let suffix = s.component.trim_start_matches("subnet/").replace('/', "-");
        let mut spec = self.tag_spec(ResourceType::Subnet, &s.component, &suffix);
        let role = if s.public {
            "kubernetes.io/role/elb"
        } else {
            "kubernetes.io/role/internal-elb"
        };
        spec = TagSpecification::builder()
            .resource_type(ResourceType::Subnet)
            .set_tags(Some({
                let mut t = spec.tags().to_vec();
                t.push(Tag::builder().key(role).value("1").build());
                t
            }))
            .build();
        let out = self
            .call("creating a subnet", || async {
                self.ec2
                    .create_subnet()
                    .vpc_id(vpc)
                    .cidr_block(s.cidr.to_string())
                    .availability_zone(&s.zone)
                    .tag_specifications(spec.clone())
                    .send()
                    .await
                    .phx()
            })
            .await?;
        Ok(out
            .subnet()
            .and_then(|s| s.subnet_id())
            .unwrap_or_default()
            .to_string())
    }

    async fn map_public_ip(&self, subnet: &str) -> Result<()> {
        self.call("setting public IPs on launch", || async {
            self.ec2
                .modify_subnet_attribute()
                .subnet_id(subnet)
                .map_public_ip_on_launch(AttributeBooleanValue::builder().value(true).build())
                .send()
                .await
                .phx()
        })
        .await?;
        Ok(())
    }

    async fn allocate_eip(&self) -> Result<String> {
        let out = self
            .call("allocating an Elastic IP", || async {
                self.ec2
                    .allocate_address()
                    .domain(DomainType::Vpc)
                    .tag_specifications(self.tag_spec(ResourceType::ElasticIp, "eip/nat", "nat"))
                    .send()
                    .await
                    .phx()
            })
            .await?;
        if let Some(ip) = out.public_ip() {
            self.registry.set(EIP_ADDRESS, ip);
        }
        Ok(out.allocation_id().unwrap_or_default().to_string())
    }

    async fn create_nat(&self, subnet: &str, allocation: &str) -> Result<String> {
        let token = format!("{}-nat", self.tags.cluster());
        let out = self
            .call("creating the NAT gateway", || async {
                self.ec2
                    .create_nat_gateway()
                    .subnet_id(subnet)
                    .allocation_id(allocation)
                    .client_token(&token)
                    .tag_specifications(self.tag_spec(ResourceType::Natgateway, "nat", "nat"))
                    .send()
                    .await
                    .phx()
            })
            .await?;
        Ok(out
            .nat_gateway()
            .and_then(|n| n.nat_gateway_id())
            .unwrap_or_default()
            .to_string())
    }

    /// NAT gateways take a minute or two to become available on AWS.
    async fn wait_nat(&self, nat: &str) -> Result<()> {
        let mut backoff =
            phx_core::backoff::Backoff::new(Duration::from_secs(2), Duration::from_secs(10), self.wait);
        let _waiting = phx_core::progress::Waiting::start(format!("NAT gateway {nat} to be available"));
        loop {
            let out = self
                .call("waiting for the NAT gateway", || async {
                    self.ec2
                        .describe_nat_gateways()
                        .nat_gateway_ids(nat)
                        .send()
                        .await
                        .phx()
                })
                .await?;
            match out.nat_gateways().first().and_then(|n| n.state()) {
                Some(NatGatewayState::Available) => return Ok(()),
                Some(NatGatewayState::Failed) | Some(NatGatewayState::Deleted) => {
                    return Err(Error::failed(format!("NAT gateway {nat} failed")));
                }
                _ => {}
            }
            if !backoff.wait().await {
                return Err(Error::failed(format!(
                    "NAT gateway {nat} not available after {}",
                    phx_core::time::format_duration(self.wait)
                )));
            }
        }
    }

    async fn create_route_table(&self, vpc: &str, table: &str) -> Result<String> {
        let suffix = table.replace("rtb/", "rtb-");
        let out = self
            .call("creating a route table", || async {
                self.ec2
                    .create_route_table()
                    .vpc_id(vpc)
                    .tag_specifications(self.tag_spec(ResourceType::RouteTable, table, &suffix))
                    .send()
                    .await
                    .phx()
            })
            .await?;
        Ok(out
            .route_table()
            .and_then(|t| t.route_table_id())
            .unwrap_or_default()
            .to_string())
    }

    async fn route(&self, table: &str, target: &str, replace: bool) -> Result<()> {
        // A route can appear between discovery and now (an interrupted run's
        // last request still landing): then make sure of its target instead.
        match self.route_once(table, target, replace).await {
            Err(e) if !replace && e.has_code(&["RouteAlreadyExists"]) => {
                self.route_once(table, target, true).await
            }
            other => other,
        }
    }

    async fn route_once(&self, table: &str, target: &str, replace: bool) -> Result<()> {
        let nat = target.starts_with("nat-");
        self.call("routing", || async {
            if replace {
                let r = self
                    .ec2
                    .replace_route()
                    .route_table_id(table)
                    .destination_cidr_block(DEFAULT_ROUTE);
                let r = if nat {
                    r.nat_gateway_id(target)
                } else {
                    r.gateway_id(target)
                };
                r.send().await.phx_done()
            } else {
                let r = self
                    .ec2
                    .create_route()
                    .route_table_id(table)
                    .destination_cidr_block(DEFAULT_ROUTE);
                let r = if nat {
                    r.nat_gateway_id(target)
                } else {
                    r.gateway_id(target)
                };
                r.send().await.phx_done()
            }
        })
        .await
    }

    async fn associate(&self, table: &str, subnet: &str) -> Result<()> {
        self.call("associating a route table", || async {
            self.ec2
                .associate_route_table()
                .route_table_id(table)
                .subnet_id(subnet)
                .send()
                .await
                .phx()
        })
        .await?;
        Ok(())
    }

    async fn create_group(&self, vpc: &str, group: &str) -> Result<String> {
        let suffix = group.trim_start_matches("sg/");
        let name = self.tags.name(suffix);
        let description = match group {
            SG_CONTROL_PLANE => "phx: Kubernetes control plane",
            SG_WORKERS => "phx: Kubernetes workers",
            _ => "phx",
        };
        let out = self
            .call("creating a security group", || async {
                self.ec2
                    .create_security_group()
                    .group_name(&name)
                    .description(description)
                    .vpc_id(vpc)
                    .tag_specifications(self.tag_spec(ResourceType::SecurityGroup, group, suffix))
                    .send()
                    .await
                    .phx()
            })
            .await?;
        Ok(out.group_id().unwrap_or_default().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn executor() -> Arc<Executor> {
        let conf = phx_aws::ec2::Config::builder()
            .behavior_version(phx_aws::ec2::config::BehaviorVersion::latest())
            .region(phx_aws::ec2::config::Region::new("us-east-1"))
            // A closed loopback port: nothing here may reach AWS.
            .endpoint_url("http://127.0.0.1:9")
            .build();
        let ec2 = Client::from_conf(conf);
        let elbv2 = phx_aws::elbv2::Client::from_conf(
            phx_aws::elbv2::Config::builder()
                .behavior_version(phx_aws::elbv2::config::BehaviorVersion::latest())
                .region(phx_aws::elbv2::config::Region::new("us-east-1"))
                .endpoint_url("http://127.0.0.1:9")
                .build(),
        );
        Arc::new(Executor::new(
            ec2,
            elbv2,
            ClusterTags::new("t"),
            "10.0.0.0/16".into(),
            Arc::default(),
        ))
    }

    #[tokio::test]
    async fn a_dependency_nothing_provides_fails_at_once_instead_of_waiting() {
        let steps = vec![Step::CreateRoute {
            table: "rtb/public".into(),
            target: "igw".into(),
        }];
        let e = executor().run(steps).await.unwrap_err();
        assert!(
            e.to_string().starts_with("internal: nothing provides rtb/public"),
            "{e}"
        );
    }

    #[tokio::test]
    async fn what_a_step_makes_satisfies_its_dependents() {
        let exec = executor();
        exec.registry.set("vpc", "vpc-1");
        exec.registry.set("igw", "igw-1");
        exec.registry.set(IGW_ATTACHED, "igw-1");
        // Checked only: a failing create is fine here, a "nothing provides" is not.
        let steps = vec![
            Step::CreateRouteTable {
                table: "rtb/public".into(),
            },
            Step::CreateRoute {
                table: "rtb/public".into(),
                target: "igw".into(),
            },
        ];
        let e = exec.run(steps).await.unwrap_err();
        assert!(!e.to_string().contains("nothing provides"), "{e}");
    }
}
