#!/usr/bin/env python3
"""Writes the Stratus Red Team detonation fixtures in this directory.

One CloudTrail log file body (`{"Records": [...]}`) per AWS technique of Stratus Red Team,
named after the technique id (`aws.` dropped): `<technique>.json`, plus `<technique>.failed.json`
for the denied variant of techniques whose trailwarden rule counts failed attempts.

Every record is written from the calls the technique's Stratus source and documentation make
(warm-up by Terraform a few minutes before, the detonation, and, where the docs' detonation log
shows it, the revert), in the shapes CloudTrail logs them. Deterministic: every id is derived
from SEED and the technique, every time is fixed, so running it again gives the same bytes.

    python3 testdata/stratus/generate.py          # rewrite the files
    python3 testdata/stratus/generate.py --check  # exit 1 when a file differs

Standard library only.
"""

import datetime as dt
import hashlib
import json
import os
import sys
import urllib.parse
import uuid

SEED = "trailwarden/stratus-fixtures/v1"
HERE = os.path.dirname(os.path.abspath(__file__))

ACCOUNT = "111122223333"
REGION = "us-east-1"
# The operator's workstation (Stratus runs from a laptop, outside AWS).
OPERATOR_IP = "203.0.113.45"
# The NAT gateway's elastic IP of the Stratus VPC (inside AWS's ranges).
NAT_IP = "3.87.142.19"
# The fictitious attacker account Stratus shares resources with or trusts.
ATTACKER_ACCOUNT = "193672423079"

SSO_ROLE = "AWSReservedSSO_AdministratorAccess_5e2b8f1c9a7d3e4b"
SSO_SESSION = "red-team-operator"

TERRAFORM_UA = (
    "APN/1.0 HashiCorp/1.0 Terraform/1.5.7 (+https://www.terraform.io) "
    "terraform-provider-aws/4.67.0 (+https://registry.terraform.io/providers/hashicorp/aws) "
    "aws-sdk-go/1.44.261 (go1.19.9; linux; amd64)"
)

EC2_XMLNS = "http://ec2.amazonaws.com/doc/2016-11-15/"
S3_XMLNS = "http://s3.amazonaws.com/doc/2006-03-01/"

# The word list Stratus's ransomware warm-up builds object names from (a subset).
WORDS = (
    "liable donated mayday blooper pueblo tantrum scary secluded babied ignition unfasten affirm "
    "margarine credit underage june licking approve overbite ditto pavilion chewy drivable "
    "favorable kitchen wriggly shape resistant unless backlight cruelty empower freewill passage "
    "net retrial hulk drizzly ambitious banknote calm outlet survivor silenced fantasy flogging "
    "aeration balsamic antivirus glowing setup unpopular immobile divisive dosage amicably "
    "follicle subscribe second mountable catnap yummy frill voyage caravan busload boss selection "
    "surreal gliding preset colossal litigate phony connected capital carefully obstruct carton"
).split()
EXTENSIONS = ["sql", "txt", "docx", "pdf", "png", "tar.gz"]
SEPARATORS = [" ", "-", "_"]


def digest(*parts):
    return hashlib.sha256("/".join([SEED, *map(str, parts)]).encode()).digest()


def det_uuid(*parts):
    return str(uuid.UUID(bytes=digest(*parts)[:16], version=4))


def det_hex(n, *parts):
    return digest(*parts).hex()[:n]


def det_alnum(n, *parts, upper=True):
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567" if upper else "abcdefghijklmnopqrstuvwxyz0123456789"
    d = digest(*parts)
    while len(d) < n:
        d += digest(*parts, len(d))
    return "".join(alphabet[b % len(alphabet)] for b in d[:n])


def det_int(lo, hi, *parts):
    return lo + int.from_bytes(digest(*parts)[:8], "big") % (hi - lo + 1)


