//! The synthetic organisation: accounts, their regions and resources, and the principals
//! that act in them. Built once per run from the seeded RNG; everything afterwards reads it.

use rand::seq::IndexedRandom;
use rand::Rng;

use crate::catalog::Profile;
use crate::geo::{home_site, region_site, site, site_ip, GeoSite};
use crate::ids;

/// The organisation id used for the account delivered in the organisation-trail layout.
pub(crate) const ORG_ID: &str = "o-exampleorg1";

/// Account ids of the organisation, in order; a run uses the first three or all four.
pub(crate) const ACCOUNT_IDS: [&str; 4] = [
    "111122223333",
    "444455556666",
    "777788889999",
    "210987654321",
];
const ACCOUNT_ALIASES: [&str; 4] = [
    "example-prod",
    "example-staging",
    "example-dev",
    "example-data",
];
/// Relative event volume per account.
const ACCOUNT_VOLUME: [f64; 4] = [0.42, 0.27, 0.18, 0.13];
/// Relative size (number of people, instances, functions) per account.
const ACCOUNT_SIZE: [f64; 4] = [1.0, 0.7, 0.5, 0.45];
/// An account outside the organisation (a vendor) that calls in cross-account.
pub(crate) const VENDOR_ACCOUNT: &str = "999988887777";

/// Regions; `us-east-1` is always first and dominant.
const OTHER_REGIONS: [&str; 4] = ["eu-west-1", "ap-southeast-2", "us-west-2", "eu-central-1"];

pub(crate) const PEOPLE: [&str; 40] = [
    "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory",
    "niaj", "olivia", "peggy", "rupert", "sybil", "trent", "victor", "walter", "yasmin", "zoe",
    "aarav", "bianca", "chen", "diego", "emeka", "fatima", "goran", "hana", "ines", "jonas",
    "kofi", "lena", "mateo", "nadia", "omar", "priya", "quinn", "ravi", "sofia",
];

const SSO_PERMISSION_SETS: [&str; 4] = [
    "AdministratorAccess",
    "ReadOnlyAccess",
    "PowerUserAccess",
    "ViewOnlyAccess",
];

const INSTANCE_ROLES: [&str; 4] = [
    "app-server-role",
    "batch-worker-role",
    "eks-node-role",
    "bastion-host-role",
];

const LAMBDA_FUNCTIONS: [&str; 10] = [
    "orders-processor",
    "thumbnail-generator",
    "audit-log-shipper",
    "nightly-report",
    "webhook-receiver",
    "user-sync",
    "invoice-renderer",
    "cost-anomaly-notifier",
    "s3-object-tagger",
    "session-cleanup",
];

const BUCKET_PURPOSES: [&str; 8] = [
    "assets",
    "uploads",
    "backups",
    "data-lake-raw",
    "build-artifacts",
    "reports",
    "static-site",
    "ml-datasets",
];

pub(crate) const BROWSERS: [&str; 6] = [
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.3; rv:123.0) Gecko/20100101 Firefox/123.0",
    "Mozilla/5.0 (X11; Linux x86_64; rv:123.0) Gecko/20100101 Firefox/123.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.3.1 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/121.0.0.0 Safari/537.36 Edg/121.0.2277.128",
];

const CLI_OS: [&str; 5] = [
    "Darwin/23.3.0 exe/x86_64",
    "Darwin/23.2.0 exe/arm64",
    "Linux/6.5.0-1014-aws exe/x86_64.ubuntu.22",
    "Linux/6.7.4-arch1-1 exe/x86_64.arch",
    "Windows/10 exe/AMD64",
];

const TERRAFORM_UA: &str = "APN/1.0 HashiCorp/1.0 Terraform/1.7.4 (+https://www.terraform.io) terraform-provider-aws/5.39.1 (+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go-v2/1.25.2 ua/2.0 os/linux lang/go#1.21.8 md/GOOS#linux md/GOARCH#amd64";
const GITHUB_ACTIONS_UA: &str = "aws-sdk-js/3.529.1 ua/2.0 os/linux#6.5.0-1016-azure lang/js md/nodejs#20.11.1 api/sts#3.529.1 configure-aws-credentials-for-github-actions";
const GITHUB_DEPLOY_UA: &str =
    "aws-cli/2.15.24 Python/3.11.8 Linux/6.5.0-1016-azure exe/x86_64.ubuntu.22 prompt/off";
