//! Injected scenarios for the anomaly detections of `trailwarden-anomaly`: for each of the
//! eleven, positives and near misses, played by dedicated principals of the first account after
//! a learning period.
//!
//! Every scenario principal (except the one that is still learning) acts from day 0: a few
//! reads a day from its home addresses, plus whatever its baseline must hold (a second
//! country, a VPN address, routine deletions, admin actions…). Its baseline is mature on day 7
//! (the engine's default `learning_days`); the scenarios play on days 8 and 9, so a trail with
//! these scenarios spans at least [`crate::ANOMALY_SPAN_DAYS`] days. Times are fixed (seconds
//! after the trail's start) and these events are never delivered late, so with CloudTrail's
//! 5-minute objects the engine sees them in event-time order and the manifest can say exactly
//! which event triggers which alert.
//!
//! Every event goes to the manifest with `detection` (what the scenario is about), `anomaly`
//! (the detections that must raise an alert whose trigger — the last of its `event_ids` — is
//! this event; empty for everything else) and `principal`. `expect` lists the built-in
//! policies the event fires (only failed sign-ins fire one: `console-signin-failures`).
//!
//! The scenarios take the defaults of `docs/anomaly.md`: learning 7 days, travel at more than
//! 1000 km/h over more than 500 km, 60 s grace, failed logins 10 in 30 minutes and 3× the usual
//! peak, spraying 10 user names in an hour, admin writes 30 in an hour and 5× the usual peak,
//! 100 objects, 10 instances terminated and 20 launched in an hour (3× the usual peak).

use rand::seq::IndexedRandom;
use rand::Rng;
use serde_json::{json, Value};

use crate::catalog::Profile;
use crate::geo::{site, site_ipv4, GeoSite};
use crate::ids;
use crate::record::{Channel, RequestId};
use crate::scenarios::{AnomalyExpect, ScenarioEvent};
use crate::timefmt::{self, TRAIL_START};
use crate::world::{base, cli_agent, Kind, Principal, World, BROWSERS};

const M: i64 = 60;
const H: i64 = 3600;
const D: i64 = 86_400;
/// The scenarios play on days 8 and 9 (baselines mature on day 7).
const D8: i64 = 8 * D;
const D9: i64 = 9 * D;
/// Days of history every scenario principal has before the scenarios.
const HISTORY_DAYS: i64 = 8;

/// The range of the `anonymous` IP list the generator writes (Tor exits, VPN and hosting
/// ranges, in a real deployment); only anomaly scenarios call from it. A documentation range:
/// no geo database locates it, so it raises nothing but `anonymous-ip`.
pub const ANONYMOUS_CIDR: &str = "198.51.100.0/25";
/// The range of the `suspicious` (threat-intelligence) IP list the generator writes.
pub const SUSPICIOUS_CIDR: &str = "192.0.2.0/26";
/// When `vera`, listed in the terminated-users file, was off-boarded.
const VERA_SINCE: i64 = D8 + 12 * H;
/// The account whose `xena` the terminated-users file lists (not the scenarios' account).
const XENA_ACCOUNT: &str = "444455556666";

const ANONYMOUS_IP: &str = "anonymous-ip";
const SUSPICIOUS_IP: &str = "suspicious-ip";
const INFREQUENT_COUNTRY: &str = "infrequent-country";
const IMPOSSIBLE_TRAVEL: &str = "impossible-travel";
const TERMINATED_USER: &str = "terminated-user";
const FAILED_LOGINS: &str = "failed-logins";
const UNUSUAL_ADMIN: &str = "unusual-admin-activity";
const MASS_STORAGE: &str = "mass-storage-deletion";
const MASS_VM_DELETION: &str = "mass-vm-deletion";
const MASS_VM_CREATION: &str = "mass-vm-creation";
const UNUSUAL_REGION: &str = "unusual-region";
const CONSOLE_SIGNIN_FAILURES: &str = "console-signin-failures";

/// Regions no account of the generated organisation uses.
const UNUSED_REGION: &str = "ap-south-1";
const UNUSED_REGION_2: &str = "sa-east-1";

/// The anomaly detection ids, in the engine's order.
pub const ANOMALY_DETECTIONS: [&str; 11] = [
    ANONYMOUS_IP,
    SUSPICIOUS_IP,
    INFREQUENT_COUNTRY,
    IMPOSSIBLE_TRAVEL,
    TERMINATED_USER,
    FAILED_LOGINS,
    UNUSUAL_ADMIN,
    MASS_STORAGE,
    MASS_VM_DELETION,
    MASS_VM_CREATION,
    UNUSUAL_REGION,
];

/// The `anonymous-ips.txt` file.
pub(crate) fn anonymous_list() -> String {
    format!(
        "# trailwarden gen: anonymising addresses (Tor exits, VPN and hosting ranges) for the\n# anonymous-ip detection (--ip-list anonymous=FILE). Only the anomaly scenarios use them.\n{ANONYMOUS_CIDR}\n"
    )
}

/// The `suspicious-ips.txt` file.
pub(crate) fn suspicious_list() -> String {
    format!(
        "# trailwarden gen: threat-intelligence addresses for the suspicious-ip detection\n# (--ip-list suspicious=FILE). Only the anomaly scenarios use them.\n{SUSPICIOUS_CIDR}\n"
    )
}

/// The `terminated-users.txt` file.
pub(crate) fn terminated_users() -> String {
    format!(
        "# trailwarden gen: off-boarded users for the terminated-user detection (--terminated-users FILE)\nvera,{}\narn:aws:iam::{XENA_ACCOUNT}:user/xena\n",
        timefmt::iso(TRAIL_START + VERA_SINCE)
    )
}

/// Extra regions the scenarios act in (each needs a delivery stream of its own).
pub(crate) fn extra_regions(world: &World) -> Vec<(usize, &'static str)> {
    let used = |r: &str| world.accounts.iter().any(|a| a.regions.contains(&r));
    [UNUSED_REGION, UNUSED_REGION_2]
        .into_iter()
        .filter(|r| !used(r))
        .map(|r| (0, r))
        .collect()
}