def iso(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def iam_date(t):
    """IAM and STS responses in CloudTrail write dates as `Apr 9, 2025, 9:06:01 AM`."""
    hour = t.hour % 12 or 12
    return f"{t.strftime('%b')} {t.day}, {t.year}, {hour}:{t.strftime('%M:%S')} {'AM' if t.hour < 12 else 'PM'}"


def stratus_ua(tech):
    return f"stratus-red-team_{det_uuid(tech, 'correlation-id')}"


# Endpoints, for tlsDetails.clientProvidedHostHeader.
GLOBAL_HOSTS = {"iam.amazonaws.com": "iam.amazonaws.com", "signin.amazonaws.com": "signin.aws.amazon.com"}
HOST_PREFIX = {
    "ec2-instance-connect.amazonaws.com": "ec2-instance-connect",
    "route53resolver.amazonaws.com": "route53resolver",
    "bedrock.amazonaws.com": "bedrock",
    "ses.amazonaws.com": "email",
    "monitoring.amazonaws.com": "monitoring",
}


def host_for(source, region, bucket=None):
    if source in GLOBAL_HOSTS:
        return GLOBAL_HOSTS[source]
    if source == "s3.amazonaws.com":
        return f"{bucket}.s3.{region}.amazonaws.com" if bucket else f"s3.{region}.amazonaws.com"
    if source == "organizations.amazonaws.com":
        return "organizations.us-east-1.amazonaws.com"
    prefix = HOST_PREFIX.get(source, source.split(".")[0])
    return f"{prefix}.{region}.amazonaws.com"


class Technique:
    """The records of one file, with deterministic ids."""

    def __init__(self, tech, start, variant=""):
        self.tech = tech
        self.variant = variant
        self.start = start
        self.records = []
        self.ua = stratus_ua(tech)
        self.n = 0

    # ---- ids -------------------------------------------------------------------------------
    def key(self, *parts):
        return (self.tech, self.variant, *parts)

    def uid(self, *parts):
        return det_uuid(*self.key(*parts))

    def hx(self, n, *parts):
        return det_hex(n, *self.key(*parts))

    def access_key(self, prefix, *parts):
        return prefix + det_alnum(16, *self.key("key", *parts))

    def at(self, secs):
        return self.start + dt.timedelta(seconds=secs)

    # ---- identities ------------------------------------------------------------------------
    def role_session(self, role_name, session, *, path="/", key_parts=("session",), created=None,
                     ec2=False, mfa="false"):
        role_arn = f"arn:aws:iam::{ACCOUNT}:role{path}{role_name}"
        role_id = "AROA" + det_alnum(17, "role-id", role_name)
        ident = {
            "type": "AssumedRole",
            "principalId": f"{role_id}:{session}",
            "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/{role_name}/{session}",
            "accountId": ACCOUNT,
            "accessKeyId": self.access_key("ASIA", role_name, session, *key_parts),
            "sessionContext": {
                "sessionIssuer": {
                    "type": "Role",
                    "principalId": role_id,
                    "arn": role_arn,
                    "accountId": ACCOUNT,
                    "userName": role_name,
                },
                "attributes": {
                    "creationDate": iso(created or self.start - dt.timedelta(minutes=47)),
                    "mfaAuthenticated": mfa,
                },
            },
        }
        if ec2:
            ident["sessionContext"]["ec2RoleDelivery"] = "2.0"
        return ident

    def operator(self):
        """The Stratus operator: an IAM Identity Center session (the warm-up runs as it too)."""
        return self.role_session(SSO_ROLE, SSO_SESSION,
                                 path="/aws-reserved/sso.amazonaws.com/")

    def iam_user(self, name, key=None):
        ident = {
            "type": "IAMUser",
            "principalId": "AIDA" + det_alnum(17, "user-id", name),
            "arn": f"arn:aws:iam::{ACCOUNT}:user/{name}",
            "accountId": ACCOUNT,
            "userName": name,
        }
        if key is not False:
            ident["accessKeyId"] = key or self.access_key("AKIA", "user", name)
        return ident

    # ---- records ---------------------------------------------------------------------------
    def add(self, t, ident, source, name, req=None, resp=None, *, ua=None, ip=OPERATOR_IP,
            region=REGION, read_only=False, error=None, resources=None, extra=None,
            category="Management", event_type="AwsApiCall", bucket=None, request_id=None,
            tls=True, version="1.09"):
        self.n += 1
        rec = {"eventVersion": version, "userIdentity": ident, "eventTime": iso(t),
               "eventSource": source, "eventName": name, "awsRegion": region,
               "sourceIPAddress": ip, "userAgent": ua if ua is not None else self.ua}
        if error:
            rec["errorCode"], rec["errorMessage"] = error
        rec["requestParameters"] = req
        rec["responseElements"] = resp
        if extra and "additionalEventData" in extra:
            rec["additionalEventData"] = extra.pop("additionalEventData")
        # EC2-style responses repeat the request id (at the top or one level down).
        if request_id is None and isinstance(resp, dict):
            inner = [v for v in resp.values() if isinstance(v, dict) and "requestId" in v]
            request_id = resp.get("requestId") or (inner[0]["requestId"] if inner else None)
        rec["requestID"] = request_id or self.uid("request", self.n)
        rec["eventID"] = self.uid("event", self.n)
        rec["readOnly"] = read_only
        if resources:
            rec["resources"] = resources
        rec["eventType"] = event_type
        rec["managementEvent"] = category == "Management"
        rec["recipientAccountId"] = ACCOUNT
        if extra:
            rec.update(extra)
        rec["eventCategory"] = category
        if tls:
            rec["tlsDetails"] = {
                "tlsVersion": "TLSv1.3",
                "cipherSuite": "TLS_AES_128_GCM_SHA256",
                "clientProvidedHostHeader": host_for(source, region, bucket),
            }
        self.records.append(rec)
        return rec

    def terraform(self, t, source, name, req=None, resp=None, **kw):
        """A warm-up call: Terraform, run by Stratus with the operator's credentials."""
        return self.add(t, self.operator(), source, name, req, resp, ua=TERRAFORM_UA, **kw)

    def ec2_resp(self, **fields):
        return {"requestId": self.uid("ec2-request", self.n + 1), **fields}

    def assume_role(self, t, role_name, session, caller=None):
        """sts:AssumeRole into a Stratus role, as the Go SDK's stscreds provider does it."""
        role_arn = f"arn:aws:iam::{ACCOUNT}:role/{role_name}"
        target = self.role_session(role_name, session)
        self.add(t, caller or self.operator(), "sts.amazonaws.com", "AssumeRole",
                 {"roleArn": role_arn, "roleSessionName": session},
                 {"credentials": {"accessKeyId": target["accessKeyId"],
                                  "sessionToken": "IQoJb3JpZ2luX2VjE" + self.hx(48, "token", session),
                                  "expiration": iam_date(t + dt.timedelta(hours=1))},
                  "assumedRoleUser": {"assumedRoleId": target["principalId"], "arn": target["arn"]}},
                 read_only=True,
                 resources=[{"accountId": ACCOUNT, "type": "AWS::IAM::Role", "ARN": role_arn}])
        target["sessionContext"]["attributes"]["creationDate"] = iso(t)
        return target

    def get_caller_identity(self, t, ident, **kw):
        return self.add(t, ident, "sts.amazonaws.com", "GetCallerIdentity", None, None,
                        read_only=True, **kw)

    # ---- S3 data events --------------------------------------------------------------------
    def s3_data(self, t, ident, name, bucket, req, resp=None, *, key=None, read_only=False,
                ua=None, object_arn_prefix=False, sse=None, bytes_in=0, bytes_out=0):
        resources = []
        if key is not None:
            resources.append({"type": "AWS::S3::Object", "ARN": f"arn:aws:s3:::{bucket}/{key}"})
        elif object_arn_prefix:
            resources.append({"type": "AWS::S3::Object", "ARNPrefix": f"arn:aws:s3:::{bucket}/"})
        resources.append({"accountId": ACCOUNT, "type": "AWS::S3::Bucket",
                          "ARN": f"arn:aws:s3:::{bucket}"})
        extra = {"SignatureVersion": "SigV4", "CipherSuite": "TLS_AES_128_GCM_SHA256",
                 "bytesTransferredIn": bytes_in, "AuthenticationMethod": "AuthHeader",
                 "x-amz-id-2": self.hx(76, "amz-id-2", self.n), "bytesTransferredOut": bytes_out}
        if sse:
            extra["SSEApplied"] = sse
        req = {"bucketName": bucket, "Host": host_for("s3.amazonaws.com", REGION, bucket), **req}
        return self.add(t, ident, "s3.amazonaws.com", name, req, resp,
                        ua=f"[{ua or self.ua}]", read_only=read_only, resources=resources,
                        category="Data", bucket=bucket, version="1.10",
                        request_id=det_alnum(16, *self.key("s3-request", self.n)),
                        extra={"additionalEventData": extra})

    def s3_mgmt(self, t, ident, name, bucket, req, *, ua=None):
        extra = {"SignatureVersion": "SigV4", "CipherSuite": "TLS_AES_128_GCM_SHA256",
                 "bytesTransferredIn": 0, "AuthenticationMethod": "AuthHeader",
                 "x-amz-id-2": self.hx(76, "amz-id-2", self.n), "bytesTransferredOut": 0}
        req = {"bucketName": bucket, "Host": host_for("s3.amazonaws.com", REGION, bucket), **req}
        return self.add(t, ident, "s3.amazonaws.com", name, req, None, ua=f"[{ua or self.ua}]",
                        resources=[{"accountId": ACCOUNT, "type": "AWS::S3::Bucket",
                                    "ARN": f"arn:aws:s3:::{bucket}"}],
                        bucket=bucket, request_id=det_alnum(16, *self.key("s3-request", self.n)),
                        extra={"additionalEventData": extra})

    def body(self):
        return {"Records": self.records}


def denied_ec2(ident, action, resource=None):
    msg = f"You are not authorized to perform this operation. User: {ident['arn']} is not authorized to perform: {action}"
    if resource:
        msg += f" on resource: {resource}"
    msg += f" because no identity-based policy allows the {action} action"
    return ("Client.UnauthorizedOperation", msg)


def denied(code, ident, action, resource=None):
    msg = f"User: {ident['arn']} is not authorized to perform: {action}"
    if resource:
        msg += f" on resource: {resource}"
    msg += f" because no identity-based policy allows the {action} action"
    return (code, msg)


def go_session(tech, t):
    """The default session name of the Go SDK's stscreds provider: aws-go-sdk-<unix nanos>."""
    nanos = int(t.replace(tzinfo=dt.timezone.utc).timestamp()) * 10**9 + det_int(0, 10**9 - 1, tech, "nanos")
    return f"aws-go-sdk-{nanos}"


def instance_id(g, *parts):
    return "i-0" + g.hx(16, "instance", *parts)


def warmup_role(g, t, role_name, trust_service=None, trust_account=None):
    stmt = {"Effect": "Allow", "Action": "sts:AssumeRole"}
    if trust_service:
        stmt["Principal"] = {"Service": trust_service}
    else:
        stmt["Principal"] = {"AWS": f"arn:aws:iam::{trust_account or ACCOUNT}:root"}
    doc = json.dumps({"Version": "2012-10-17", "Statement": [stmt]}, indent=2)
    role_id = "AROA" + det_alnum(17, "role-id", role_name)
    g.terraform(t, "iam.amazonaws.com", "CreateRole",
                {"roleName": role_name, "path": "/", "assumeRolePolicyDocument": doc,
                 "tags": [{"key": "StratusRedTeam", "value": "true"}]},
                {"role": {"path": "/", "roleName": role_name, "roleId": role_id,
                          "arn": f"arn:aws:iam::{ACCOUNT}:role/{role_name}", "createDate": iam_date(t),
                          "assumeRolePolicyDocument": urllib.parse.quote(doc, safe=""),
                          "tags": [{"key": "StratusRedTeam", "value": "true"}]}})


def warmup_instance(g, t, iid, role_profile, *, subnet="subnet-0" + "a" * 16):
    g.terraform(t, "ec2.amazonaws.com", "RunInstances",
                {"instancesSet": {"items": [{"imageId": "ami-0" + g.hx(16, "ami"), "minCount": 1, "maxCount": 1}]},
                 "instanceType": "t3.micro", "blockDeviceMapping": {},
                 "iamInstanceProfile": {"name": role_profile}, "monitoring": {"enabled": False},
                 "disableApiTermination": False, "disableApiStop": False,
                 "clientToken": "terraform-" + g.hx(26, "client-token", iid)},
                g.ec2_resp(reservationId="r-0" + g.hx(16, "reservation", iid), ownerId=ACCOUNT,
                           groupSet={}, instancesSet={"items": [{
                               "instanceId": iid, "imageId": "ami-0" + g.hx(16, "ami"),
                               "currentInstanceBoolValue": True,
                               "instanceState": {"code": 0, "name": "pending"},
                               "privateDnsName": "ip-10-0-1-10.ec2.internal", "amiLaunchIndex": 0,
                               "productCodes": {}, "instanceType": "t3.micro",
                               "launchTime": int(t.replace(tzinfo=dt.timezone.utc).timestamp() * 1000),
                               "placement": {"availabilityZone": "us-east-1a", "tenancy": "default"},
                               "monitoring": {"state": "disabled"}, "subnetId": subnet,
                               "vpcId": "vpc-0" + g.hx(16, "vpc"), "privateIpAddress": "10.0.1.10",
                               "iamInstanceProfile": {"arn": f"arn:aws:iam::{ACCOUNT}:instance-profile/{role_profile}",
                                                      "id": "AIPA" + det_alnum(17, "profile", role_profile)}}]}))


def ssm_wait_registered(g, t, ids):
    g.add(t, g.operator(), "ssm.amazonaws.com", "DescribeInstanceInformation",
          {"filters": [{"key": "InstanceIds", "values": ids}]}, None, read_only=True)


def send_command(g, t, ids, command_id):
    expires = t + dt.timedelta(hours=1)
    return g.add(t, g.operator(), "ssm.amazonaws.com", "SendCommand",
                 {"instanceIds": ids, "documentName": "AWS-RunShellScript",
                  "parameters": "HIDDEN_DUE_TO_SECURITY_REASONS", "interactive": False},
                 {"command": {"commandId": command_id, "documentName": "AWS-RunShellScript",
                              "documentVersion": "$DEFAULT", "comment": "",
                              "expiresAfter": iam_date(expires), "parameters": "HIDDEN_DUE_TO_SECURITY_REASONS",
                              "instanceIds": ids, "targets": [], "requestedDateTime": iam_date(t),
                              "status": "Pending", "statusDetails": "Pending", "outputS3Region": REGION,
                              "outputS3BucketName": "", "outputS3KeyPrefix": "", "maxConcurrency": "50",
                              "maxErrors": "0", "targetCount": len(ids), "completedCount": 0,
                              "errorCount": 0, "deliveryTimedOutCount": 0, "serviceRole": "",
                              "notificationConfig": {"notificationArn": "", "notificationEvents": [],
                                                     "notificationType": ""},
                              "cloudWatchOutputConfig": {"cloudWatchLogGroupName": "",
                                                         "cloudWatchOutputEnabled": False},
                              "timeoutSeconds": 3600, "alarmConfiguration": {"ignorePollAlarmFailure": False,
                                                                             "alarms": []},
                              "triggeredAlarms": []}})


def get_command_invocation(g, t, command_id, iid):
    g.add(t, g.operator(), "ssm.amazonaws.com", "GetCommandInvocation",
          {"commandId": command_id, "instanceId": iid}, None, read_only=True)


# =============================================================================================
# Techniques
# =============================================================================================

def ec2_get_password_data(g):
    role = "stratus-red-team-get-password-data-role-" + g.hx(6, "suffix")
    warmup_role(g, g.at(0), role, trust_account=ACCOUNT)
    t0 = g.at(6 * 60)
    ident = g.assume_role(t0, role, go_session(g.tech, t0))
    for i in range(30):
        iid = "i-" + det_alnum(16, g.tech, "fake-instance", i, upper=False)
        g.add(g.at(6 * 60 + 1 + i), ident, "ec2.amazonaws.com", "GetPasswordData",
              {"instanceId": iid}, None, read_only=True,
              error=denied_ec2(ident, "ec2:GetPasswordData",
                               f"arn:aws:ec2:{REGION}:{ACCOUNT}:instance/{iid}"))


def ec2_steal_instance_credentials(g):
    role = "stratus-red-team-ec2-steal-credentials-role"
    iid = instance_id(g, 0)
    warmup_role(g, g.at(0), role, trust_service="ec2.amazonaws.com")
    warmup_instance(g, g.at(40), iid, "stratus-red-team-ec2-steal-credentials-instance")
    inst = g.role_session(role, iid, ec2=True, created=g.at(5 * 60))
    # The SSM agent on the instance registers (not a watched source for stolen credentials).
    g.add(g.at(4 * 60), inst, "ssm.amazonaws.com", "UpdateInstanceInformation",
          {"instanceId": iid, "agentVersion": "3.3.1142.0", "agentStatus": "Active",
           "platformType": "Linux", "platformName": "Amazon Linux", "platformVersion": "2",
           "iPAddress": "10.0.1.10", "computerName": "ip-10-0-1-10.ec2.internal",
           "agentName": "amazon-ssm-agent", "availabilityZone": "us-east-1a",
           "availabilityZoneId": "use1-az4"}, None, ip=NAT_IP,
          ua="aws-sdk-go/1.44.260 (go1.20.12; linux; amd64) amazon-ssm-agent/3.3.1142.0")
    t0 = g.at(6 * 60)
    ssm_wait_registered(g, t0, [iid])
    cmd = g.uid("command-id")
    send_command(g, g.at(6 * 60 + 2), [iid], cmd)
    get_command_invocation(g, g.at(6 * 60 + 3), cmd, iid)
    get_command_invocation(g, g.at(6 * 60 + 8), cmd, iid)
    # The credentials read from IMDS, used from the operator's machine.
    stolen = g.role_session(role, iid, ec2=True, created=g.at(5 * 60))
    g.get_caller_identity(g.at(6 * 60 + 9), stolen)
    g.add(g.at(6 * 60 + 10), stolen, "ec2.amazonaws.com", "DescribeInstances",
          {"instancesSet": {}, "filterSet": {}}, None, read_only=True)


def secretsmanager_batch_retrieve_secrets(g):
    prefix = "stratus-red-team-retrieve--batch-secret"
    for i in range(42):
        g.terraform(g.at(i * 2), "secretsmanager.amazonaws.com", "CreateSecret",
                    {"name": f"{prefix}-{i}", "clientRequestToken": g.uid("crt", i),
                     "tags": [{"key": "StratusRedTeam", "value": "true"}],
                     "forceOverwriteReplicaSecret": False},
                    {"aRN": f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{prefix}-{i}-{det_alnum(6, g.tech, i, upper=False)}",
                     "name": f"{prefix}-{i}"})
    ident = g.operator()
    for page in range(5):
        req = {"filters": [{"key": "tag-key", "values": ["StratusRedTeam"]}], "maxResults": 10}
        if page:
            req["nextToken"] = "HIDDEN_DUE_TO_SECURITY_REASONS"
        g.add(g.at(8 * 60 + page), ident, "secretsmanager.amazonaws.com", "BatchGetSecretValue",
              req, None, read_only=True)


def secretsmanager_retrieve_secrets(g, failed=False):
    prefix = "stratus-red-team-retrieve-secret"
    arns = []
    for i in range(20):
        arn = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{prefix}-{i}-{det_alnum(6, g.tech, i, upper=False)}"
        arns.append(arn)
        g.terraform(g.at(i * 2), "secretsmanager.amazonaws.com", "CreateSecret",
                    {"name": f"{prefix}-{i}", "clientRequestToken": g.uid("crt", i),
                     "tags": [{"key": "StratusRedTeam", "value": "true"}],
                     "forceOverwriteReplicaSecret": False},
                    {"aRN": arn, "name": f"{prefix}-{i}"})
    ident = g.operator()
    if failed:
        # A session that may list the secrets but not read them.
        ident = g.assume_role(g.at(6 * 60 + 50), "stratus-red-team-secrets-reader",
                              go_session(g.tech, g.at(6 * 60 + 50)))
    g.add(g.at(7 * 60), ident, "secretsmanager.amazonaws.com", "ListSecrets",
          {"filters": [{"key": "tag-key", "values": ["StratusRedTeam"]}], "maxResults": 100},
          None, read_only=True)
    for i, arn in enumerate(arns):
        error = denied("AccessDeniedException", ident, "secretsmanager:GetSecretValue", arn) if failed else None
        g.add(g.at(7 * 60 + 1 + i), ident, "secretsmanager.amazonaws.com", "GetSecretValue",
              {"secretId": arn}, None, read_only=True, error=error)


def ssm_retrieve_securestring_parameters(g):
    path = "/credentials/stratus-red-team/"
    names = [f"{path}credentials-{i}" for i in range(30)]
    for i, name in enumerate(names):
        g.terraform(g.at(i), "ssm.amazonaws.com", "PutParameter",
                    {"name": name, "type": "SecureString", "value": "HIDDEN_DUE_TO_SECURITY_REASONS",
                     "tags": [{"key": "StratusRedTeam", "value": "true"}]},
                    {"version": 1, "tier": "Standard"})
    ident = g.operator()
    for page in range(3):
        req = {"maxResults": 10}
        if page:
            req["nextToken"] = "HIDDEN_DUE_TO_SECURITY_REASONS"
        g.add(g.at(6 * 60 + page * 2), ident, "ssm.amazonaws.com", "DescribeParameters", req,
              None, read_only=True)
        g.add(g.at(6 * 60 + page * 2 + 1), ident, "ssm.amazonaws.com", "GetParameters",
              {"names": names[page * 10:(page + 1) * 10], "withDecryption": True}, None,
              read_only=True)


def trail_warmup(g, trail, bucket):
    g.terraform(g.at(0), "s3.amazonaws.com", "CreateBucket",
                {"bucketName": bucket, "Host": host_for("s3.amazonaws.com", REGION, bucket)}, None,
                bucket=bucket,
                resources=[{"accountId": ACCOUNT, "type": "AWS::S3::Bucket", "ARN": f"arn:aws:s3:::{bucket}"}])
    g.terraform(g.at(20), "cloudtrail.amazonaws.com", "CreateTrail",
                {"name": trail, "s3BucketName": bucket, "includeGlobalServiceEvents": True,
                 "isMultiRegionTrail": False, "enableLogFileValidation": False,
                 "isOrganizationTrail": False},
                {"name": trail, "s3BucketName": bucket, "includeGlobalServiceEvents": True,
                 "isMultiRegionTrail": False,
                 "trailARN": f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/{trail}",
                 "logFileValidationEnabled": False, "isOrganizationTrail": False})
    g.terraform(g.at(22), "cloudtrail.amazonaws.com", "StartLogging",
                {"name": f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/{trail}"}, None)


def cloudtrail_delete(g, failed=False):
    trail, bucket = "my-cloudtrail-trail", "my-cloudtrail-bucket-" + det_alnum(16, g.tech, upper=False)
    trail_warmup(g, trail, bucket)
    ident = g.operator()
    error = None
    if failed:
        ident = g.assume_role(g.at(6 * 60), "stratus-red-team-limited-role", go_session(g.tech, g.at(6 * 60)))
        error = denied("AccessDenied", ident, "cloudtrail:DeleteTrail",
                       f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/{trail}")
    g.add(g.at(6 * 60 + 2), ident, "cloudtrail.amazonaws.com", "DeleteTrail", {"name": trail},
          None, error=error)


def cloudtrail_stop(g, failed=False):
    trail, bucket = "my-cloudtrail-trail-2", "my-cloudtrail-bucket-" + det_alnum(16, g.tech, upper=False)
    trail_warmup(g, trail, bucket)
    ident = g.operator()
    error = None
    if failed:
        ident = g.assume_role(g.at(6 * 60), "stratus-red-team-limited-role", go_session(g.tech, g.at(6 * 60)))
        error = denied("AccessDenied", ident, "cloudtrail:StopLogging",
                       f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/{trail}")
    g.add(g.at(6 * 60 + 2), ident, "cloudtrail.amazonaws.com", "StopLogging", {"name": trail},
          None, error=error)


def cloudtrail_event_selectors(g):
    trail, bucket = "my-cloudtrail-trail", "my-cloudtrail-bucket-" + det_alnum(16, g.tech, upper=False)
    trail_warmup(g, trail, bucket)
    selectors = [{"readWriteType": "ReadOnly", "includeManagementEvents": False,
                  "dataResources": [{"type": "AWS::S3::Object", "values": []},
                                    {"type": "AWS::Lambda::Function", "values": []}],
                  "excludeManagementEventSources": []}]
    g.add(g.at(6 * 60), g.operator(), "cloudtrail.amazonaws.com", "PutEventSelectors",
          {"trailName": trail, "eventSelectors": selectors},
          {"trailARN": f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/{trail}",
           "eventSelectors": selectors})


def cloudtrail_lifecycle_rule(g):
    trail, bucket = "my-cloudtrail-trail-3", "my-cloudtrail-bucket-" + det_alnum(16, g.tech, upper=False)
    trail_warmup(g, trail, bucket)
    g.s3_mgmt(g.at(6 * 60), g.operator(), "PutBucketLifecycle", bucket, {
        "lifecycle": "",
        "LifecycleConfiguration": {"xmlns": S3_XMLNS, "Rule": {
            "Filter": {"Prefix": "*"}, "Expiration": {"Days": 1},
            "ID": "nuke-cloudtrail-logs-after-1-day", "Status": "Enabled"}}})


def dns_delete_logs(g):
    name = "stratus-red-team-dns-query-log-config"
    config_id = "rqlc-" + g.hx(16, "rqlc")
    arn = f"arn:aws:route53resolver:{REGION}:{ACCOUNT}:resolver-query-log-config/{config_id}"
    dest = f"arn:aws:s3:::stratus-red-team-dns-logs-{g.hx(8, 'bucket')}"
    cfg = {"id": config_id, "ownerId": ACCOUNT, "status": "CREATING", "shareStatus": "NOT_SHARED",
           "associationCount": 0, "arn": arn, "name": name, "destinationArn": dest,
           "creatorRequestId": "terraform-" + g.hx(26, "creator"),
           "creationTime": iso(g.at(0))[:-1] + ".512Z"}
    g.terraform(g.at(0), "route53resolver.amazonaws.com", "CreateResolverQueryLogConfig",
                {"name": name, "destinationArn": dest, "creatorRequestId": cfg["creatorRequestId"],
                 "tags": [{"key": "StratusRedTeam", "value": "true"}]},
                {"resolverQueryLogConfig": cfg})
    g.add(g.at(6 * 60), g.operator(), "route53resolver.amazonaws.com", "DeleteResolverQueryLogConfig",
          {"resolverQueryLogConfigId": config_id},
          {"resolverQueryLogConfig": {**cfg, "status": "DELETING"}})


def organizations_leave(g):
    role = "stratus-red-team-leave-org-role"
    warmup_role(g, g.at(0), role, trust_account=ACCOUNT)
    t0 = g.at(6 * 60)
    ident = g.assume_role(t0, role, go_session(g.tech, t0))
    g.add(g.at(6 * 60 + 12), ident, "organizations.amazonaws.com", "LeaveOrganization", None, None,
          error=("AccessDeniedException", "You don't have permissions to access this resource."))


def vpc_remove_flow_logs(g):
    vpc, fl = "vpc-0" + g.hx(16, "vpc"), "fl-0" + g.hx(16, "flow-log")
    g.terraform(g.at(0), "ec2.amazonaws.com", "CreateFlowLogs",
                {"CreateFlowLogsRequest": {"ResourceId": {"content": vpc, "tag": 1},
                                           "ResourceType": "VPC", "TrafficType": "ALL",
                                           "LogDestinationType": "cloud-watch-logs",
                                           "LogGroupName": "/stratus-red-team/flow-logs",
                                           "DeliverLogsPermissionArn": f"arn:aws:iam::{ACCOUNT}:role/stratus-red-team-flow-logs-role"}},
                {"CreateFlowLogsResponse": {"xmlns": EC2_XMLNS, "requestId": g.uid("ec2-request", 1),
                                            "flowLogIdSet": {"item": fl}, "unsuccessful": ""}})
    g.add(g.at(6 * 60), g.operator(), "ec2.amazonaws.com", "DeleteFlowLogs",
          {"DeleteFlowLogsRequest": {"FlowLogId": {"content": fl, "tag": 1}}},
          {"DeleteFlowLogsResponse": {"xmlns": EC2_XMLNS, "requestId": g.uid("ec2-request", 2),
                                      "unsuccessful": ""}})


def ec2_download_user_data(g):
    role = "stratus-red-team-get-user-data-role-" + g.hx(6, "suffix")
    warmup_role(g, g.at(0), role, trust_account=ACCOUNT)
    t0 = g.at(6 * 60)
    ident = g.assume_role(t0, role, go_session(g.tech, t0))
    for i in range(15):
        iid = "i-" + det_hex(16, g.tech, "fake-instance", i)
        g.add(g.at(6 * 60 + 1 + i), ident, "ec2.amazonaws.com", "DescribeInstanceAttribute",
              {"instanceId": iid, "attribute": "userData"}, None, read_only=True,
              error=denied_ec2(ident, "ec2:DescribeInstanceAttribute"))


def ec2_enumerate_from_instance(g, failed=False):
    """The discovery commands, run on the instance through SSM under its instance role.

    As shipped, Stratus gives the instance role only AmazonSSMManagedInstanceCore, so every call
    but sts:GetCallerIdentity is refused: that is the `.failed` variant. The main file is the
    same detonation with a role that may read (what the matrix reasons about).
    """
    role = "stratus-red-team-ec2-enumerate-role"
    iid = instance_id(g, 0)
    warmup_role(g, g.at(0), role, trust_service="ec2.amazonaws.com")
    warmup_instance(g, g.at(40), iid, "stratus-red-team-ec2-enumerate-instance")
    t0 = g.at(6 * 60)
    ssm_wait_registered(g, t0, [iid])
    cmd = g.uid("command-id")
    send_command(g, g.at(6 * 60 + 2), [iid], cmd)
    inst = g.role_session(role, iid, ec2=True, created=g.at(5 * 60))
    cli = ("aws-cli/2.22.35 md/awscrt#0.23.4 ua/2.0 os/linux#5.10.234-225.895.amzn2.x86_64 "
           "md/arch#x86_64 lang/python#3.12.6 md/pyimpl#CPython exec-env/" + g.ua +
           " cfg/retry-mode#standard md/installer#exe md/distrib#amzn.2 md/prompt#off md/command#")
    calls = [
        ("sts.amazonaws.com", "GetCallerIdentity", "sts.get-caller-identity", None, None),
        ("s3.amazonaws.com", "ListBuckets", "s3.ls", {"Host": "s3.us-east-1.amazonaws.com"}, "s3:ListAllMyBuckets"),
        ("iam.amazonaws.com", "GetAccountSummary", "iam.get-account-summary", None, "iam:GetAccountSummary"),
        ("iam.amazonaws.com", "ListRoles", "iam.list-roles", None, "iam:ListRoles"),
        ("iam.amazonaws.com", "ListUsers", "iam.list-users", None, "iam:ListUsers"),
        ("iam.amazonaws.com", "GetAccountAuthorizationDetails", "iam.get-account-authorization-details",
         None, "iam:GetAccountAuthorizationDetails"),
        ("ec2.amazonaws.com", "DescribeSnapshots", "ec2.describe-snapshots",
         {"snapshotSet": {}, "ownersSet": {}, "sharedUsersSet": {}, "filterSet": {}}, "ec2:DescribeSnapshots"),
        ("cloudtrail.amazonaws.com", "DescribeTrails", "cloudtrail.describe-trails", None, "cloudtrail:DescribeTrails"),
        ("guardduty.amazonaws.com", "ListDetectors", "guardduty.list-detectors", None, "guardduty:ListDetectors"),
    ]
    t = 6 * 60 + 6
    for source, name, command, req, action in calls:
        error = None
        if failed and action:
            if source == "ec2.amazonaws.com":
                error = denied_ec2(inst, action)
            elif source in ("guardduty.amazonaws.com",):
                error = denied("AccessDeniedException", inst, action)
            else:
                error = denied("AccessDenied", inst, action,
                               f"arn:aws:iam::{ACCOUNT}:*" if source == "iam.amazonaws.com" else
                               (f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/*" if source == "cloudtrail.amazonaws.com" else None))
        region = "us-east-1"
        g.add(g.at(t), inst, source, name, req, None, ip=NAT_IP, ua=cli + command, read_only=True,
              error=error, region=region)
        t += 2 if name != "GetAccountAuthorizationDetails" else 4
    get_command_invocation(g, g.at(t + 2), cmd, iid)


def ses_enumerate(g):
    ident = g.operator()
    g.add(g.at(6 * 60), ident, "ses.amazonaws.com", "GetAccountSendingEnabled", None, None, read_only=True)
    g.add(g.at(6 * 60 + 1), ident, "ses.amazonaws.com", "ListIdentities", None, None, read_only=True)
    g.add(g.at(6 * 60 + 1), ident, "ses.amazonaws.com", "GetIdentityVerificationAttributes",
          {"identities": ["notifications@example.com"]}, None, read_only=True)
    g.add(g.at(6 * 60 + 2), ident, "ses.amazonaws.com", "GetSendQuota", None, None, read_only=True)


def ec2_launch_unusual_instances(g):
    role = "stratus-red-team-launch-unusual-instances-role"
    warmup_role(g, g.at(0), role, trust_account=ACCOUNT)
    t0 = g.at(6 * 60)
    ident = g.assume_role(t0, role, go_session(g.tech, t0))
    g.add(g.at(6 * 60 + 4), ident, "ec2.amazonaws.com", "RunInstances",
          {"instancesSet": {"items": [{"imageId": "ami-0" + g.hx(16, "ami"), "minCount": 1, "maxCount": 10}]},
           "instanceType": "p2.xlarge", "blockDeviceMapping": {}, "subnetId": "subnet-0" + g.hx(16, "subnet"),
           "monitoring": {"enabled": False}, "disableApiTermination": False, "disableApiStop": False,
           "clientToken": g.uid("client-token")},
          None,
          error=denied_ec2(ident, "ec2:RunInstances",
                           f"arn:aws:ec2:{REGION}:{ACCOUNT}:instance/*"))
    g.records[-1]["errorMessage"] += ". Encoded authorization failure message: " + det_alnum(180, g.tech, "encoded", upper=False)


def ec2_user_data(g):
    iid = instance_id(g, 0)
    warmup_instance(g, g.at(0), iid, "stratus-red-team-ec2-user-data-instance")
    ident = g.operator()
    t0 = 6 * 60
    state = lambda cur, prev: {"items": [{"instanceId": iid, "currentState": cur, "previousState": prev}]}
    running, stopping, stopped, pending = ({"code": 16, "name": "running"}, {"code": 64, "name": "stopping"},
                                           {"code": 80, "name": "stopped"}, {"code": 0, "name": "pending"})
    g.add(g.at(t0), ident, "ec2.amazonaws.com", "StopInstances",
          {"instancesSet": {"items": [{"instanceId": iid}]}, "force": True},
          g.ec2_resp(instancesSet=state(stopping, running)))
    for i in range(4):
        g.add(g.at(t0 + 2 + i * 2), ident, "ec2.amazonaws.com", "DescribeInstances",
              {"instancesSet": {"items": [{"instanceId": iid}]}, "filterSet": {}}, None, read_only=True)
    g.add(g.at(t0 + 41), ident, "ec2.amazonaws.com", "ModifyInstanceAttribute",
          {"instanceId": iid, "userData": "<sensitiveDataRemoved>"}, g.ec2_resp(_return=True))
    g.add(g.at(t0 + 42), ident, "ec2.amazonaws.com", "StartInstances",
          {"instancesSet": {"items": [{"instanceId": iid}]}},
          g.ec2_resp(instancesSet=state(pending, stopped)))
    for i in range(3):
        g.add(g.at(t0 + 44 + i * 2), ident, "ec2.amazonaws.com", "DescribeInstances",
              {"instancesSet": {"items": [{"instanceId": iid}]}, "filterSet": {}}, None, read_only=True)


def sagemaker_update_lifecycle_config(g):
    nb = "stratus-red-team-notebook-" + g.hx(6, "suffix")
    role = "stratus-red-team-sagemaker-victim-role"
    warmup_role(g, g.at(0), role, trust_service="sagemaker.amazonaws.com")
    g.terraform(g.at(30), "sagemaker.amazonaws.com", "CreateNotebookInstance",
                {"notebookInstanceName": nb, "instanceType": "ml.t3.medium",
                 "roleArn": f"arn:aws:iam::{ACCOUNT}:role/{role}",
                 "tags": [{"key": "StratusRedTeam", "value": "true"}]},
                {"notebookInstanceArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:notebook-instance/{nb}"})
    ident = g.operator()
    t0 = 9 * 60
    g.add(g.at(t0), ident, "sagemaker.amazonaws.com", "CreateNotebookInstanceLifecycleConfig",
          {"notebookInstanceLifecycleConfigName": "priv-esc-config",
           "onStart": [{"content": "HIDDEN_DUE_TO_SECURITY_REASONS"}]},
          {"notebookInstanceLifecycleConfigArn":
           f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:notebook-instance-lifecycle-config/priv-esc-config"})
    g.add(g.at(t0 + 1), ident, "sagemaker.amazonaws.com", "StopNotebookInstance",
          {"notebookInstanceName": nb}, None)
    for i in range(3):
        g.add(g.at(t0 + 31 + i * 30), ident, "sagemaker.amazonaws.com", "DescribeNotebookInstance",
              {"notebookInstanceName": nb}, None, read_only=True)
    g.add(g.at(t0 + 125), ident, "sagemaker.amazonaws.com", "UpdateNotebookInstance",
          {"notebookInstanceName": nb, "lifecycleConfigName": "priv-esc-config"}, None)
    for i in range(2):
        g.add(g.at(t0 + 155 + i * 30), ident, "sagemaker.amazonaws.com", "DescribeNotebookInstance",
              {"notebookInstanceName": nb}, None, read_only=True)
    g.add(g.at(t0 + 216), ident, "sagemaker.amazonaws.com", "StartNotebookInstance",
          {"notebookInstanceName": nb}, None)


def ssm_send_command(g):
    ids = [instance_id(g, i) for i in range(3)]
    for i, iid in enumerate(ids):
        warmup_instance(g, g.at(i * 5), iid, "stratus-red-team-ssm-send-command-instance")
    t0 = 6 * 60
    ssm_wait_registered(g, g.at(t0), ids)
    cmd = g.uid("command-id")
    send_command(g, g.at(t0 + 2), ids, cmd)
    for i, iid in enumerate(ids):
        get_command_invocation(g, g.at(t0 + 3 + i), cmd, iid)


def ssm_start_session(g):
    ids = [instance_id(g, i) for i in range(3)]
    for i, iid in enumerate(ids):
        warmup_instance(g, g.at(i * 5), iid, "stratus-red-team-ssm-start-session-instance")
    ident = g.operator()
    t0 = 6 * 60
    ssm_wait_registered(g, g.at(t0), ids)
    for i, iid in enumerate(ids):
        sid = f"{SSO_SESSION}-{g.hx(17, 'session', i)}"
        g.add(g.at(t0 + 2 + i * 2), ident, "ssm.amazonaws.com", "StartSession", {"target": iid},
              {"sessionId": sid, "tokenValue": "Value hidden due to security reasons.",
               "streamUrl": f"wss://ssmmessages.{REGION}.amazonaws.com/v1/data-channel/{sid}?role=publish_subscribe&cell-number=" + det_alnum(40, g.tech, "cell", i)})
        g.add(g.at(t0 + 3 + i * 2), ident, "ssm.amazonaws.com", "TerminateSession",
              {"sessionId": sid}, {"sessionId": sid})


def ec2_security_group_open_port_22_ingress(g):
    vpc, sg = "vpc-0" + g.hx(16, "vpc"), "sg-0" + g.hx(16, "sg")
    g.terraform(g.at(0), "ec2.amazonaws.com", "CreateSecurityGroup",
                {"groupName": "stratus-red-team-sg", "groupDescription": "Managed by Terraform",
                 "vpcId": vpc}, g.ec2_resp(_return=True, groupId=sg))
    g.add(g.at(6 * 60), g.operator(), "ec2.amazonaws.com", "AuthorizeSecurityGroupIngress",
          {"groupId": sg, "ipPermissions": {}, "ipProtocol": "tcp", "fromPort": 22, "toPort": 22,
           "cidrIp": "0.0.0.0/0"},
          g.ec2_resp(_return=True, securityGroupRuleSet={"items": [{
              "groupOwnerId": ACCOUNT, "groupId": sg, "securityGroupRuleId": "sgr-0" + g.hx(16, "sgr"),
              "isEgress": False, "ipProtocol": "tcp", "fromPort": 22, "toPort": 22,
              "cidrIpv4": "0.0.0.0/0"}]}))


def ec2_share_ami(g):
    ami = "ami-0" + g.hx(16, "ami")
    g.terraform(g.at(0), "ec2.amazonaws.com", "CreateImage",
                {"instanceId": instance_id(g, 0), "name": "stratus-red-team-ami", "noReboot": True},
                g.ec2_resp(imageId=ami))
    g.add(g.at(6 * 60), g.operator(), "ec2.amazonaws.com", "ModifyImageAttribute",
          {"imageId": ami, "launchPermission": {"add": {"items": [{"userId": "012345678901"}]}},
           "attributeType": "launchPermission"},
          g.ec2_resp(_return=True))


def ec2_share_ebs_snapshot(g):
    vol, snap = "vol-0" + g.hx(16, "vol"), "snap-0" + g.hx(16, "snap")
    g.terraform(g.at(0), "ec2.amazonaws.com", "CreateVolume",
                {"size": 1, "zone": "us-east-1a", "volumeType": "gp2", "encrypted": False,
                 "tagSpecificationSet": {"items": [{"resourceType": "volume", "tags": [{"key": "StratusRedTeam", "value": "true"}]}]}},
                g.ec2_resp(volumeId=vol, size="1", zone="us-east-1a", status="creating",
                           createTime=int(g.at(0).replace(tzinfo=dt.timezone.utc).timestamp() * 1000),
                           volumeType="gp2", encrypted=False))
    g.terraform(g.at(20), "ec2.amazonaws.com", "CreateSnapshot",
                {"volumeId": vol, "description": ""},
                g.ec2_resp(snapshotId=snap, volumeId=vol, status="pending", ownerId=ACCOUNT,
                           volumeSize=1, encrypted=False))
    g.add(g.at(6 * 60), g.operator(), "ec2.amazonaws.com", "ModifySnapshotAttribute",
          {"snapshotId": snap, "createVolumePermission": {"add": {"items": [{"userId": "012345678912"}]}},
           "attributeType": "CREATE_VOLUME_PERMISSION"},
          g.ec2_resp(_return=True))


def rds_share_snapshot(g):
    db, snap = "stratus-red-team-db", "exfiltration"
    g.terraform(g.at(0), "rds.amazonaws.com", "CreateDBSnapshot",
                {"dBSnapshotIdentifier": snap, "dBInstanceIdentifier": db,
                 "tags": [{"key": "StratusRedTeam", "value": "true"}]},
                {"dBSnapshotIdentifier": snap, "dBInstanceIdentifier": db, "engine": "postgres",
                 "allocatedStorage": 10, "status": "creating", "port": 5432,
                 "availabilityZone": "us-east-1a", "vpcId": "vpc-0" + g.hx(16, "vpc"),
                 "masterUsername": "admin", "engineVersion": "16.3", "licenseModel": "postgresql-license",
                 "snapshotType": "manual", "encrypted": False,
                 "dBSnapshotArn": f"arn:aws:rds:{REGION}:{ACCOUNT}:snapshot:{snap}",
                 "dbiResourceId": "db-" + det_alnum(26, g.tech, "dbi"), "storageType": "gp2"})
    g.add(g.at(9 * 60), g.operator(), "rds.amazonaws.com", "ModifyDBSnapshotAttribute",
          {"dBSnapshotIdentifier": snap, "attributeName": "restore", "valuesToAdd": [ATTACKER_ACCOUNT]},
          {"dBSnapshotIdentifier": snap, "dBSnapshotAttributes": [
              {"attributeName": "restore", "attributeValues": [ATTACKER_ACCOUNT]}]})


def s3_backdoor_bucket_policy(g):
    bucket = "stratus-red-team-bdbp-" + det_alnum(8, g.tech, upper=False)
    g.terraform(g.at(0), "s3.amazonaws.com", "CreateBucket",
                {"bucketName": bucket, "Host": host_for("s3.amazonaws.com", REGION, bucket)}, None,
                bucket=bucket,
                resources=[{"accountId": ACCOUNT, "type": "AWS::S3::Bucket", "ARN": f"arn:aws:s3:::{bucket}"}])
    policy = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ATTACKER_ACCOUNT}:root"},
        "Action": ["s3:GetObject", "s3:GetBucketLocation", "s3:ListBucket"],
        "Resource": [f"arn:aws:s3:::{bucket}/*", f"arn:aws:s3:::{bucket}"]}]}
    g.s3_mgmt(g.at(6 * 60), g.operator(), "PutBucketPolicy", bucket,
              {"bucketPolicy": policy, "policy": ""})


def bedrock_invoke_model(g, failed=False):
    ident = g.operator()
    model = "anthropic.claude-v2"
    if failed:
        ident = g.assume_role(g.at(5 * 60), "stratus-red-team-bedrock-role", go_session(g.tech, g.at(5 * 60)))

    def call(secs, name, req, read_only, denied_ok=True):
        error = None
        if failed and denied_ok:
            error = denied("AccessDeniedException", ident, f"bedrock:{name}",
                           f"arn:aws:bedrock:{REGION}::foundation-model/{model}")
        g.add(g.at(secs), ident, "bedrock.amazonaws.com", name, req, None, read_only=read_only,
              error=error)

    t0 = 6 * 60
    call(t0, "GetFoundationModelAvailability", {"modelId": model}, True, denied_ok=False)
    call(t0 + 1, "PutUseCaseForModelAccess", {"formData": "HIDDEN_DUE_TO_SECURITY_REASONS"}, False)
    call(t0 + 2, "ListFoundationModelAgreementOffers", {"modelId": model}, True, denied_ok=False)
    call(t0 + 3, "CreateFoundationModelAgreement",
         {"offerToken": "HIDDEN_DUE_TO_SECURITY_REASONS", "modelId": model}, False)
    call(t0 + 4, "PutFoundationModelEntitlement", {"modelId": model}, False)
    call(t0 + 20, "GetFoundationModelAvailability", {"modelId": model}, True, denied_ok=False)
    if failed:
        g.add(g.at(t0 + 21), ident, "bedrock.amazonaws.com", "InvokeModel", {"modelId": model}, None,
              read_only=True,
              error=("AccessDeniedException", "You don't have access to the model with the specified model ID."))
    else:
        g.add(g.at(t0 + 21), ident, "bedrock.amazonaws.com", "InvokeModel", {"modelId": model}, None,
              read_only=True,
              extra={"additionalEventData": {"inputTokens": 14, "outputTokens": 1}})


def ec2_deregister_ami(g):
    vol, snap, ami = "vol-0" + g.hx(16, "vol"), "snap-0" + g.hx(16, "snap"), "ami-0" + g.hx(16, "ami")
    g.terraform(g.at(30), "ec2.amazonaws.com", "RegisterImage",
                {"name": "stratus-red-team-deregister-ami", "architecture": "x86_64",
                 "rootDeviceName": "/dev/xvda", "virtualizationType": "hvm",
                 "blockDeviceMapping": {"items": [{"deviceName": "/dev/xvda", "ebs": {"snapshotId": snap, "deleteOnTermination": True}}]}},
                g.ec2_resp(imageId=ami))
    g.add(g.at(6 * 60), g.operator(), "ec2.amazonaws.com", "DeregisterImage",
          {"imageId": ami, "deleteAssociatedSnapshots": False}, g.ec2_resp(_return=True))


def ransomware_bucket(g, versioned=True):
    bucket = "stratus-red-team-ransomware-bucket-" + det_alnum(6, g.tech, "bucket", upper=False)
    keys = []
    for i in range(51):
        a = WORDS[det_int(0, len(WORDS) - 1, g.tech, "w1", i)]
        b = WORDS[det_int(0, len(WORDS) - 1, g.tech, "w2", i)]
        sep = SEPARATORS[det_int(0, 2, g.tech, "sep", i)]
        ext = EXTENSIONS[det_int(0, 5, g.tech, "ext", i)]
        keys.append(f"{a}{sep}{b}.{ext}")
    keys = list(dict.fromkeys(keys))  # unique, order kept
    op = g.operator()
    g.terraform(g.at(0), "s3.amazonaws.com", "CreateBucket",
                {"bucketName": bucket, "Host": host_for("s3.amazonaws.com", REGION, bucket)}, None,
                bucket=bucket,
                resources=[{"accountId": ACCOUNT, "type": "AWS::S3::Bucket", "ARN": f"arn:aws:s3:::{bucket}"}])
    if versioned:
        g.s3_mgmt(g.at(3), op, "PutBucketVersioning", bucket,
                  {"versioning": "", "VersioningConfiguration": {"xmlns": S3_XMLNS, "Status": "Enabled"}},
                  ua=TERRAFORM_UA)
    versions = {}
    for i, k in enumerate(keys):
        size = det_int(1, 200, g.tech, "size", i) * 2
        v = det_alnum(32, g.tech, "version", k, upper=False) if versioned else None
        versions[k] = v
        resp = {"x-amz-server-side-encryption": "AES256"}
        if v:
            resp["x-amz-version-id"] = v
        g.s3_data(g.at(10 + i), op, "PutObject", bucket, {"key": k, "x-id": "PutObject"}, resp,
                  key=k, ua=TERRAFORM_UA, bytes_in=size, sse="default_SSE_S3")
    return bucket, keys, versions


def download_all(g, ident, bucket, keys, t0):
    g.s3_data(g.at(t0), ident, "ListObjects", bucket, {"list-type": "2", "x-id": "ListObjectsV2"},
              read_only=True, bytes_out=det_int(9000, 12000, g.tech, "list"))
    for i, k in enumerate(keys):
        g.s3_data(g.at(t0 + 1 + i // 10), ident, "GetObject", bucket, {"key": k, "x-id": "GetObject"},
                  key=k, read_only=True, bytes_out=det_int(2, 400, g.tech, "size-out", i))
    return t0 + 2 + len(keys) // 10


def ransom_note(g, ident, bucket, t):
    g.s3_data(g.at(t), ident, "PutObject", bucket, {"key": "FILES-DELETED.txt", "x-id": "PutObject"},
              {"x-amz-server-side-encryption": "AES256",
               "x-amz-version-id": det_alnum(32, g.tech, "note-version", upper=False)},
              key="FILES-DELETED.txt", bytes_in=236, sse="default_SSE_S3")


def s3_ransomware_batch_deletion(g):
    bucket, keys, _ = ransomware_bucket(g)
    op = g.operator()
    t = download_all(g, op, bucket, keys, 7 * 60)
    g.s3_data(g.at(t + 1), op, "ListObjectVersions", bucket, {"versions": ""}, read_only=True,
              bytes_out=det_int(14000, 18000, g.tech, "versions"))
    g.s3_data(g.at(t + 2), op, "DeleteObjects", bucket, {"delete": "", "x-id": "DeleteObjects"},
              object_arn_prefix=True, bytes_in=det_int(6000, 8000, g.tech, "delete-body"),
              bytes_out=det_int(5000, 7000, g.tech, "delete-out"))
    ransom_note(g, op, bucket, t + 3)


def s3_ransomware_individual_deletion(g):
    bucket, keys, versions = ransomware_bucket(g)
    op = g.operator()
    t = download_all(g, op, bucket, keys, 7 * 60)
    g.s3_data(g.at(t + 1), op, "ListObjectVersions", bucket, {"versions": ""}, read_only=True,
              bytes_out=det_int(14000, 18000, g.tech, "versions"))
    for i, k in enumerate(keys):
        g.s3_data(g.at(t + 2 + i // 8), op, "DeleteObject", bucket,
                  {"key": k, "versionId": versions[k], "x-id": "DeleteObject"},
                  {"x-amz-version-id": versions[k]}, key=k)
    ransom_note(g, op, bucket, t + 3 + len(keys) // 8)


def s3_ransomware_client_side_encryption(g):
    bucket, keys, _ = ransomware_bucket(g, versioned=False)
    op = g.operator()
    t = download_all(g, op, bucket, keys, 7 * 60)
    g.s3_data(g.at(t + 1), op, "ListObjectVersions", bucket, {"versions": ""}, read_only=True,
              bytes_out=det_int(14000, 18000, g.tech, "versions"))
    for i, k in enumerate(keys):
        g.s3_data(g.at(t + 2 + i // 6), op, "CopyObject", bucket,
                  {"x-amz-server-side-encryption-customer-algorithm": "AES256",
                   "x-amz-copy-source": f"{bucket}/{k}", "key": k, "x-id": "CopyObject"},
                  {"x-amz-server-side-encryption-customer-algorithm": "AES256"}, key=k, sse="SSE_C")
    ransom_note(g, op, bucket, t + 3 + len(keys) // 6)


def console_login_without_mfa(g):
    user = "console-user-" + det_alnum(8, g.tech, upper=False)
    g.terraform(g.at(0), "iam.amazonaws.com", "CreateUser",
                {"userName": user, "path": "/", "tags": [{"key": "StratusRedTeam", "value": "true"}]},
                {"user": {"path": "/", "userName": user, "userId": "AIDA" + det_alnum(17, "user-id", user),
                          "arn": f"arn:aws:iam::{ACCOUNT}:user/{user}", "createDate": iam_date(g.at(0)),
                          "tags": [{"key": "StratusRedTeam", "value": "true"}]}})
    g.terraform(g.at(2), "iam.amazonaws.com", "CreateLoginProfile",
                {"userName": user, "passwordResetRequired": False},
                {"loginProfile": {"userName": user, "createDate": iam_date(g.at(2)),
                                  "passwordResetRequired": False}})
    g.add(g.at(6 * 60), g.iam_user(user, key=False), "signin.amazonaws.com", "ConsoleLogin", None,
          {"ConsoleLogin": "Success"}, event_type="AwsConsoleSignIn", version="1.09",
          extra={"additionalEventData": {"LoginTo": "https://console.aws.amazon.com/console/home",
                                         "MobileVersion": "No", "MFAUsed": "No"}})


def ec2_instance_connect(g):
    ids = [instance_id(g, i) for i in range(3)]
    for i, iid in enumerate(ids):
        warmup_instance(g, g.at(i * 5), iid, "stratus-red-team-ec2-instance-connect-instance")
    key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI" + det_alnum(43, g.tech, "pubkey", upper=False) + " stratus-red-team"
    for i, iid in enumerate(ids):
        g.add(g.at(6 * 60 + i), g.operator(), "ec2-instance-connect.amazonaws.com", "SendSSHPublicKey",
              {"instanceId": iid, "instanceOSUser": "ec2-user", "sSHPublicKey": key},
              {"requestId": g.uid("eic-request", i), "success": True})


def ec2_serial_console_send_ssh_public_key(g):
    ids = [instance_id(g, i) for i in range(2)]
    for i, iid in enumerate(ids):
        warmup_instance(g, g.at(i * 5), iid, "stratus-red-team-serial-console-instance")
    ident = g.operator()
    t0 = 6 * 60
    g.add(g.at(t0), ident, "ec2.amazonaws.com", "GetSerialConsoleAccessStatus",
          {"GetSerialConsoleAccessStatusRequest": ""}, None, read_only=True)
    g.add(g.at(t0 + 1), ident, "ec2.amazonaws.com", "EnableSerialConsoleAccess",
          {"EnableSerialConsoleAccessRequest": ""},
          {"EnableSerialConsoleAccessResponse": {"xmlns": EC2_XMLNS, "requestId": g.uid("ec2-request", "enable"),
                                                 "serialConsoleAccessEnabled": True}})
    key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI" + det_alnum(43, g.tech, "pubkey", upper=False) + " stratus-red-team"
    for i, iid in enumerate(ids):
        g.add(g.at(t0 + 2 + i), ident, "ec2-instance-connect.amazonaws.com", "SendSerialConsoleSSHPublicKey",
              {"instanceId": iid, "serialPort": 0, "sSHPublicKey": key},
              {"requestId": g.uid("eic-request", i), "success": True})
    g.add(g.at(t0 + 4), ident, "ec2.amazonaws.com", "DisableSerialConsoleAccess",
          {"DisableSerialConsoleAccessRequest": ""},
          {"DisableSerialConsoleAccessResponse": {"xmlns": EC2_XMLNS, "requestId": g.uid("ec2-request", "disable"),
                                                  "serialConsoleAccessEnabled": False}})


def iam_backdoor_role(g):
    role = "stratus-red-team-backdoor-r-role"
    warmup_role(g, g.at(0), role, trust_service="ec2.amazonaws.com")
    doc = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"},
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ATTACKER_ACCOUNT}:root"},
         "Action": "sts:AssumeRole"}]}, indent=2)
    g.add(g.at(6 * 60), g.operator(), "iam.amazonaws.com", "UpdateAssumeRolePolicy",
          {"roleName": role, "policyDocument": doc}, None)


def create_user(g, t, user, *, warmup=False):
    req = {"userName": user, "tags": [{"key": "StratusRedTeam", "value": "true"}]}
    resp = {"user": {"path": "/", "userName": user, "userId": "AIDA" + det_alnum(17, "user-id", user),
                     "arn": f"arn:aws:iam::{ACCOUNT}:user/{user}", "createDate": iam_date(t),
                     "tags": [{"key": "StratusRedTeam", "value": "true"}]}}
    if warmup:
        g.terraform(t, "iam.amazonaws.com", "CreateUser", req, resp)
    else:
        g.add(t, g.operator(), "iam.amazonaws.com", "CreateUser", req, resp)


def create_access_key(g, t, user):
    g.add(t, g.operator(), "iam.amazonaws.com", "CreateAccessKey", {"userName": user},
          {"accessKey": {"userName": user, "accessKeyId": g.access_key("AKIA", "created", user),
                         "status": "Active", "createDate": iam_date(t)}})


def iam_backdoor_user(g):
    user = "stratus-red-team-backdoor-u-user"
    create_user(g, g.at(0), user, warmup=True)
    create_access_key(g, g.at(6 * 60), user)


def iam_create_admin_user(g):
    user = "malicious-iam-user"
    t0 = 6 * 60
    create_user(g, g.at(t0), user)
    g.add(g.at(t0 + 1), g.operator(), "iam.amazonaws.com", "AttachUserPolicy",
          {"userName": user, "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}, None)
    create_access_key(g, g.at(t0 + 2), user)


def iam_create_backdoor_role(g):
    role = "stratus-red-team-malicious-iam-role"
    doc = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"},
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ATTACKER_ACCOUNT}:root"},
         "Action": "sts:AssumeRole"}]}, indent=2)
    t = g.at(6 * 60)
    role_id = "AROA" + det_alnum(17, "role-id", role)
    g.add(t, g.operator(), "iam.amazonaws.com", "CreateRole",
          {"roleName": role, "assumeRolePolicyDocument": doc,
           "permissionsBoundary": "arn:aws:iam::aws:policy/AWSDenyAll"},
          {"role": {"path": "/", "roleName": role, "roleId": role_id,
                    "arn": f"arn:aws:iam::{ACCOUNT}:role/{role}", "createDate": iam_date(t),
                    "assumeRolePolicyDocument": urllib.parse.quote(doc, safe=""),
                    "permissionsBoundary": {"permissionsBoundaryType": "Policy",
                                            "permissionsBoundaryArn": "arn:aws:iam::aws:policy/AWSDenyAll"}}})
    g.add(g.at(6 * 60 + 1), g.operator(), "iam.amazonaws.com", "AttachRolePolicy",
          {"roleName": role, "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}, None)


def iam_create_user_login_profile(g):
    user = "stratus-red-team-login-profile-user"
    create_user(g, g.at(0), user, warmup=True)
    t = g.at(6 * 60)
    g.add(t, g.operator(), "iam.amazonaws.com", "CreateLoginProfile",
          {"userName": user, "passwordResetRequired": False},
          {"loginProfile": {"userName": user, "createDate": iam_date(t), "passwordResetRequired": False}})
    g.get_caller_identity(g.at(6 * 60 + 1), g.operator())
    # The revert, as in the technique's detonation log: the profile is removed again.
    g.add(g.at(9 * 60), g.operator(), "iam.amazonaws.com", "DeleteLoginProfile", {"userName": user}, None)


def iam_update_user_login_profile(g):
    user = "stratus-red-team-update-login-profile-user"
    create_user(g, g.at(0), user, warmup=True)
    g.terraform(g.at(2), "iam.amazonaws.com", "CreateLoginProfile",
                {"userName": user, "passwordResetRequired": False},
                {"loginProfile": {"userName": user, "createDate": iam_date(g.at(2)),
                                  "passwordResetRequired": False}})
    g.add(g.at(6 * 60), g.operator(), "iam.amazonaws.com", "UpdateLoginProfile", {"userName": user}, None)
    g.get_caller_identity(g.at(6 * 60 + 1), g.operator())


def lambda_function_warmup(g, fn, t):
    role = f"arn:aws:iam::{ACCOUNT}:role/{fn}-role"
    arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{fn}"
    g.terraform(t, "lambda.amazonaws.com", "CreateFunction20150331",
                {"functionName": fn, "runtime": "python3.12", "role": role, "handler": "lambda.lambda_handler",
                 "code": {}, "timeout": 3, "memorySize": 128, "publish": False,
                 "packageType": "Zip", "architectures": ["x86_64"],
                 "tags": {"StratusRedTeam": "true"}},
                {"functionName": fn, "functionArn": arn, "runtime": "python3.12", "role": role,
                 "handler": "lambda.lambda_handler", "codeSize": 311, "description": "", "timeout": 3,
                 "memorySize": 128, "lastModified": iso(t)[:-1] + ".812+0000",
                 "codeSha256": g.hx(43, "sha", fn), "version": "$LATEST",
                 "tracingConfig": {"mode": "PassThrough"}, "revisionId": g.uid("rev", fn, 0),
                 "state": "Pending", "stateReason": "The function is being created.",
                 "stateReasonCode": "Creating", "packageType": "Zip", "architectures": ["x86_64"],
                 "ephemeralStorage": {"size": 512}})
    return arn


def lambda_backdoor_function(g):
    fn = "stratus-red-team-backdoor-f-func"
    arn = lambda_function_warmup(g, fn, g.at(0))
    stmt = {"Sid": "backdoor", "Effect": "Allow", "Principal": "*", "Action": "lambda:InvokeFunction",
            "Resource": arn}
    g.add(g.at(6 * 60), g.operator(), "lambda.amazonaws.com", "AddPermission20150331v2",
          {"functionName": fn, "statementId": "backdoor", "action": "lambda:InvokeFunction", "principal": "*"},
          {"statement": json.dumps(stmt, separators=(",", ":"))})


def lambda_layer_extension(g):
    fn = "stratus-red-team-lambda-layer-func"
    arn = lambda_function_warmup(g, fn, g.at(0))
    layer = f"arn:aws:lambda:{REGION}:{ACCOUNT}:layer:stratus-red-team-lambda-layer-extension:1"
    g.terraform(g.at(5), "lambda.amazonaws.com", "PublishLayerVersion20181031",
                {"layerName": "stratus-red-team-lambda-layer-extension", "content": {},
                 "compatibleRuntimes": ["python3.12"]},
                {"layerArn": layer.rsplit(":", 1)[0], "layerVersionArn": layer, "version": 1,
                 "createdDate": iso(g.at(5))[:-1] + ".113+0000",
                 "content": {"codeSha256": g.hx(43, "layer-sha"), "codeSize": 2048},
                 "compatibleRuntimes": ["python3.12"]})
    t = g.at(6 * 60)
    g.add(t, g.operator(), "lambda.amazonaws.com", "UpdateFunctionConfiguration20150331v2",
          {"functionName": arn, "layers": [layer]},
          {"functionName": fn, "functionArn": arn, "runtime": "python3.12",
           "role": f"arn:aws:iam::{ACCOUNT}:role/{fn}-role", "handler": "lambda.lambda_handler",
           "codeSize": 311, "description": "", "timeout": 3, "memorySize": 128,
           "lastModified": iso(t)[:-1] + ".402+0000", "codeSha256": g.hx(43, "sha", fn),
           "version": "$LATEST", "tracingConfig": {"mode": "PassThrough"},
           "revisionId": g.uid("rev", fn, 1), "layers": [{"arn": layer, "codeSize": 2048}],
           "state": "Active", "lastUpdateStatus": "InProgress",
           "lastUpdateStatusReason": "The function is being created.",
           "lastUpdateStatusReasonCode": "Creating", "packageType": "Zip",
           "architectures": ["x86_64"], "ephemeralStorage": {"size": 512}})


def lambda_overwrite_code(g):
    fn = "stratus-red-team-overwrite-lambda-func"
    arn = lambda_function_warmup(g, fn, g.at(0))
    t = g.at(6 * 60)
    g.add(t, g.operator(), "lambda.amazonaws.com", "UpdateFunctionCode20150331v2",
          {"functionName": fn, "publish": False, "dryRun": False},
          {"functionName": fn, "functionArn": arn, "runtime": "python3.12",
           "role": f"arn:aws:iam::{ACCOUNT}:role/{fn}-role", "handler": "lambda.lambda_handler",
           "codeSize": 297, "description": "", "timeout": 3, "memorySize": 128,
           "lastModified": iso(t)[:-1] + ".655+0000", "codeSha256": g.hx(43, "sha2", fn),
           "version": "$LATEST", "tracingConfig": {"mode": "PassThrough"},
           "revisionId": g.uid("rev", fn, 1), "state": "Active", "lastUpdateStatus": "InProgress",
           "lastUpdateStatusReason": "The function is being created.",
           "lastUpdateStatusReasonCode": "Creating", "packageType": "Zip",
           "architectures": ["x86_64"], "ephemeralStorage": {"size": 512}})


def rolesanywhere_create_trust_anchor(g):
    role = "stratus-red-team-rolesanywhere-role"
    warmup_role(g, g.at(0), role, trust_service="rolesanywhere.amazonaws.com")
    cert = ("-----BEGIN CERTIFICATE-----\n" + "\n".join(
        det_alnum(64, g.tech, "cert", i) for i in range(8)) + "\n-----END CERTIFICATE-----\n")
    tags = [{"key": "StratusRedTeam", "value": "true"}]
    ta_id = g.uid("trust-anchor")
    t = g.at(6 * 60)
    source = {"sourceData": {"x509CertificateData": cert}, "sourceType": "CERTIFICATE_BUNDLE"}
    g.add(t, g.operator(), "rolesanywhere.amazonaws.com", "CreateTrustAnchor",
          {"enabled": True, "name": "malicious-rolesanywhere-trust-anchor", "source": source, "tags": tags},
          {"trustAnchor": {"createdAt": iso(t)[:-1] + ".311Z", "enabled": True,
                           "name": "malicious-rolesanywhere-trust-anchor", "source": source,
                           "trustAnchorArn": f"arn:aws:rolesanywhere:{REGION}:{ACCOUNT}:trust-anchor/{ta_id}",
                           "trustAnchorId": ta_id, "updatedAt": iso(t)[:-1] + ".311Z"}})
    p_id = g.uid("profile")
    t2 = g.at(6 * 60 + 1)
    roles = [f"arn:aws:iam::{ACCOUNT}:role/{role}"]
    g.add(t2, g.operator(), "rolesanywhere.amazonaws.com", "CreateProfile",
          {"durationSeconds": 3600, "enabled": True, "name": "malicious-rolesanywhere-profile",
           "roleArns": roles, "tags": tags},
          {"profile": {"createdAt": iso(t2)[:-1] + ".027Z", "createdBy": g.operator()["arn"],
                       "durationSeconds": 3600, "enabled": True, "name": "malicious-rolesanywhere-profile",
                       "profileArn": f"arn:aws:rolesanywhere:{REGION}:{ACCOUNT}:profile/{p_id}",
                       "profileId": p_id, "roleArns": roles, "updatedAt": iso(t2)[:-1] + ".027Z"}})


def sts_federation_token(g):
    user = "stratus-red-team-federation-token-user"
    create_user(g, g.at(0), user, warmup=True)
    key_id = g.access_key("AKIA", "federation", user)
    g.terraform(g.at(2), "iam.amazonaws.com", "CreateAccessKey", {"userName": user},
                {"accessKey": {"userName": user, "accessKeyId": key_id, "status": "Active",
                               "createDate": iam_date(g.at(2))}})
    policy = '{\n\t\t"Version": "2012-10-17",\n\t\t"Statement": [\n\t\t\t{\n\t\t\t\t"Effect": "Allow",\n\t\t\t\t"Action": "*",\n\t\t\t\t"Resource": "*"\n\t\t\t}\n\t\t]\n\t}'
    t = g.at(6 * 60)
    fed_key = g.access_key("ASIA", "federated", user)
    g.add(t, g.iam_user(user, key=key_id), "sts.amazonaws.com", "GetFederationToken",
          {"name": "stratus-red-team", "policy": policy},
          {"credentials": {"accessKeyId": fed_key,
                           "sessionToken": "IQoJb3JpZ2luX2VjE" + g.hx(48, "fed-token"),
                           "expiration": iam_date(t + dt.timedelta(hours=12))},
           "federatedUser": {"federatedUserId": f"{ACCOUNT}:stratus-red-team",
                             "arn": f"arn:aws:sts::{ACCOUNT}:federated-user/stratus-red-team"},
           "packedPolicySize": 6})
    fed = {"type": "FederatedUser", "principalId": f"{ACCOUNT}:stratus-red-team",
           "arn": f"arn:aws:sts::{ACCOUNT}:federated-user/stratus-red-team", "accountId": ACCOUNT,
           "accessKeyId": fed_key,
           "sessionContext": {"sessionIssuer": {"type": "IAMUser",
                                                "principalId": "AIDA" + det_alnum(17, "user-id", user),
                                                "arn": f"arn:aws:iam::{ACCOUNT}:user/{user}",
                                                "accountId": ACCOUNT, "userName": user},
                              "attributes": {"creationDate": iso(t), "mfaAuthenticated": "false"}}}
    g.get_caller_identity(g.at(6 * 60 + 1), fed)


# technique id → (builder, start time, failed variant?)
TECHNIQUES = [
    ("credential-access.ec2-get-password-data", ec2_get_password_data, False),
    ("credential-access.ec2-steal-instance-credentials", ec2_steal_instance_credentials, False),
    ("credential-access.secretsmanager-batch-retrieve-secrets", secretsmanager_batch_retrieve_secrets, False),
    ("credential-access.secretsmanager-retrieve-secrets", secretsmanager_retrieve_secrets, True),
    ("credential-access.ssm-retrieve-securestring-parameters", ssm_retrieve_securestring_parameters, False),
    ("defense-evasion.cloudtrail-delete", cloudtrail_delete, True),
    ("defense-evasion.cloudtrail-event-selectors", cloudtrail_event_selectors, False),
    ("defense-evasion.cloudtrail-lifecycle-rule", cloudtrail_lifecycle_rule, False),
    ("defense-evasion.cloudtrail-stop", cloudtrail_stop, True),
    ("defense-evasion.dns-delete-logs", dns_delete_logs, False),
    ("defense-evasion.organizations-leave", organizations_leave, False),
    ("defense-evasion.vpc-remove-flow-logs", vpc_remove_flow_logs, False),
    ("discovery.ec2-download-user-data", ec2_download_user_data, False),
    ("discovery.ec2-enumerate-from-instance", ec2_enumerate_from_instance, True),
    ("discovery.ses-enumerate", ses_enumerate, False),
    ("execution.ec2-launch-unusual-instances", ec2_launch_unusual_instances, False),
    ("execution.ec2-user-data", ec2_user_data, False),
    ("execution.sagemaker-update-lifecycle-config", sagemaker_update_lifecycle_config, False),
    ("execution.ssm-send-command", ssm_send_command, False),
    ("execution.ssm-start-session", ssm_start_session, False),
    ("exfiltration.ec2-security-group-open-port-22-ingress", ec2_security_group_open_port_22_ingress, False),
    ("exfiltration.ec2-share-ami", ec2_share_ami, False),
    ("exfiltration.ec2-share-ebs-snapshot", ec2_share_ebs_snapshot, False),
    ("exfiltration.rds-share-snapshot", rds_share_snapshot, False),
    ("exfiltration.s3-backdoor-bucket-policy", s3_backdoor_bucket_policy, False),
    ("impact.bedrock-invoke-model", bedrock_invoke_model, True),
    ("impact.ec2-deregister-ami", ec2_deregister_ami, False),
    ("impact.s3-ransomware-batch-deletion", s3_ransomware_batch_deletion, False),
    ("impact.s3-ransomware-client-side-encryption", s3_ransomware_client_side_encryption, False),
    ("impact.s3-ransomware-individual-deletion", s3_ransomware_individual_deletion, False),
    ("initial-access.console-login-without-mfa", console_login_without_mfa, False),
    ("lateral-movement.ec2-instance-connect", ec2_instance_connect, False),
    ("lateral-movement.ec2-serial-console-send-ssh-public-key", ec2_serial_console_send_ssh_public_key, False),
    ("persistence.iam-backdoor-role", iam_backdoor_role, False),
    ("persistence.iam-backdoor-user", iam_backdoor_user, False),
    ("persistence.iam-create-admin-user", iam_create_admin_user, False),
    ("persistence.iam-create-backdoor-role", iam_create_backdoor_role, False),
    ("persistence.iam-create-user-login-profile", iam_create_user_login_profile, False),
    ("persistence.lambda-backdoor-function", lambda_backdoor_function, False),
    ("persistence.lambda-layer-extension", lambda_layer_extension, False),
    ("persistence.lambda-overwrite-code", lambda_overwrite_code, False),
    ("persistence.rolesanywhere-create-trust-anchor", rolesanywhere_create_trust_anchor, False),
    ("persistence.sts-federation-token", sts_federation_token, False),
    ("privilege-escalation.iam-update-user-login-profile", iam_update_user_login_profile, False),
]


def render(body):
    lines = [json.dumps(r, separators=(",", ":"), ensure_ascii=False) for r in body["Records"]]
    return '{"Records":[\n' + ",\n".join(lines) + "\n]}\n"


def build_all():
    out = {}
    base = dt.datetime(2025, 4, 1, 9, 0, 0)
    for i, (tech, fn, has_failed) in enumerate(TECHNIQUES):
        start = base + dt.timedelta(days=i, minutes=det_int(0, 120, tech, "start"))
        g = Technique(tech, start)
        fn(g)
        out[f"{tech}.json"] = render(g.body())
        if has_failed:
            g = Technique(tech, start + dt.timedelta(hours=3), variant="failed")
            fn(g, failed=True)
            out[f"{tech}.failed.json"] = render(g.body())
    # Every eventID is unique across the whole set.
    seen = set()
    for name, text in out.items():
        for r in json.loads(text)["Records"]:
            assert r["eventID"] not in seen, (name, r["eventID"])
            seen.add(r["eventID"])
    return out


def main():
    check = "--check" in sys.argv[1:]
    files = build_all()
    stale = []
    for name, text in sorted(files.items()):
        path = os.path.join(HERE, name)
        old = None
        if os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                old = f.read()
        if old != text:
            stale.append(name)
            if not check:
                with open(path, "w", encoding="utf-8") as f:
                    f.write(text)
    known = set(files) | {"generate.py", "README.md"}
    extra = sorted(n for n in os.listdir(HERE) if n not in known and n.endswith(".json"))
    total = sum(len(t.encode()) for t in files.values())
    if check:
        if stale or extra:
            print("stale: " + ", ".join(stale + extra), file=sys.stderr)
            sys.exit(1)
        print(f"{len(files)} files up to date ({total} bytes)")
    else:
        print(f"wrote {len(stale)} of {len(files)} files ({total} bytes)")
        if extra:
            print("not generated by this script: " + ", ".join(extra), file=sys.stderr)


if __name__ == "__main__":
    main()