const SSM_AGENT_UA: &str =
    "aws-sdk-go/1.44.302 (go1.21.6; linux; amd64) amazon-ssm-agent/3.2.2222.0";
const JAVA_APP_UA: &str = "aws-sdk-java/2.25.6 Linux/6.1.77-99.164.amzn2023.x86_64 OpenJDK_64-Bit_Server_VM/17.0.10+7-LTS Java/17.0.10 vendor/Amazon.com_Inc. io/sync http/Apache cfg/retry-mode/legacy";
const BOTO_EC2_UA: &str = "Boto3/1.34.49 md/Botocore#1.34.49 ua/2.0 os/linux#6.1.77-99.164.amzn2023.x86_64 md/arch#x86_64 lang/python#3.11.6 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.49";
const LAMBDA_PY_UA: &str = "Boto3/1.34.42 md/Botocore#1.34.42 ua/2.0 os/linux#5.10.209-220.815.amzn2.x86_64 md/arch#x86_64 lang/python#3.12.2 md/pyimpl#CPython exec-env/AWS_Lambda_python3.12 cfg/retry-mode#legacy Botocore/1.34.42";
const LAMBDA_NODE_UA: &str = "aws-sdk-js/3.362.0 os/linux/5.10.209-220.815.amzn2.x86_64 lang/js md/nodejs/18.19.1 api/s3/3.362.0 exec-env/AWS_Lambda_nodejs18.x";
const REPORTING_UA: &str = "Boto3/1.34.51 md/Botocore#1.34.51 ua/2.0 os/linux#5.15.0-1053-azure md/arch#x86_64 lang/python#3.10.12 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.51";
const VENDOR_UA: &str =
    "aws-sdk-go-v2/1.24.1 os/linux lang/go#1.21.6 md/GOOS#linux md/GOARCH#amd64 api/sts#1.26.7";

/// The name of an EC2 instance role: outside the account's home region it carries the region
/// as a suffix (`app-server-role-eu-west-1`), as region-scoped infrastructure code names them.
/// A role is one principal, and one role calling from two continents minutes apart would look
/// like impossible travel.
fn instance_role_name(role: &str, region: &str, home: bool) -> String {
    if home {
        role.to_string()
    } else {
        format!("{role}-{region}")
    }
}

/// What kind of caller a principal is; decides its `userIdentity` shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// An IAM user: a person, or a machine user with long-term keys.
    IamUser,
    Root,
    /// A role session (`AssumedRole`): CI, EC2 instance, SSO permission set, Lambda function,
    /// or a service-linked role (then `invoked_by` is set).
    Role,
    /// `AWSService`: an AWS service calling with its own identity.
    AwsService,
    /// A `GetFederationToken` session.
    Federated,
    /// `SAMLUser`: only ever seen on `AssumeRoleWithSAML`.
    Saml,
    /// `WebIdentityUser`: only ever seen on `AssumeRoleWithWebIdentity`.
    WebIdentity,
    /// `AWSAccount`: a principal of another account calling in.
    CrossAccount,
    /// `IdentityCenterUser`: the IAM Identity Center access portal.
    IdentityCenter,
}

/// One caller with stable behaviour.
#[derive(Debug, Clone)]
pub(crate) struct Principal {
    pub kind: Kind,
    pub profile: Profile,
    /// Stable key for values derived per session (access keys, session start times).
    pub key: u64,
    /// `userName` (IAM user, Federated, SAML/web identity subject) or role name.
    pub name: String,
    /// Role session name (roles), empty otherwise.
    pub session: String,
    /// `principalId`.
    pub principal_id: String,
    /// `arn` (empty when the type has none).
    pub arn: String,
    /// Role path inside `arn:aws:iam::ACCT:role/…`, including the trailing slash, or "".
    pub role_path: &'static str,
    /// The role's or issuing user's unique id (`AROA…`/`AIDA…`).
    pub issuer_id: String,
    /// Long-term access key (`AKIA…`) of IAM users.
    pub access_key: String,
    /// Source addresses the principal calls from (never empty).
    pub ips: Vec<String>,
    /// User agents of programmatic calls (never empty).
    pub agents: Vec<String>,
    /// The browser of a person (console sign-in), when a person is behind it.
    pub browser: &'static str,
    /// `invokedBy` for service principals and service-linked roles.
    pub invoked_by: Option<&'static str>,
    /// Region index (into the account's regions) the principal is bound to, if any.
    pub region: Option<usize>,
    /// Relative activity.
    pub activity: f64,
    /// A person (less active at night, signs in to the console).
    pub human: bool,
    /// Uses TLS 1.3 (else TLS 1.2).
    pub tls13: bool,
    /// Kind-specific extra: SAML/OIDC provider, other account id, Identity Store user id,
    /// or the EC2 instance id of an instance role.
    pub extra: String,
}