struct Builder<'w, R> {
    world: &'w World,
    rng: &'w mut R,
    out: Vec<ScenarioEvent>,
    acct: String,
    /// Users whose reads are console calls (a console session, `ASIA…` keys).
    console_users: Vec<String>,
}

/// The anomaly scenario events, in no particular order (times are fixed).
pub(crate) fn build<R: Rng>(world: &World, rng: &mut R) -> Vec<ScenarioEvent> {
    let acct = world
        .accounts
        .first()
        .map(|a| a.id.clone())
        .unwrap_or_default();
    let mut b = Builder {
        world,
        rng,
        out: Vec::new(),
        acct,
        console_users: Vec::new(),
    };
    b.ip_lists();
    b.infrequent_country();
    b.impossible_travel();
    b.terminated_user();
    b.failed_logins();
    b.unusual_admin();
    b.mass_storage();
    b.mass_vm();
    b.unusual_region();
    b.out
}

/// A scenario's identity: its name and the detection it is about.
#[derive(Clone, Copy)]
struct Sc {
    name: &'static str,
    detection: &'static str,
}

const fn sc(name: &'static str, detection: &'static str) -> Sc {
    Sc { name, detection }
}

impl<R: Rng> Builder<'_, R> {
    // ------------------------------------------------------------------ principals

    /// A person with an IAM user, calling from `n_ips` addresses of `home` (distinct /24s).
    fn user(&mut self, name: &str, home: &'static GeoSite, n_ips: usize) -> Principal {
        let mut p = base(Kind::IamUser, Profile::Human, self.rng.random());
        p.name = name.to_string();
        p.issuer_id = ids::aws_id(self.rng, "AIDA");
        p.principal_id = p.issuer_id.clone();
        p.arn = format!("arn:aws:iam::{}:user/{name}", self.acct);
        p.access_key = format!("AKIA{}", ids::upper_alnum(self.rng, 16));
        for i in 0..n_ips.max(1) {
            p.ips.push(site_ipv4(self.rng, home, i));
        }
        p.agents.push(cli_agent(self.rng));
        p.browser = BROWSERS.choose(self.rng).copied().unwrap_or(BROWSERS[0]);
        p.human = true;
        p
    }

    /// A machine role session (principal key `ACCOUNT:role/ROLE`) calling from AWS us-east-1.
    fn machine_role(&mut self, role: &str, session: &str) -> Principal {
        let mut p = base(Kind::Role, Profile::Ci, self.rng.random());
        p.name = role.to_string();
        p.session = session.to_string();
        p.issuer_id = ids::aws_id(self.rng, "AROA");
        p.principal_id = format!("{}:{session}", p.issuer_id);
        p.arn = format!("arn:aws:sts::{}:assumed-role/{role}/{session}", self.acct);
        p.ips.push(site_ipv4(self.rng, site("aws-us-east-1"), 0));
        p.agents.push(
            "Boto3/1.34.49 md/Botocore#1.34.49 ua/2.0 os/linux#6.1.77 lang/python#3.11.6"
                .to_string(),
        );
        p
    }

    /// The principal key trailwarden derives for `p` (`docs/principal-key.md`).
    fn key(&self, p: &Principal) -> String {
        match p.kind {
            Kind::Role => format!("{}:role/{}", self.acct, p.name),
            _ => format!("{}:user/{}", self.acct, p.name),
        }
    }

    /// An address of `site` (IPv4, the `index`-th prefix).
    fn ip(&mut self, s: &str, index: usize) -> String {
        site_ipv4(self.rng, site(s), index)
    }

    // ------------------------------------------------------------------ events

    /// An API call by `p` at `at` from `ip`, of the first account in us-east-1.
    #[allow(clippy::too_many_arguments)]
    fn ev(
        &mut self,
        s: Sc,
        alerts: &[&'static str],
        p: &Principal,
        at: i64,
        ip: &str,
        source: &'static str,
        name: &'static str,
    ) -> ScenarioEvent {
        let mut alerts = alerts.to_vec();
        alerts.sort_unstable();
        ScenarioEvent {
            scenario: s.name,
            expect: Vec::new(),
            account: 0,
            region_index: 0,
            group: 0,
            offset: 0,
            time: 0,
            principal: p.clone(),
            channel: Channel::Programmatic,
            source,
            name,
            ip: ip.to_string(),
            agent: p.agents.first().cloned().unwrap_or_default(),
            read_only: false,
            event_type: "AwsApiCall",
            req: None,
            resp: None,
            add: None,
            resources: None,
            error_code: None,
            error_message: None,
            host: None,
            request_id: RequestId::Uuid,
            at: Some(at),
            region: None,
            data: false,
            anomaly: Some(Box::new(AnomalyExpect {
                detection: s.detection,
                alerts,
                principal: self.key(p),
            })),
        }
    }

    /// A read (three kinds, in turn).
    fn read(&mut self, s: Sc, alerts: &[&'static str], p: &Principal, at: i64, ip: &str) {
        let kind = at.div_euclid(M).rem_euclid(3);
        let mut e = match kind {
            0 => {
                let mut e = self.ev(
                    s,
                    alerts,
                    p,
                    at,
                    ip,
                    "ec2.amazonaws.com",
                    "DescribeInstances",
                );
                e.req = Some(json!({"instancesSet": {}, "filterSet": {}}));
                e
            }
            1 => {
                let mut e = self.ev(s, alerts, p, at, ip, "s3.amazonaws.com", "ListBuckets");
                e.req = Some(json!({"Host": "s3.amazonaws.com"}));
                e.request_id = RequestId::S3;
                e
            }
            _ => {
                let mut e = self.ev(
                    s,
                    alerts,
                    p,
                    at,
                    ip,
                    "sts.amazonaws.com",
                    "GetCallerIdentity",
                );
                e.resp = Some(json!({
                    "userId": p.principal_id, "account": self.acct, "arn": p.arn
                }));
                e
            }
        };
        e.read_only = true;
        if self.console_users.contains(&p.name) {
            e.channel = Channel::Console;
            e.agent = "AWS Internal".to_string();
        }
        self.out.push(e);
    }

    /// `days` of history: three reads a day (morning, early and late afternoon) from the
    /// principal's addresses in turn.
    fn history(&mut self, s: Sc, p: &Principal, days: std::ops::Range<i64>) {
        for d in days {
            for (k, hour) in [9, 13, 16].into_iter().enumerate() {
                let at = d * D + hour * H + self.rng.random_range(0..40 * M);
                let ip = p.ips[(d as usize + k) % p.ips.len()].clone();
                self.read(s, &[], p, at, &ip);
            }
        }
    }

    /// A failed console sign-in (fires the `console-signin-failures` policy too).
    fn login_failure(&mut self, s: Sc, alerts: &[&'static str], p: &Principal, at: i64, ip: &str) {
        let mut e = self.ev(s, alerts, p, at, ip, "signin.amazonaws.com", "ConsoleLogin");
        e.expect = vec![CONSOLE_SIGNIN_FAILURES];
        e.channel = Channel::SignIn;
        e.event_type = "AwsConsoleSignIn";
        e.request_id = RequestId::None;
        e.agent = p.browser.to_string();
        let state = ids::hex(self.rng, 16);
        e.add = Some(json!({
            "LoginTo": format!("https://console.aws.amazon.com/console/home?hashArgs=%23&isauthcode=true&state=hashArgsFromTB_us-east-1_{state}"),
            "MobileVersion": "No",
            "MFAUsed": "No",
        }));
        e.resp = Some(json!({"ConsoleLogin": "Failure"}));
        e.error_message = Some("Failed authentication".to_string());
        self.out.push(e);
    }

    /// An IAM write.
    #[allow(clippy::too_many_arguments)]
    fn iam(
        &mut self,
        s: Sc,
        alerts: &[&'static str],
        p: &Principal,
        at: i64,
        name: &'static str,
        req: Value,
        resp: Option<Value>,
    ) {
        let ip = p.ips[0].clone();
        let mut e = self.ev(s, alerts, p, at, &ip, "iam.amazonaws.com", name);
        e.req = Some(req);
        e.resp = resp;
        self.out.push(e);
    }

    fn tag_role(&mut self, s: Sc, alerts: &[&'static str], p: &Principal, at: i64) {
        let role = ["app-server-role", "orders-processor-role", "terraform-ci"]
            .choose(self.rng)
            .copied()
            .unwrap_or("app-server-role");
        let value = ids::hex(self.rng, 6);
        self.iam(
            s,
            alerts,
            p,
            at,
            "TagRole",
            json!({"roleName": role, "tags": [{"key": "cost-center", "value": value}]}),
            None,
        );
    }

    fn create_access_key(&mut self, s: Sc, alerts: &[&'static str], p: &Principal, at: i64) {
        let key = format!("AKIA{}", ids::upper_alnum(self.rng, 16));
        let user = "svc-reporting";
        self.iam(
            s,
            alerts,
            p,
            at,
            "CreateAccessKey",
            json!({"userName": user}),
            Some(json!({"accessKey": {
                "userName": user, "accessKeyId": key, "status": "Active",
                "createDate": timefmt::java_date(TRAIL_START + at)
            }})),
        );
    }

    fn bucket(&self) -> String {
        self.world
            .accounts
            .first()
            .and_then(|a| a.buckets.iter().find(|b| b.region == 0))
            .map(|b| b.name.clone())
            .unwrap_or_else(|| "example-prod-backups-22223333".to_string())
    }

    /// `DeleteObjects` of `n` keys (or `DeleteObject` when `n` is 0: one object).
    fn delete_objects(&mut self, s: Sc, alerts: &[&'static str], p: &Principal, at: i64, n: usize) {
        let bucket = self.bucket();
        let host = format!("{bucket}.s3.us-east-1.amazonaws.com");
        let ip = p.ips[0].clone();
        let name = if n == 0 {
            "DeleteObject"
        } else {
            "DeleteObjects"
        };
        let mut e = self.ev(s, alerts, p, at, &ip, "s3.amazonaws.com", name);
        let prefix = format!("logs/2024/02/{:02}/", self.rng.random_range(1..=28u32));
        e.req = Some(if n == 0 {
            json!({"bucketName": bucket, "Host": host, "key": format!("{prefix}{}.json.gz", ids::hex(self.rng, 12))})
        } else {
            let objects: Vec<Value> = (0..n)
                .map(|_| json!({"key": format!("{prefix}{}.json.gz", ids::hex(self.rng, 12))}))
                .collect();
            json!({"bucketName": bucket, "Host": host, "delete": {
                "xmlns": "http://s3.amazonaws.com/doc/2006-03-01/", "object": objects, "quiet": "true"
            }})
        });
        e.request_id = RequestId::S3;
        e.host = Some(host);
        e.data = true;
        e.resources = Some(json!([{
            "accountId": self.acct, "type": "AWS::S3::Bucket", "ARN": format!("arn:aws:s3:::{bucket}")
        }]));
        self.out.push(e);
    }

    fn instance_ids(&mut self, n: usize) -> Vec<String> {
        (0..n)
            .map(|_| format!("i-0{}", ids::hex(self.rng, 16)))
            .collect()
    }

    /// `TerminateInstances` of `n` instances.
    fn terminate(&mut self, s: Sc, alerts: &[&'static str], p: &Principal, at: i64, n: usize) {
        let ip = p.ips[0].clone();
        let ids = self.instance_ids(n);
        let mut e = self.ev(
            s,
            alerts,
            p,
            at,
            &ip,
            "ec2.amazonaws.com",
            "TerminateInstances",
        );
        e.req = Some(
            json!({"instancesSet": {"items": ids.iter().map(|i| json!({"instanceId": i})).collect::<Vec<_>>()}}),
        );
        e.resp = Some(json!({"instancesSet": {"items": ids.iter().map(|i| json!({
            "instanceId": i,
            "currentState": {"code": 32, "name": "shutting-down"},
            "previousState": {"code": 16, "name": "running"}
        })).collect::<Vec<_>>()}}));
        self.out.push(e);
    }

    /// `RunInstances` launching `n` instances (the response lists them).
    fn run(&mut self, s: Sc, alerts: &[&'static str], p: &Principal, at: i64, n: usize) {
        let ip = p.ips[0].clone();
        let ids = self.instance_ids(n);
        let ami = format!("ami-0{}", ids::hex(self.rng, 16));
        let reservation = format!("r-0{}", ids::hex(self.rng, 16));
        let mut e = self.ev(s, alerts, p, at, &ip, "ec2.amazonaws.com", "RunInstances");
        e.req = Some(json!({
            "instancesSet": {"items": [{"imageId": ami, "minCount": n, "maxCount": n}]},
            "instanceType": "c5.2xlarge", "monitoring": {"enabled": false}, "disableApiTermination": false
        }));
        e.resp = Some(json!({
            "reservationId": reservation, "ownerId": self.acct,
            "instancesSet": {"items": ids.iter().enumerate().map(|(k, i)| json!({
                "instanceId": i, "imageId": ami, "amiLaunchIndex": k,
                "instanceState": {"code": 0, "name": "pending"}, "instanceType": "c5.2xlarge"
            })).collect::<Vec<_>>()}
        }));
        self.out.push(e);
    }

    /// `ImportKeyPair` in `region` (an account region index, or a region of its own).
    fn import_key_pair(
        &mut self,
        s: Sc,
        alerts: &[&'static str],
        p: &Principal,
        at: i64,
        region: Result<usize, &'static str>,
    ) {
        let ip = p.ips[0].clone();
        let key_name = format!("{}-{}", p.name, ids::hex(self.rng, 4));
        let mut e = self.ev(s, alerts, p, at, &ip, "ec2.amazonaws.com", "ImportKeyPair");
        match region {
            Ok(ri) => e.region_index = ri,
            Err(r) => e.region = Some(r),
        }
        e.req = Some(json!({"keyName": key_name, "publicKeyMaterial": "<sensitiveDataRemoved>"}));
        e.resp = Some(json!({
            "keyName": key_name,
            "keyFingerprint": format!("SHA256:{}", ids::alnum(self.rng, 43)),
            "keyPairId": format!("key-0{}", ids::hex(self.rng, 16))
        }));
        self.out.push(e);
    }

    // ------------------------------------------------------------------ the scenarios

    fn ip_lists(&mut self) {
        let anon = ANONYMOUS_CIDR.trim_end_matches("0/25");
        let intel = SUSPICIOUS_CIDR.trim_end_matches("0/26");

        let s = sc("anonymous-ip-tor-exit", ANONYMOUS_IP);
        let amara = self.user("amara", site("de-berlin"), 1);
        self.history(s, &amara, 0..HISTORY_DAYS);
        let tor = format!("{anon}23");
        self.read(s, &[ANONYMOUS_IP], &amara, D8 + 10 * H, &tor);
        // the same address again within the cooldown: one alert per (principal, address)
        self.read(s, &[], &amara, D8 + 10 * H + 20 * M, &tor);

        let s = sc("anonymous-ip-unlisted-neighbour", ANONYMOUS_IP);
        let bruno = self.user("bruno", site("gb-london"), 1);
        self.history(s, &bruno, 0..HISTORY_DAYS);
        self.read(s, &[], &bruno, D8 + 11 * H, &format!("{anon}150"));

        let s = sc("suspicious-ip-threat-intel", SUSPICIOUS_IP);
        let chloe = self.user("chloe", site("us-san-francisco"), 1);
        self.history(s, &chloe, 0..HISTORY_DAYS);
        self.read(
            s,
            &[SUSPICIOUS_IP],
            &chloe,
            D8 + 13 * H,
            &format!("{intel}10"),
        );

        let s = sc("suspicious-ip-unlisted-neighbour", SUSPICIOUS_IP);
        let dmitri = self.user("dmitri", site("us-seattle"), 1);
        self.history(s, &dmitri, 0..HISTORY_DAYS);
        self.read(
            s,
            &[],
            &dmitri,
            D8 + 13 * H + 30 * M,
            &format!("{intel}100"),
        );
    }

    fn infrequent_country(&mut self) {
        // A Berlin user turns up in Mumbai a day after her last Berlin activity (not travel).
        let s = sc("infrequent-country-new-country", INFREQUENT_COUNTRY);
        let elif = self.user("elif", site("de-berlin"), 2);
        self.history(s, &elif, 0..HISTORY_DAYS);
        let home = elif.ips[0].clone();
        self.read(s, &[], &elif, D8 + 9 * H, &home);
        let mumbai = self.ip("in-mumbai", 0);
        self.read(s, &[INFREQUENT_COUNTRY], &elif, D9 + 10 * H, &mumbai);
        self.read(s, &[], &elif, D9 + 10 * H + 30 * M, &mumbai);

        // Commutes between Paris and London: both countries are in the baseline.
        let s = sc(
            "infrequent-country-known-second-country",
            INFREQUENT_COUNTRY,
        );
        let mut felix = self.user("felix", site("fr-paris"), 1);
        felix.ips.push(self.ip("gb-london", 2));
        self.history(s, &felix, 0..HISTORY_DAYS);
        let (paris, london) = (felix.ips[0].clone(), felix.ips[1].clone());
        self.read(s, &[], &felix, D8 + 9 * H, &paris);
        self.read(s, &[], &felix, D8 + 18 * H, &london);

        // A new address in the home country.
        let s = sc(
            "infrequent-country-new-address-home-country",
            INFREQUENT_COUNTRY,
        );
        let gita = self.user("gita", site("gb-london"), 2);
        self.history(s, &gita, 0..HISTORY_DAYS);
        let new_home = self.ip("gb-london", 5);
        self.read(s, &[], &gita, D8 + 10 * H, &new_home);

        // First seen on day 8: a second country the next day, while still learning.
        let s = sc("infrequent-country-while-learning", INFREQUENT_COUNTRY);
        let hugo = self.user("hugo", site("ca-toronto"), 1);
        let toronto = hugo.ips[0].clone();
        self.read(s, &[], &hugo, D8 + 9 * H, &toronto);
        let seattle = self.ip("us-seattle", 3);
        self.read(s, &[], &hugo, D9 + 10 * H, &seattle);
    }

    fn impossible_travel(&mut self) {
        // London, then Tokyo an hour later: travel, and a new country.
        let s = sc("impossible-travel-london-tokyo", IMPOSSIBLE_TRAVEL);
        let isla = self.user("isla", site("gb-london"), 1);
        self.history(s, &isla, 0..HISTORY_DAYS);
        let london = isla.ips[0].clone();
        self.read(s, &[], &isla, D8 + 10 * H, &london);
        let tokyo = self.ip("jp-tokyo", 0);
        self.read(
            s,
            &[IMPOSSIBLE_TRAVEL, INFREQUENT_COUNTRY],
            &isla,
            D8 + 11 * H,
            &tokyo,
        );

        // Seattle, then San Francisco 30 minutes later (≈1,100 km): travel within one country.
        let s = sc("impossible-travel-domestic", IMPOSSIBLE_TRAVEL);
        let keiko = self.user("keiko", site("us-seattle"), 1);
        self.history(s, &keiko, 0..HISTORY_DAYS);
        let seattle = keiko.ips[0].clone();
        self.read(s, &[], &keiko, D9 + 9 * H, &seattle);
        let sf = self.ip("us-san-francisco", 4);
        self.read(s, &[IMPOSSIBLE_TRAVEL], &keiko, D9 + 9 * H + 30 * M, &sf);

        // San Francisco, then Seattle two hours later: ≈550 km/h, under the limit.
        let s = sc("impossible-travel-under-speed-limit", IMPOSSIBLE_TRAVEL);
        let jamal = self.user("jamal", site("us-san-francisco"), 1);
        self.history(s, &jamal, 0..HISTORY_DAYS);
        let sf = jamal.ips[0].clone();
        self.read(s, &[], &jamal, D8 + 8 * H, &sf);
        let seattle = self.ip("us-seattle", 6);
        self.read(s, &[], &jamal, D8 + 10 * H, &seattle);

        // A VPN exit in us-west-2 used every day since day 0 (the first switch 14 hours after
        // Berlin, so not travel); on day 8 it follows a new Berlin address within minutes:
        // the transition is new, but the VPN address is known.
        let s = sc("impossible-travel-known-vpn-address", IMPOSSIBLE_TRAVEL);
        let liam = self.user("liam", site("de-berlin"), 1);
        let home = liam.ips[0].clone();
        let vpn = self.ip("aws-us-west-2", 0);
        self.read(s, &[], &liam, 9 * H, &home);
        self.read(s, &[], &liam, 23 * H, &vpn);
        for d in 1..HISTORY_DAYS {
            self.read(s, &[], &liam, d * D + 9 * H, &home);
            self.read(s, &[], &liam, d * D + 12 * H, &vpn);
            self.read(s, &[], &liam, d * D + 15 * H, &home);
        }
        let new_home = self.ip("de-berlin", 3);
        self.read(s, &[], &liam, D8 + 10 * H, &new_home);
        self.read(s, &[], &liam, D8 + 10 * H + 10 * M, &vpn);
    }

    fn terminated_user(&mut self) {
        // The IAM administrator who off-boards people; deleting, creating and disabling users
        // is routine for him (in his baseline, so no unusual-admin-activity either).
        let s_admin = sc("terminated-user-administrator", TERMINATED_USER);
        let oscar = self.user("oscar", site("us-san-francisco"), 1);
        self.history(s_admin, &oscar, 0..HISTORY_DAYS);
        for (d, name, n) in [
            (1, "CreateUser", 1),
            (2, "UpdateAccessKey", 1),
            (3, "DeleteUser", 1),
            (4, "CreateUser", 2),
            (5, "UpdateAccessKey", 2),
            (6, "DeleteUser", 2),
        ] {
            let user = format!("contractor-{n:02}");
            let req = match name {
                "UpdateAccessKey" => json!({
                    "userName": user,
                    "accessKeyId": format!("AKIA{}", ids::upper_alnum(self.rng, 16)),
                    "status": "Inactive"
                }),
                _ => json!({"userName": user}),
            };
            self.iam(s_admin, &[], &oscar, d * D + 11 * H, name, req, None);
        }

        // A console session that outlives its user.
        let s = sc("terminated-user-deleted-user-session", TERMINATED_USER);
        let pia = self.user("pia", site("ca-toronto"), 1);
        self.console_users.push(pia.name.clone());
        self.history(s, &pia, 0..HISTORY_DAYS);
        let ip = pia.ips[0].clone();
        self.iam(
            s,
            &[],
            &oscar,
            D8 + 15 * H,
            "DeleteUser",
            json!({"userName": "pia"}),
            None,
        );
        self.read(s, &[TERMINATED_USER], &pia, D8 + 17 * H, &ip);
        self.read(s, &[], &pia, D8 + 17 * H + 20 * M, &ip);

        // A request in flight when the user was deleted (within the 60 s grace).
        let s = sc("terminated-user-within-grace", TERMINATED_USER);
        let raj = self.user("raj", site("gb-london"), 1);
        self.history(s, &raj, 0..HISTORY_DAYS);
        let ip = raj.ips[0].clone();
        self.iam(
            s,
            &[],
            &oscar,
            D8 + 16 * H,
            "DeleteUser",
            json!({"userName": "raj"}),
            None,
        );
        self.read(s, &[], &raj, D8 + 16 * H + 30, &ip);

        // Deleted by mistake and re-created.
        let s = sc("terminated-user-recreated", TERMINATED_USER);
        let sana = self.user("sana", site("de-berlin"), 1);
        self.history(s, &sana, 0..HISTORY_DAYS);
        let ip = sana.ips[0].clone();
        self.iam(
            s,
            &[],
            &oscar,
            D9 + 9 * H,
            "DeleteUser",
            json!({"userName": "sana"}),
            None,
        );
        self.iam(
            s,
            &[],
            &oscar,
            D9 + 9 * H + 5 * M,
            "CreateUser",
            json!({"userName": "sana"}),
            None,
        );
        self.read(s, &[], &sana, D9 + 10 * H, &ip);

        // A deactivated access key in use.
        let s = sc("terminated-user-deactivated-key", TERMINATED_USER);
        let tomas = self.user("tomas", site("fr-paris"), 1);
        self.history(s, &tomas, 0..HISTORY_DAYS);
        let ip = tomas.ips[0].clone();
        let key = tomas.access_key.clone();
        self.iam(
            s,
            &[],
            &oscar,
            D9 + 11 * H,
            "UpdateAccessKey",
            json!({"userName": "tomas", "accessKeyId": key, "status": "Inactive"}),
            None,
        );
        self.read(s, &[TERMINATED_USER], &tomas, D9 + 12 * H, &ip);

        // Her old, unused key is deactivated; she goes on with her current one.
        let s = sc("terminated-user-other-key-deactivated", TERMINATED_USER);
        let uma = self.user("uma", site("us-seattle"), 1);
        self.history(s, &uma, 0..HISTORY_DAYS);
        let ip = uma.ips[0].clone();
        let old_key = format!("AKIA{}", ids::upper_alnum(self.rng, 16));
        self.iam(
            s,
            &[],
            &oscar,
            D9 + 11 * H + 30 * M,
            "UpdateAccessKey",
            json!({"userName": "uma", "accessKeyId": old_key, "status": "Inactive"}),
            None,
        );
        self.read(s, &[], &uma, D9 + 12 * H + 30 * M, &ip);

        // Listed in the terminated-users file from day 8 noon: activity before is fine.
        let s = sc("terminated-user-listed", TERMINATED_USER);
        let vera = self.user("vera", site("gb-london"), 1);
        self.history(s, &vera, 0..HISTORY_DAYS);
        let ip = vera.ips[0].clone();
        self.read(s, &[], &vera, VERA_SINCE - 3 * H, &ip);
        self.read(s, &[TERMINATED_USER], &vera, D9 + 10 * H, &ip);

        // The file lists `xena` of another account by ARN; this xena is someone else.
        let s = sc("terminated-user-listed-other-account", TERMINATED_USER);
        let xena = self.user("xena", site("us-san-francisco"), 1);
        self.history(s, &xena, 0..HISTORY_DAYS);
        let ip = xena.ips[0].clone();
        self.read(s, &[], &xena, D8 + 11 * H, &ip);
    }

    fn failed_logins(&mut self) {
        // One typo on day 2; on day 8, twelve failures in eight minutes from Brasília: the
        // tenth reaches the threshold (10 ≥ 10, above 3 × the usual peak of 1).
        let s = sc("failed-logins-burst", FAILED_LOGINS);
        let yusuf = self.user("yusuf", site("gb-london"), 1);
        self.history(s, &yusuf, 0..HISTORY_DAYS);
        let home = yusuf.ips[0].clone();
        self.login_failure(s, &[], &yusuf, 2 * D + 14 * H, &home);
        let attacker = self.ip("br-brasilia", 0);
        for i in 0..12 {
            let alerts: &[&str] = if i == 9 { &[FAILED_LOGINS] } else { &[] };
            self.login_failure(s, alerts, &yusuf, D8 + 3 * H + i * 40, &attacker);
        }

        let s = sc("failed-logins-below-threshold", FAILED_LOGINS);
        let zaid = self.user("zaid", site("de-berlin"), 1);
        self.history(s, &zaid, 0..HISTORY_DAYS);
        let attacker = self.ip("in-mumbai", 1);
        for i in 0..9 {
            self.login_failure(s, &[], &zaid, D8 + 4 * H + i * 40, &attacker);
        }

        // Fails five times every morning (a password manager that lags): twelve failures are
        // above the threshold but not above 3 × his usual peak of 5.
        let s = sc("failed-logins-inside-baseline", FAILED_LOGINS);
        let amir = self.user("amir", site("fr-paris"), 1);
        let home = amir.ips[0].clone();
        for d in 0..HISTORY_DAYS {
            for i in 0..5 {
                self.login_failure(s, &[], &amir, d * D + 8 * H + i * M, &home);
            }
        }
        self.history(s, &amir, 0..HISTORY_DAYS);
        for i in 0..12 {
            self.login_failure(s, &[], &amir, D8 + 5 * H + i * 40, &home);
        }

        // Password spraying against the account's people: ten user names from one address in
        // ten minutes; nine from another.
        let people: Vec<Principal> = self
            .world
            .accounts
            .first()
            .map(|a| {
                a.principals
                    .iter()
                    .filter(|p| p.kind == Kind::IamUser && p.profile == Profile::Human)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        let s = sc("failed-logins-password-spray", FAILED_LOGINS);
        let sprayer = self.ip("au-melbourne", 0);
        for (i, p) in people.iter().take(10).enumerate() {
            let alerts: &[&str] = if i == 9 { &[FAILED_LOGINS] } else { &[] };
            self.login_failure(s, alerts, p, D9 + 2 * H + i as i64 * M, &sprayer);
        }
        let s = sc("failed-logins-spray-below-threshold", FAILED_LOGINS);
        let sprayer = self.ip("jp-tokyo", 2);
        for (i, p) in people.iter().take(9).enumerate() {
            self.login_failure(s, &[], p, D9 + 4 * H + i as i64 * M, &sprayer);
        }
    }

    fn unusual_admin(&mut self) {
        // Tags roles now and then; creates an access key for the first time.
        let s = sc("unusual-admin-activity-new-action", UNUSUAL_ADMIN);
        let lucia = self.user("lucia", site("us-seattle"), 1);
        self.history(s, &lucia, 0..HISTORY_DAYS);
        for d in [1, 3, 5] {
            self.tag_role(s, &[], &lucia, d * D + 11 * H);
        }
        self.create_access_key(s, &[UNUSUAL_ADMIN], &lucia, D8 + 16 * H);

        // Rotates keys every few days: creating one is in his baseline.
        let s = sc("unusual-admin-activity-known-action", UNUSUAL_ADMIN);
        let marco = self.user("marco", site("de-berlin"), 1);
        self.history(s, &marco, 0..HISTORY_DAYS);
        for d in [1, 4, 6] {
            self.create_access_key(s, &[], &marco, d * D + 11 * H);
        }
        self.create_access_key(s, &[], &marco, D8 + 16 * H + 30 * M);

        // Two admin writes a day, 20 minutes apart, then 35 in 23 minutes: the 30th reaches
        // the threshold (30 ≥ 30, above 5 × the usual peak of 2).
        let s = sc("unusual-admin-activity-rate", UNUSUAL_ADMIN);
        let nils = self.user("nils", site("gb-london"), 1);
        self.history(s, &nils, 0..HISTORY_DAYS);
        for d in 0..HISTORY_DAYS {
            self.tag_role(s, &[], &nils, d * D + 10 * H);
            self.tag_role(s, &[], &nils, d * D + 10 * H + 20 * M);
        }
        for i in 0..35 {
            let alerts: &[&str] = if i == 29 { &[UNUSUAL_ADMIN] } else { &[] };
            self.tag_role(s, alerts, &nils, D9 + 14 * H + i * 40);
        }

        let s = sc("unusual-admin-activity-rate-below-threshold", UNUSUAL_ADMIN);
        let olga = self.user("olga", site("fr-paris"), 1);
        self.history(s, &olga, 0..HISTORY_DAYS);
        for d in 0..HISTORY_DAYS {
            self.tag_role(s, &[], &olga, d * D + 10 * H);
            self.tag_role(s, &[], &olga, d * D + 10 * H + 20 * M);
        }
        for i in 0..25 {
            self.tag_role(s, &[], &olga, D9 + 15 * H + i * 40);
        }

        // Tags twenty resources every evening: forty in half an hour is within 5 × 20.
        let s = sc("unusual-admin-activity-rate-inside-baseline", UNUSUAL_ADMIN);
        let pavel = self.user("pavel", site("de-berlin"), 1);
        self.history(s, &pavel, 0..HISTORY_DAYS);
        for d in 0..HISTORY_DAYS {
            for i in 0..20 {
                self.tag_role(s, &[], &pavel, d * D + 18 * H + i * 40);
            }
        }
        for i in 0..40 {
            self.tag_role(s, &[], &pavel, D9 + 16 * H + i * 40);
        }
    }

    fn mass_storage(&mut self) {
        // One object a day, then three DeleteObjects of 50: the second reaches 100.
        let s = sc("mass-storage-deletion-burst", MASS_STORAGE);
        let ruth = self.user("ruth", site("us-san-francisco"), 1);
        self.history(s, &ruth, 0..HISTORY_DAYS);
        for d in 0..HISTORY_DAYS {
            self.delete_objects(s, &[], &ruth, d * D + 11 * H, 0);
        }
        for i in 0..3 {
            let alerts: &[&str] = if i == 1 { &[MASS_STORAGE] } else { &[] };
            self.delete_objects(s, alerts, &ruth, D8 + 20 * H + i * 2 * M, 50);
        }

        let s = sc("mass-storage-deletion-below-threshold", MASS_STORAGE);
        let sven = self.user("sven", site("gb-london"), 1);
        self.history(s, &sven, 0..HISTORY_DAYS);
        for i in 0..2 {
            self.delete_objects(s, &[], &sven, D8 + 21 * H + i * 10 * M, 40);
        }

        // A retention job deletes 90 objects every night; 180 is within 3 × 90.
        let s = sc("mass-storage-deletion-inside-baseline", MASS_STORAGE);
        let job = self.machine_role("log-retention", "retention-run");
        for d in 0..HISTORY_DAYS {
            for i in 0..3 {
                self.delete_objects(s, &[], &job, d * D + 2 * H + i * 5 * M, 30);
            }
        }
        for i in 0..6 {
            self.delete_objects(s, &[], &job, D9 + 2 * H + i * 5 * M, 30);
        }
    }

    fn mass_vm(&mut self) {
        let s = sc("mass-vm-deletion-burst", MASS_VM_DELETION);
        let vik = self.user("vik", site("de-berlin"), 1);
        self.history(s, &vik, 0..HISTORY_DAYS);
        for d in [1, 3, 5] {
            self.terminate(s, &[], &vik, d * D + 14 * H, 1);
        }
        self.terminate(s, &[MASS_VM_DELETION], &vik, D9 + H, 15);

        let s = sc("mass-vm-deletion-below-threshold", MASS_VM_DELETION);
        let wren = self.user("wren", site("us-seattle"), 1);
        self.history(s, &wren, 0..HISTORY_DAYS);
        self.terminate(s, &[], &wren, D9 + H + 30 * M, 8);

        // Rotates six instances every day: twelve is within 3 × 6.
        let s = sc("mass-vm-deletion-inside-baseline", MASS_VM_DELETION);
        let rotation = self.machine_role("asg-rotation", "nightly-rotation");
        for d in 0..HISTORY_DAYS {
            self.terminate(s, &[], &rotation, d * D + 3 * H, 6);
        }
        self.terminate(s, &[], &rotation, D9 + 3 * H, 12);

        let s = sc("mass-vm-creation-burst", MASS_VM_CREATION);
        let yara = self.user("yara", site("ca-toronto"), 1);
        self.history(s, &yara, 0..HISTORY_DAYS);
        for d in [2, 4] {
            self.run(s, &[], &yara, d * D + 14 * H, 1);
        }
        self.run(s, &[MASS_VM_CREATION], &yara, D9 + 3 * H, 30);

        let s = sc("mass-vm-creation-below-threshold", MASS_VM_CREATION);
        let zane = self.user("zane", site("gb-london"), 1);
        self.history(s, &zane, 0..HISTORY_DAYS);
        self.run(s, &[], &zane, D9 + 3 * H + 30 * M, 15);

        // Launches nine batch workers every day: 25 is within 3 × 9.
        let s = sc("mass-vm-creation-inside-baseline", MASS_VM_CREATION);
        let batch = self.machine_role("batch-scheduler", "scheduler");
        for d in 0..HISTORY_DAYS {
            self.run(s, &[], &batch, d * D + 4 * H, 9);
        }
        self.run(s, &[], &batch, D9 + 4 * H, 25);
    }

    fn unusual_region(&mut self) {
        // A write in a region the account has never used; again within the cooldown.
        let s = sc("unusual-region-new-region", UNUSUAL_REGION);
        let zeno = self.user("zeno", site("us-san-francisco"), 1);
        self.history(s, &zeno, 0..HISTORY_DAYS);
        self.import_key_pair(s, &[UNUSUAL_REGION], &zeno, D9 + 15 * H, Err(UNUSED_REGION));
        self.import_key_pair(s, &[], &zeno, D9 + 15 * H + 10 * M, Err(UNUSED_REGION));

        // Reads do not count as using a region.
        let s = sc("unusual-region-read-only", UNUSUAL_REGION);
        let noor = self.user("noor", site("gb-london"), 1);
        self.history(s, &noor, 0..HISTORY_DAYS);
        let ip = noor.ips[0].clone();
        let mut e = self.ev(
            s,
            &[],
            &noor,
            D9 + 15 * H + 30 * M,
            &ip,
            "ec2.amazonaws.com",
            "DescribeInstances",
        );
        e.read_only = true;
        e.region = Some(UNUSED_REGION_2);
        e.req = Some(json!({"instancesSet": {}, "filterSet": {}}));
        self.out.push(e);

        // The same call in the account's second region, where it (and otto) wrote before.
        let s = sc("unusual-region-used-region", UNUSUAL_REGION);
        let otto = self.user("otto", site("fr-paris"), 1);
        self.history(s, &otto, 0..HISTORY_DAYS);
        self.import_key_pair(s, &[], &otto, D + 10 * H, Ok(1));
        self.import_key_pair(s, &[], &otto, D9 + 16 * H, Ok(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn events(seed: u64) -> (World, Vec<ScenarioEvent>) {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let world = World::build(&mut rng);
        let evs = build(&world, &mut rng);
        (world, evs)
    }

    #[test]
    fn every_detection_has_a_positive_and_a_near_miss() {
        let (_, evs) = events(7);
        for d in ANOMALY_DETECTIONS {
            let mut positive = std::collections::BTreeSet::new();
            let mut all = std::collections::BTreeSet::new();
            for e in &evs {
                let a = e.anomaly.as_ref().unwrap();
                if a.detection == d {
                    all.insert(e.scenario);
                }
                if a.alerts.contains(&d) {
                    positive.insert(e.scenario);
                }
            }
            assert!(!positive.is_empty(), "{d} has no positive scenario");
            assert!(all.len() > positive.len(), "{d} has no near miss");
        }
    }

    #[test]
    fn scenarios_come_after_learning_and_within_the_span() {
        let (_, evs) = events(3);
        let span = i64::from(crate::ANOMALY_SPAN_DAYS) * D;
        for e in &evs {
            let at = e.at.unwrap();
            assert!((0..span).contains(&at), "{} at {at}", e.scenario);
            if !e.anomaly.as_ref().unwrap().alerts.is_empty() {
                assert!(at >= D8, "{} alerts before day 8", e.scenario);
            }
        }
        // history starts on day 0, so baselines are mature (7 days) on day 8
        let first = evs.iter().map(|e| e.at.unwrap()).min().unwrap();
        assert!(first < D);
    }

    #[test]
    fn scenario_principals_are_not_background_people() {
        let (world, evs) = events(11);
        let people: Vec<&str> = crate::world::PEOPLE.to_vec();
        let spray: Vec<&str> = evs
            .iter()
            .filter(|e| e.scenario.contains("spray"))
            .map(|e| e.principal.name.as_str())
            .collect();
        assert_eq!(spray.len(), 19);
        for e in &evs {
            if e.scenario.contains("spray") {
                continue;
            }
            assert!(
                !people.contains(&e.principal.name.as_str()),
                "{} is also a background person",
                e.principal.name
            );
        }
        // the sprayed users are the first account's people, ten distinct
        let mut distinct: Vec<&str> = spray[..10].to_vec();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(distinct.len(), 10);
        assert!(world.accounts[0]
            .principals
            .iter()
            .any(|p| p.name == spray[0]));
    }

    #[test]
    fn lists_cover_the_scenario_addresses_and_nothing_else_uses_them() {
        let (world, evs) = events(5);
        let in_anon = |ip: &str| {
            ip.strip_prefix("198.51.100.")
                .and_then(|x| x.parse::<u8>().ok())
                .is_some_and(|x| x < 128)
        };
        let in_intel = |ip: &str| {
            ip.strip_prefix("192.0.2.")
                .and_then(|x| x.parse::<u8>().ok())
                .is_some_and(|x| x < 64)
        };
        for e in &evs {
            let a = e.anomaly.as_ref().unwrap();
            if a.alerts.contains(&ANONYMOUS_IP) {
                assert!(in_anon(&e.ip), "{}", e.ip);
            }
            if a.alerts.contains(&SUSPICIOUS_IP) {
                assert!(in_intel(&e.ip), "{}", e.ip);
            }
            if in_anon(&e.ip) {
                assert_eq!(a.detection, ANONYMOUS_IP, "{}", e.scenario);
            }
            if in_intel(&e.ip) {
                assert_eq!(a.detection, SUSPICIOUS_IP, "{}", e.scenario);
            }
        }
        for a in &world.accounts {
            for p in &a.principals {
                for ip in &p.ips {
                    assert!(!in_anon(ip) && !in_intel(ip), "{ip}");
                }
            }
        }
        assert!(anonymous_list().contains(ANONYMOUS_CIDR));
        assert!(suspicious_list().contains(SUSPICIOUS_CIDR));
        assert!(terminated_users().contains("vera,2024-03-09T12:00:00Z"));
    }
}