#[derive(Debug, Clone)]
pub(crate) struct Bucket {
    pub name: String,
    /// Index into the account's regions.
    pub region: usize,
}

#[derive(Debug, Clone)]
pub(crate) struct RegionRes {
    pub vpc: String,
    pub subnets: Vec<String>,
    pub security_groups: Vec<String>,
    pub instances: Vec<String>,
    pub volumes: Vec<String>,
    pub amis: Vec<String>,
    pub kms_keys: Vec<String>,
    pub route_tables: Vec<String>,
    pub network_acls: Vec<String>,
    pub igw: String,
    /// The S3 gateway endpoint of the VPC.
    pub vpce: String,
}

#[derive(Debug, Clone)]
pub(crate) struct Account {
    pub id: String,
    pub alias: &'static str,
    pub regions: Vec<&'static str>,
    /// Delivered in the organisation-trail layout (`AWSLogs/o-…/ACCOUNT/…`).
    pub org: bool,
    pub trail_name: String,
    pub trail_bucket: String,
    pub volume: f64,
    pub buckets: Vec<Bucket>,
    pub res: Vec<RegionRes>,
    pub functions: Vec<(String, usize)>,
    pub tables: Vec<String>,
    pub log_groups: Vec<String>,
    pub parameters: Vec<String>,
    pub secrets: Vec<String>,
    pub managed_policies: Vec<String>,
    pub roles: Vec<String>,
    pub principals: Vec<Principal>,
}

impl Account {
    /// The S3 key prefix under `OUT/` for this account (`AWSLogs/[o-…/]ACCOUNT`).
    pub(crate) fn prefix(&self) -> String {
        if self.org {
            format!("AWSLogs/{ORG_ID}/{}", self.id)
        } else {
            format!("AWSLogs/{}", self.id)
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct World {
    pub accounts: Vec<Account>,
}

impl World {
    pub(crate) fn build<R: Rng>(rng: &mut R) -> World {
        let n_accounts = if rng.random_bool(0.5) { 3 } else { 4 };
        let org_index = n_accounts - 1;
        let mut people: Vec<&'static str> = PEOPLE.to_vec();
        rand::seq::SliceRandom::shuffle(people.as_mut_slice(), rng);
        let mut people_iter = people.into_iter().cycle();
        let mut accounts = Vec::with_capacity(n_accounts);
        for a in 0..n_accounts {
            let id = ACCOUNT_IDS[a].to_string();
            let n_regions = match a {
                0 => rng.random_range(3..=4),
                _ => rng.random_range(2..=3),
            };
            let mut others = OTHER_REGIONS.to_vec();
            rand::seq::SliceRandom::shuffle(others.as_mut_slice(), rng);
            let mut regions = vec!["us-east-1"];
            regions.extend(others.into_iter().take(n_regions - 1));
            let size = ACCOUNT_SIZE[a];
            let org = a == org_index;
            let trail_name = if org {
                "org-trail".to_string()
            } else {
                "management-events".to_string()
            };
            let trail_bucket = if org {
                format!("{ORG_ID}-cloudtrail-logs")
            } else {
                format!("aws-cloudtrail-logs-{id}-{}", ids::hex(rng, 8))
            };
            let res = regions
                .iter()
                .enumerate()
                .map(|(ri, _)| region_res(rng, size, ri == 0))
                .collect();
            let mut purposes = BUCKET_PURPOSES.to_vec();
            rand::seq::SliceRandom::shuffle(purposes.as_mut_slice(), rng);
            let n_buckets = 3 + (size * 4.0) as usize;
            let buckets: Vec<Bucket> = purposes
                .into_iter()
                .take(n_buckets)
                .map(|p| Bucket {
                    name: format!("{}-{p}-{}", ACCOUNT_ALIASES[a], &id[8..]),
                    region: if rng.random_bool(0.7) {
                        0
                    } else {
                        rng.random_range(0..n_regions)
                    },
                })
                .collect();
            let mut buckets: Vec<Bucket> = buckets;
            for (ri, region) in regions.iter().enumerate() {
                if !buckets.iter().any(|b| b.region == ri) {
                    buckets.push(Bucket {
                        name: format!("{}-{region}-regional-{}", ACCOUNT_ALIASES[a], &id[8..]),
                        region: ri,
                    });
                }
            }
            let mut fnames = LAMBDA_FUNCTIONS.to_vec();
            rand::seq::SliceRandom::shuffle(fnames.as_mut_slice(), rng);
            let n_functions = 2 + (size * 6.0) as usize;
            let functions = fnames
                .into_iter()
                .take(n_functions)
                .map(|f| {
                    let r = if rng.random_bool(0.75) {
                        0
                    } else {
                        rng.random_range(0..n_regions)
                    };
                    (f.to_string(), r)
                })
                .collect();
            let env = ACCOUNT_ALIASES[a].trim_start_matches("example-");
            let tables = ["orders", "sessions", "customers", "feature-flags"]
                .iter()
                .map(|t| format!("{env}-{t}"))
                .collect();
            let log_groups = vec![
                "/aws/lambda/orders-processor".to_string(),
                format!("/{env}/app/web"),
                format!("/{env}/app/worker"),
                "/aws/eks/main/cluster".to_string(),
                "/var/log/messages".to_string(),
            ];
            let parameters = vec![
                format!("/{env}/app/db-host"),
                format!("/{env}/app/feature-flags"),
                format!("/{env}/app/log-level"),
                "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64".to_string(),
            ];
            let secrets = vec![
                format!(
                    "arn:aws:secretsmanager:us-east-1:{id}:secret:{env}/db/app-{}",
                    ids::alnum(rng, 6)
                ),
                format!(
                    "arn:aws:secretsmanager:us-east-1:{id}:secret:{env}/stripe-api-key-{}",
                    ids::alnum(rng, 6)
                ),
            ];
            let managed_policies = vec![
                format!("arn:aws:iam::{id}:policy/app-s3-read"),
                format!("arn:aws:iam::{id}:policy/ci-deploy"),
                format!("arn:aws:iam::{id}:policy/kms-app-use"),
                "arn:aws:iam::aws:policy/ReadOnlyAccess".to_string(),
            ];
            let roles = vec![
                "app-server-role".to_string(),
                "github-actions-deploy".to_string(),
                "terraform-ci".to_string(),
                "cross-account-readonly".to_string(),
                "orders-processor-role".to_string(),
                "OrganizationAccountAccessRole".to_string(),
            ];
            accounts.push(Account {
                id,
                alias: ACCOUNT_ALIASES[a],
                regions,
                org,
                trail_name,
                trail_bucket,
                volume: ACCOUNT_VOLUME[a],
                buckets,
                res,
                functions,
                tables,
                log_groups,
                parameters,
                secrets,
                managed_policies,
                roles,
                principals: Vec::new(),
            });
        }
        let account_ids: Vec<String> = accounts.iter().map(|a| a.id.clone()).collect();
        for (a, account) in accounts.iter_mut().enumerate() {
            account.principals = principals_for(rng, a, account, &account_ids, &mut people_iter);
        }
        World { accounts }
    }
}

fn region_res<R: Rng>(rng: &mut R, size: f64, home: bool) -> RegionRes {
    let scale = if home { 1.0 } else { 0.4 };
    let n_inst = 2 + (size * scale * 12.0) as usize;
    RegionRes {
        vpc: format!("vpc-0{}", ids::hex(rng, 16)),
        subnets: (0..3)
            .map(|_| format!("subnet-0{}", ids::hex(rng, 16)))
            .collect(),
        security_groups: (0..4)
            .map(|_| format!("sg-0{}", ids::hex(rng, 16)))
            .collect(),
        instances: (0..n_inst)
            .map(|_| format!("i-0{}", ids::hex(rng, 16)))
            .collect(),
        volumes: (0..n_inst)
            .map(|_| format!("vol-0{}", ids::hex(rng, 16)))
            .collect(),
        amis: (0..3)
            .map(|_| format!("ami-0{}", ids::hex(rng, 16)))
            .collect(),
        kms_keys: (0..2).map(|_| ids::uuid(rng)).collect(),
        route_tables: (0..2)
            .map(|_| format!("rtb-0{}", ids::hex(rng, 16)))
            .collect(),
        network_acls: (0..2)
            .map(|_| format!("acl-0{}", ids::hex(rng, 16)))
            .collect(),
        igw: format!("igw-0{}", ids::hex(rng, 16)),
        vpce: format!("vpce-0{}", ids::hex(rng, 16)),
    }
}

/// A person's address: from their home site.
fn human_ip<R: Rng>(rng: &mut R, home: &GeoSite) -> String {
    site_ip(rng, home)
}

/// A cloud egress address of `site`.
fn pool_ip<R: Rng>(rng: &mut R, site: &GeoSite) -> String {
    site_ip(rng, site)
}

pub(crate) fn cli_agent<R: Rng>(rng: &mut R) -> String {
    let os = CLI_OS
        .choose(rng)
        .copied()
        .unwrap_or("Darwin/23.3.0 exe/x86_64");
    format!(
        "aws-cli/2.15.{} Python/3.11.{} {os} prompt/off",
        rng.random_range(10..31u32),
        rng.random_range(6..9u32)
    )
}

/// Defaults for a new principal; callers fill in the kind-specific parts.
pub(crate) fn base(kind: Kind, profile: Profile, key: u64) -> Principal {
    Principal {
        kind,
        profile,
        key,
        name: String::new(),
        session: String::new(),
        principal_id: String::new(),
        arn: String::new(),
        role_path: "",
        issuer_id: String::new(),
        access_key: String::new(),
        ips: Vec::new(),
        agents: Vec::new(),
        browser: BROWSERS[0],
        invoked_by: None,
        region: None,
        activity: 1.0,
        human: false,
        tls13: true,
        extra: String::new(),
    }
}

#[allow(clippy::too_many_arguments)]
fn role<R: Rng>(
    rng: &mut R,
    profile: Profile,
    acct: &str,
    role_path: &'static str,
    role_name: &str,
    session: &str,
    activity: f64,
) -> Principal {
    let mut p = base(Kind::Role, profile, rng.random());
    p.name = role_name.to_string();
    p.session = session.to_string();
    p.issuer_id = ids::aws_id(rng, "AROA");
    p.principal_id = format!("{}:{session}", p.issuer_id);
    p.arn = format!("arn:aws:sts::{acct}:assumed-role/{role_name}/{session}");
    p.role_path = role_path;
    p.activity = activity;
    p.tls13 = rng.random_bool(0.85);
    p
}

fn principals_for<R: Rng, I: Iterator<Item = &'static str>>(
    rng: &mut R,
    a: usize,
    account: &Account,
    account_ids: &[String],
    people: &mut I,
) -> Vec<Principal> {
    let acct = account.id.as_str();
    let size = ACCOUNT_SIZE.get(a).copied().unwrap_or(0.5);
    let n_regions = account.regions.len();
    let mut out = Vec::new();
    let mut people_here: Vec<(&'static str, String, &'static str)> = Vec::new();

    // People with IAM users (console + CLI).
    let n_users = 4 + (size * 9.0) as usize;
    for _ in 0..n_users {
        let person = people.next().unwrap_or("alice");
        let mut p = base(Kind::IamUser, Profile::Human, rng.random());
        p.name = person.to_string();
        p.issuer_id = ids::aws_id(rng, "AIDA");
        p.principal_id = p.issuer_id.clone();
        p.arn = format!("arn:aws:iam::{acct}:user/{person}");
        p.access_key = format!("AKIA{}", ids::upper_alnum(rng, 16));
        let home = home_site(rng);
        p.ips.push(human_ip(rng, home));
        if rng.random_bool(0.35) {
            p.ips.push(human_ip(rng, home));
        }
        p.agents.push(cli_agent(rng));
        p.browser = BROWSERS.choose(rng).copied().unwrap_or(BROWSERS[0]);
        p.activity = rng.random_range(1.0..4.0);
        p.human = true;
        p.tls13 = rng.random_bool(0.9);
        people_here.push((person, p.ips[0].clone(), p.browser));
        out.push(p);
    }

    // The root user: rare console sign-ins by the account owner.
    {
        let mut p = base(Kind::Root, Profile::Root, rng.random());
        p.principal_id = acct.to_string();
        p.arn = format!("arn:aws:iam::{acct}:root");
        p.ips.push(
            people_here
                .first()
                .map(|x| x.1.clone())
                .unwrap_or_else(|| human_ip(rng, site("us-san-francisco"))),
        );
        p.agents.push("AWS Internal".to_string());
        p.browser = people_here.first().map(|x| x.2).unwrap_or(BROWSERS[0]);
        p.activity = 0.002;
        p.human = true;
        out.push(p);
    }

    // A machine user with long-term keys (reporting job).
    {
        let mut p = base(Kind::IamUser, Profile::MachineUser, rng.random());
        p.name = "svc-reporting".to_string();
        p.issuer_id = ids::aws_id(rng, "AIDA");
        p.principal_id = p.issuer_id.clone();
        p.arn = format!("arn:aws:iam::{acct}:user/service/svc-reporting");
        p.access_key = format!("AKIA{}", ids::upper_alnum(rng, 16));
        p.ips.push(pool_ip(rng, region_site("us-east-1")));
        p.agents.push(REPORTING_UA.to_string());
        p.activity = 2.0;
        out.push(p);
    }

    // CI roles.
    let runner_ips: Vec<String> = (0..6).map(|_| pool_ip(rng, site("azure-us"))).collect();
    {
        let mut p = role(
            rng,
            Profile::Ci,
            acct,
            "",
            "github-actions-deploy",
            "GitHubActions",
            5.0,
        );
        p.ips = runner_ips.clone();
        p.agents = vec![GITHUB_DEPLOY_UA.to_string(), GITHUB_ACTIONS_UA.to_string()];
        out.push(p);
        let mut p = role(
            rng,
            Profile::Ci,
            acct,
            "",
            "terraform-ci",
            "terraform-plan",
            4.0 * size + 1.0,
        );
        p.ips = runner_ips.clone();
        p.agents = vec![TERRAFORM_UA.to_string()];
        out.push(p);
    }

    // EC2 instance roles: one principal per instance (session name = instance id).
    for (ri, region) in account.regions.iter().enumerate() {
        let n = account.res[ri]
            .instances
            .len()
            .min(2 + (size * 8.0) as usize);
        for inst in account.res[ri].instances.iter().take(n) {
            let role_name = instance_role_name(
                INSTANCE_ROLES
                    .choose(rng)
                    .copied()
                    .unwrap_or("app-server-role"),
                region,
                ri == 0,
            );
            let activity = rng.random_range(3.0..8.0);
            let mut p = role(rng, Profile::Ec2, acct, "", &role_name, inst, activity);
            p.region = Some(ri);
            p.ips.push(pool_ip(rng, region_site(region)));
            p.agents = vec![
                SSM_AGENT_UA.to_string(),
                JAVA_APP_UA.to_string(),
                BOTO_EC2_UA.to_string(),
            ];
            p.extra = inst.clone();
            out.push(p);
        }
    }

    // IAM Identity Center permission-set sessions of people (email session names).
    let n_sso = 2 + (size * 5.0) as usize;
    for _ in 0..n_sso {
        let person = people.next().unwrap_or("bob");
        let set = SSO_PERMISSION_SETS
            .choose(rng)
            .copied()
            .unwrap_or("ReadOnlyAccess");
        let role_name = format!("AWSReservedSSO_{set}_{}", ids::hex(rng, 16));
        let email = format!("{person}@example.com");
        let activity = rng.random_range(1.5..4.0);
        let mut p = role(
            rng,
            Profile::Sso,
            acct,
            "aws-reserved/sso.amazonaws.com/",
            &role_name,
            &email,
            activity,
        );
        let home = home_site(rng);
        p.ips.push(human_ip(rng, home));
        p.agents.push(cli_agent(rng));
        p.browser = BROWSERS.choose(rng).copied().unwrap_or(BROWSERS[0]);
        p.human = true;
        out.push(p);
    }

    // Lambda execution roles (session name = function name).
    for (fname, ri) in &account.functions {
        let role_name = format!("{fname}-role");
        let activity = rng.random_range(2.0..7.0);
        let mut p = role(
            rng,
            Profile::Lambda,
            acct,
            "service-role/",
            &role_name,
            fname,
            activity,
        );
        p.region = Some(*ri);
        let region = account.regions.get(*ri).copied().unwrap_or("us-east-1");
        p.ips = (0..4).map(|_| pool_ip(rng, region_site(region))).collect();
        p.agents = vec![if rng.random_bool(0.5) {
            LAMBDA_PY_UA
        } else {
            LAMBDA_NODE_UA
        }
        .to_string()];
        out.push(p);
    }

    // Service-linked roles acting through their service.
    for (service, role_name, session, profile, activity) in [
        (
            "config.amazonaws.com",
            "AWSServiceRoleForConfig",
            "AWSConfig-Describe",
            Profile::ConfigRecorder,
            6.0,
        ),
        (
            "autoscaling.amazonaws.com",
            "AWSServiceRoleForAutoScaling",
            "AutoScaling",
            Profile::AutoScaling,
            2.0,
        ),
    ] {
        let path: &'static str = match service {
            "config.amazonaws.com" => "aws-service-role/config.amazonaws.com/",
            _ => "aws-service-role/autoscaling.amazonaws.com/",
        };
        let mut p = role(
            rng,
            profile,
            acct,
            path,
            role_name,
            session,
            activity * (0.5 + size),
        );
        p.invoked_by = Some(service);
        p.ips.push(service.to_string());
        p.agents.push(service.to_string());
        out.push(p);
    }

    // AWS services assuming roles in the account.
    for service in [
        "ec2.amazonaws.com",
        "lambda.amazonaws.com",
        "ecs-tasks.amazonaws.com",
        "cloudformation.amazonaws.com",
    ] {
        let mut p = base(Kind::AwsService, Profile::AwsService, rng.random());
        p.invoked_by = Some(service);
        p.ips.push(service.to_string());
        p.agents.push(service.to_string());
        p.activity = 1.5;
        out.push(p);
    }

    // Federation broker + federated users (production only).
    if a == 0 {
        let mut broker = base(Kind::IamUser, Profile::Broker, rng.random());
        broker.name = "federation-broker".to_string();
        broker.issuer_id = ids::aws_id(rng, "AIDA");
        broker.principal_id = broker.issuer_id.clone();
        broker.arn = format!("arn:aws:iam::{acct}:user/federation-broker");
        broker.access_key = format!("AKIA{}", ids::upper_alnum(rng, 16));
        broker.ips.push(pool_ip(rng, region_site("us-east-1")));
        broker.agents.push(JAVA_APP_UA.to_string());
        broker.activity = 0.6;
        broker.region = Some(0);
        for partner in ["partner-acme", "partner-globex"] {
            let mut p = base(Kind::Federated, Profile::Federated, rng.random());
            p.name = partner.to_string();
            p.principal_id = format!("{acct}:{partner}");
            p.arn = format!("arn:aws:sts::{acct}:federated-user/{partner}");
            p.issuer_id = broker.issuer_id.clone();
            p.extra = broker.arn.clone();
            let home = home_site(rng);
            p.ips.push(human_ip(rng, home));
            p.agents.push(JAVA_APP_UA.to_string());
            p.activity = 1.0;
            out.push(p);
        }
        out.push(broker);
    }

    // SAML and web identity federation (production and staging).
    if a <= 1 {
        let qualifier = format!("{}=", ids::alnum(rng, 27));
        for _ in 0..2 {
            let person = people.next().unwrap_or("carol");
            let mut p = base(Kind::Saml, Profile::Saml, rng.random());
            p.name = format!("{person}@example.com");
            p.principal_id = format!("{qualifier}:{person}@example.com");
            p.extra = qualifier.clone();
            let home = home_site(rng);
            p.ips.push(human_ip(rng, home));
            p.agents.push(
                BROWSERS
                    .choose(rng)
                    .copied()
                    .unwrap_or(BROWSERS[0])
                    .to_string(),
            );
            p.activity = 0.3;
            p.human = true;
            p.region = Some(0);
            out.push(p);
        }
        for repo in ["example-org/web-app", "example-org/infrastructure"] {
            let mut p = base(Kind::WebIdentity, Profile::WebIdentity, rng.random());
            let sub = format!("repo:{repo}:ref:refs/heads/main");
            p.name = sub.clone();
            p.principal_id = format!(
                "arn:aws:iam::{acct}:oidc-provider/token.actions.githubusercontent.com:sts.amazonaws.com:{sub}"
            );
            p.extra =
                format!("arn:aws:iam::{acct}:oidc-provider/token.actions.githubusercontent.com");
            p.ips = runner_ips.clone();
            p.agents.push(GITHUB_ACTIONS_UA.to_string());
            p.activity = 0.8;
            p.region = Some(0);
            out.push(p);
        }
    }

    // Cross-account callers (another account of the organisation, and a vendor).
    {
        let other = account_ids
            .iter()
            .find(|x| x.as_str() != acct)
            .cloned()
            .unwrap_or_else(|| VENDOR_ACCOUNT.to_string());
        for (caller_account, session, agent, egress) in [
            (
                other,
                "ci-cross-account",
                TERRAFORM_UA,
                region_site("us-east-1"),
            ),
            (
                VENDOR_ACCOUNT.to_string(),
                "vendor-scanner",
                VENDOR_UA,
                region_site("eu-west-3"),
            ),
        ] {
            let mut p = base(Kind::CrossAccount, Profile::CrossAccount, rng.random());
            p.issuer_id = ids::aws_id(rng, "AROA");
            p.principal_id = format!("{}:{session}", p.issuer_id);
            p.session = session.to_string();
            p.extra = caller_account;
            p.ips.push(pool_ip(rng, egress));
            p.agents.push(agent.to_string());
            p.activity = 0.8;
            out.push(p);
        }
    }

    // Identity Center users of the access portal (management account only).
    if a == 0 {
        let store = format!("d-90{}", ids::hex(rng, 8));
        for _ in 0..3 {
            let person = people.next().unwrap_or("dave");
            let mut p = base(Kind::IdentityCenter, Profile::IdentityCenter, rng.random());
            p.name = format!("{person}@example.com");
            p.principal_id = ids::uuid(rng);
            p.extra = format!("arn:aws:identitystore::{acct}:identitystore/{store}");
            let home = home_site(rng);
            p.ips.push(human_ip(rng, home));
            p.browser = BROWSERS.choose(rng).copied().unwrap_or(BROWSERS[0]);
            p.agents.push(p.browser.to_string());
            p.activity = 0.4;
            p.human = true;
            p.region = Some(0);
            out.push(p);
        }
    }

    let _ = n_regions;
    out
}

/// The caller's credential session: when it started and which temporary key it used.
/// Derived from the principal's key and the event time, so the same session is seen with
/// the same values everywhere without keeping state.
pub(crate) fn session_of(p: &Principal, t: i64) -> (i64, u64) {
    let period: i64 = match (p.kind, p.profile) {
        (Kind::Role, Profile::Ec2) => 6 * 3600,
        (Kind::Role, Profile::Lambda) => 4 * 3600,
        (Kind::Role, Profile::Sso) => 8 * 3600,
        (Kind::Federated, _) | (Kind::IamUser, _) => 12 * 3600,
        _ => 3600,
    };
    let phase = (p.key % period as u64) as i64;
    let offset = (t + phase).rem_euclid(period);
    let index = (t + phase).div_euclid(period) as u64;
    (
        t - offset,
        p.key ^ index.wrapping_mul(0x9e37_79b9_7f4a_7c15),
    )
}

/// The IAM action prefix of an event source (`ec2.amazonaws.com` → `ec2`).
pub(crate) fn action_prefix(source: &str) -> &str {
    match source {
        "monitoring.amazonaws.com" => "cloudwatch",
        s => s.split('.').next().unwrap_or(s),
    }
}

/// Picks a weighted index from a cumulative table; `None` when the table is empty.
pub(crate) fn pick_cumulative<R: Rng>(rng: &mut R, cum: &[f64]) -> Option<usize> {
    let total = *cum.last()?;
    if total <= 0.0 {
        return None;
    }
    let x = rng.random::<f64>() * total;
    let i = cum.partition_point(|&c| c <= x);
    Some(i.min(cum.len() - 1))
}
