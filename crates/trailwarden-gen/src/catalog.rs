//! The background operation catalogue: which API calls exist, their shape, and how often
//! each kind of principal makes them.
//!
//! Nothing in here is an event name that a built-in policy alerts on (see
//! [`crate::POLICY_EVENT_NAMES`]); a unit test walks every table to make sure.

/// How an operation's `requestParameters`/`responseElements`/extras are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    /// `requestParameters: null`.
    Null,
    /// An EC2 `Describe*` call: each named member is an empty set object.
    Ec2Sets(&'static [&'static str]),
    Ec2DescribeSecurityGroups,
    Ec2DescribeInstances,
    Ec2InstanceState {
        from: (u32, &'static str),
        to: (u32, &'static str),
    },
    Ec2RunInstances,
    Ec2CreateTags,
    Ec2CreateSnapshot,
    /// S3 bucket-level read; the member is the sub-resource (`acl`, `policy`…), "" for none.
    S3Bucket(&'static str),
    S3ListBuckets,
    /// S3 data event on an object.
    S3Object {
        put: bool,
    },
    IamUserName,
    IamRoleName,
    IamPolicyArn,
    IamPolicyVersion,
    IamListPolicies,
    IamMaxItems,
    StsAssumeRole,
    StsGetSessionToken,
    StsGetFederationToken,
    StsAssumeRoleWithSaml,
    StsAssumeRoleWithWebIdentity,
    KmsDecrypt,
    KmsEncrypt,
    KmsGenerateDataKey,
    KmsKeyId,
    /// `AwsServiceEvent` from `AWS Internal`.
    KmsRotateKey,
    LambdaFunctionName,
    LambdaUpdateCode,
    LogsCreateStream,
    LogsDescribeStreams,
    LogsLimit,
    CwGetMetricData,
    CwDescribeAlarms,
    CwPutMetricAlarm,
    CwListMetrics,
    DynamoTable,
    SsmUpdateInstanceInformation,
    SsmInstanceId,
    SsmGetParameter,
    SsmGetParameters,
    SsmMaxResults,
    SecretId,
    CfnStackName,
    TrailName,
    TrailList,
    LookupEvents,
    SsoAccount,
    /// `ConsoleLogin` success (`AwsConsoleSignIn`).
    ConsoleLogin,
}

/// One API operation.
#[derive(Debug)]
pub(crate) struct Op {
    pub source: &'static str,
    pub name: &'static str,
    pub read_only: bool,
    /// Recorded in us-east-1 only (IAM, sign-in, S3 ListBuckets, Organizations…).
    pub global: bool,
    pub shape: Shape,
}

macro_rules! op {
    ($id:ident, $src:literal, $name:literal, $ro:expr, $global:expr, $shape:expr) => {
        pub(crate) static $id: Op = Op {
            source: $src,
            name: $name,
            read_only: $ro,
            global: $global,
            shape: $shape,
        };
    };
}

const EC2: bool = false;
const R: bool = true;
const W: bool = false;
const G: bool = true;

// EC2
op!(
    EC2_DESCRIBE_INSTANCES,
    "ec2.amazonaws.com",
    "DescribeInstances",
    R,
    EC2,
    Shape::Ec2DescribeInstances
);
op!(
    EC2_DESCRIBE_INSTANCE_STATUS,
    "ec2.amazonaws.com",
    "DescribeInstanceStatus",
    R,
    EC2,
    Shape::Ec2Sets(&["instancesSet", "filterSet"])
);
op!(
    EC2_DESCRIBE_SECURITY_GROUPS,
    "ec2.amazonaws.com",
    "DescribeSecurityGroups",
    R,
    EC2,
    Shape::Ec2DescribeSecurityGroups
);
op!(
    EC2_DESCRIBE_VPCS,
    "ec2.amazonaws.com",
    "DescribeVpcs",
    R,
    EC2,
    Shape::Ec2Sets(&["vpcSet", "filterSet"])
);
op!(
    EC2_DESCRIBE_SUBNETS,
    "ec2.amazonaws.com",
    "DescribeSubnets",
    R,
    EC2,
    Shape::Ec2Sets(&["subnetSet", "filterSet"])
);
op!(
    EC2_DESCRIBE_VOLUMES,
    "ec2.amazonaws.com",
    "DescribeVolumes",
    R,
    EC2,
    Shape::Ec2Sets(&["volumeSet", "filterSet"])
);
op!(
    EC2_DESCRIBE_IMAGES,
    "ec2.amazonaws.com",
    "DescribeImages",
    R,
    EC2,
    Shape::Ec2Sets(&["executableBySet", "imagesSet", "ownersSet", "filterSet"])
);
op!(
    EC2_DESCRIBE_REGIONS,
    "ec2.amazonaws.com",
    "DescribeRegions",
    R,
    EC2,
    Shape::Ec2Sets(&["regionSet"])
);
op!(
    EC2_DESCRIBE_NETWORK_INTERFACES,
    "ec2.amazonaws.com",
    "DescribeNetworkInterfaces",
    R,
    EC2,
    Shape::Ec2Sets(&["networkInterfaceIdSet", "filterSet"])
);
op!(
    EC2_DESCRIBE_TAGS,
    "ec2.amazonaws.com",
    "DescribeTags",
    R,
    EC2,
    Shape::Ec2Sets(&["filterSet"])
);
op!(
    EC2_DESCRIBE_AZS,
    "ec2.amazonaws.com",
    "DescribeAvailabilityZones",
    R,
    EC2,
    Shape::Ec2Sets(&["availabilityZoneSet", "availabilityZoneIdSet"])
);
op!(
    EC2_DESCRIBE_ROUTE_TABLES,
    "ec2.amazonaws.com",
    "DescribeRouteTables",
    R,
    EC2,
    Shape::Ec2Sets(&["routeTableIdSet", "filterSet"])
);
op!(
    EC2_DESCRIBE_SNAPSHOTS,
    "ec2.amazonaws.com",
    "DescribeSnapshots",
    R,
    EC2,
    Shape::Ec2Sets(&["snapshotSet", "ownersSet", "restorableBySet", "filterSet"])
);
op!(
    EC2_START_INSTANCES,
    "ec2.amazonaws.com",
    "StartInstances",
    W,
    EC2,
    Shape::Ec2InstanceState {
        from: (80, "stopped"),
        to: (0, "pending")
    }
);
op!(
    EC2_STOP_INSTANCES,
    "ec2.amazonaws.com",
    "StopInstances",
    W,
    EC2,
    Shape::Ec2InstanceState {
        from: (16, "running"),
        to: (64, "stopping")
    }
);
op!(
    EC2_TERMINATE_INSTANCES,
    "ec2.amazonaws.com",
    "TerminateInstances",
    W,
    EC2,
    Shape::Ec2InstanceState {
        from: (16, "running"),
        to: (32, "shutting-down")
    }
);
op!(
    EC2_RUN_INSTANCES,
    "ec2.amazonaws.com",
    "RunInstances",
    W,
    EC2,
    Shape::Ec2RunInstances
);
op!(
    EC2_CREATE_TAGS,
    "ec2.amazonaws.com",
    "CreateTags",
    W,
    EC2,
    Shape::Ec2CreateTags
);
op!(
    EC2_CREATE_SNAPSHOT,
    "ec2.amazonaws.com",
    "CreateSnapshot",
    W,
    EC2,
    Shape::Ec2CreateSnapshot
);

// S3 management + data events
op!(
    S3_LIST_BUCKETS,
    "s3.amazonaws.com",
    "ListBuckets",
    R,
    G,
    Shape::S3ListBuckets
);
op!(
    S3_GET_BUCKET_LOCATION,
    "s3.amazonaws.com",
    "GetBucketLocation",
    R,
    EC2,
    Shape::S3Bucket("location")
);
op!(
    S3_GET_BUCKET_ACL,
    "s3.amazonaws.com",
    "GetBucketAcl",
    R,
    EC2,
    Shape::S3Bucket("acl")
);
op!(
    S3_GET_BUCKET_POLICY,
    "s3.amazonaws.com",
    "GetBucketPolicy",
    R,
    EC2,
    Shape::S3Bucket("policy")
);
op!(
    S3_GET_BUCKET_VERSIONING,
    "s3.amazonaws.com",
    "GetBucketVersioning",
    R,
    EC2,
    Shape::S3Bucket("versioning")
);
op!(
    S3_GET_BUCKET_ENCRYPTION,
    "s3.amazonaws.com",
    "GetBucketEncryption",
    R,
    EC2,
    Shape::S3Bucket("encryption")
);
op!(
    S3_GET_BUCKET_TAGGING,
    "s3.amazonaws.com",
    "GetBucketTagging",
    R,
    EC2,
    Shape::S3Bucket("tagging")
);
op!(
    S3_GET_BUCKET_PAB,
    "s3.amazonaws.com",
    "GetBucketPublicAccessBlock",
    R,
    EC2,
    Shape::S3Bucket("publicAccessBlock")
);
op!(
    S3_GET_OBJECT,
    "s3.amazonaws.com",
    "GetObject",
    R,
    EC2,
    Shape::S3Object { put: false }
);
op!(
    S3_PUT_OBJECT,
    "s3.amazonaws.com",
    "PutObject",
    W,
    EC2,
    Shape::S3Object { put: true }
);

// IAM (global, recorded in us-east-1)
op!(
    IAM_GET_USER,
    "iam.amazonaws.com",
    "GetUser",
    R,
    G,
    Shape::IamUserName
);
op!(
    IAM_LIST_USERS,
    "iam.amazonaws.com",
    "ListUsers",
    R,
    G,
    Shape::IamMaxItems
);
op!(
    IAM_GET_ROLE,
    "iam.amazonaws.com",
    "GetRole",
    R,
    G,
    Shape::IamRoleName
);
op!(
    IAM_LIST_ROLES,
    "iam.amazonaws.com",
    "ListRoles",
    R,
    G,
    Shape::IamMaxItems
);
op!(
    IAM_LIST_POLICIES,
    "iam.amazonaws.com",
    "ListPolicies",
    R,
    G,
    Shape::IamListPolicies
);
op!(
    IAM_GET_POLICY,
    "iam.amazonaws.com",
    "GetPolicy",
    R,
    G,
    Shape::IamPolicyArn
);
op!(
    IAM_GET_POLICY_VERSION,
    "iam.amazonaws.com",
    "GetPolicyVersion",
    R,
    G,
    Shape::IamPolicyVersion
);
op!(
    IAM_LIST_ATTACHED_ROLE_POLICIES,
    "iam.amazonaws.com",
    "ListAttachedRolePolicies",
    R,
    G,
    Shape::IamRoleName
);
op!(
    IAM_LIST_ROLE_POLICIES,
    "iam.amazonaws.com",
    "ListRolePolicies",
    R,
    G,
    Shape::IamRoleName
);
op!(
    IAM_GET_ACCOUNT_SUMMARY,
    "iam.amazonaws.com",
    "GetAccountSummary",
    R,
    G,
    Shape::Null
);
op!(
    IAM_LIST_MFA_DEVICES,
    "iam.amazonaws.com",
    "ListMFADevices",
    R,
    G,
    Shape::IamUserName
);
op!(
    IAM_LIST_ACCESS_KEYS,
    "iam.amazonaws.com",
    "ListAccessKeys",
    R,
    G,
    Shape::IamUserName
);
op!(
    IAM_GET_PASSWORD_POLICY,
    "iam.amazonaws.com",
    "GetAccountPasswordPolicy",
    R,
    G,
    Shape::Null
);

// STS
op!(
    STS_GET_CALLER_IDENTITY,
    "sts.amazonaws.com",
    "GetCallerIdentity",
    R,
    EC2,
    Shape::Null
);
op!(
    STS_ASSUME_ROLE,
    "sts.amazonaws.com",
    "AssumeRole",
    R,
    EC2,
    Shape::StsAssumeRole
);
op!(
    STS_GET_SESSION_TOKEN,
    "sts.amazonaws.com",
    "GetSessionToken",
    R,
    EC2,
    Shape::StsGetSessionToken
);
op!(
    STS_GET_FEDERATION_TOKEN,
    "sts.amazonaws.com",
    "GetFederationToken",
    R,
    EC2,
    Shape::StsGetFederationToken
);
op!(
    STS_ASSUME_ROLE_WITH_SAML,
    "sts.amazonaws.com",
    "AssumeRoleWithSAML",
    R,
    EC2,
    Shape::StsAssumeRoleWithSaml
);
op!(
    STS_ASSUME_ROLE_WITH_WEB_IDENTITY,
    "sts.amazonaws.com",
    "AssumeRoleWithWebIdentity",
    R,
    EC2,
    Shape::StsAssumeRoleWithWebIdentity
);

// KMS
op!(
    KMS_DECRYPT,
    "kms.amazonaws.com",
    "Decrypt",
    R,
    EC2,
    Shape::KmsDecrypt
);
op!(
    KMS_ENCRYPT,
    "kms.amazonaws.com",
    "Encrypt",
    R,
    EC2,
    Shape::KmsEncrypt
);
op!(
    KMS_GENERATE_DATA_KEY,
    "kms.amazonaws.com",
    "GenerateDataKey",
    R,
    EC2,
    Shape::KmsGenerateDataKey
);
op!(
    KMS_DESCRIBE_KEY,
    "kms.amazonaws.com",
    "DescribeKey",
    R,
    EC2,
    Shape::KmsKeyId
);
op!(
    KMS_LIST_ALIASES,
    "kms.amazonaws.com",
    "ListAliases",
    R,
    EC2,
    Shape::Null
);
op!(
    KMS_ROTATE_KEY,
    "kms.amazonaws.com",
    "RotateKey",
    W,
    EC2,
    Shape::KmsRotateKey
);

// Lambda
op!(
    LAMBDA_LIST_FUNCTIONS,
    "lambda.amazonaws.com",
    "ListFunctions20150331",
    R,
    EC2,
    Shape::Null
);
op!(
    LAMBDA_GET_FUNCTION,
    "lambda.amazonaws.com",
    "GetFunction20150331v2",
    R,
    EC2,
    Shape::LambdaFunctionName
);
op!(
    LAMBDA_GET_FUNCTION_CONFIGURATION,
    "lambda.amazonaws.com",
    "GetFunctionConfiguration20150331v2",
    R,
    EC2,
    Shape::LambdaFunctionName
);
op!(
    LAMBDA_UPDATE_FUNCTION_CODE,
    "lambda.amazonaws.com",
    "UpdateFunctionCode20150331v2",
    W,
    EC2,
    Shape::LambdaUpdateCode
);

// CloudWatch Logs / CloudWatch
op!(
    LOGS_CREATE_LOG_STREAM,
    "logs.amazonaws.com",
    "CreateLogStream",
    W,
    EC2,
    Shape::LogsCreateStream
);
op!(
    LOGS_DESCRIBE_LOG_GROUPS,
    "logs.amazonaws.com",
    "DescribeLogGroups",
    R,
    EC2,
    Shape::LogsLimit
);
op!(
    LOGS_DESCRIBE_LOG_STREAMS,
    "logs.amazonaws.com",
    "DescribeLogStreams",
    R,
    EC2,
    Shape::LogsDescribeStreams
);
op!(
    CW_GET_METRIC_DATA,
    "monitoring.amazonaws.com",
    "GetMetricData",
    R,
    EC2,
    Shape::CwGetMetricData
);
op!(
    CW_DESCRIBE_ALARMS,
    "monitoring.amazonaws.com",
    "DescribeAlarms",
    R,
    EC2,
    Shape::CwDescribeAlarms
);
op!(
    CW_LIST_METRICS,
    "monitoring.amazonaws.com",
    "ListMetrics",
    R,
    EC2,
    Shape::CwListMetrics
);
op!(
    CW_PUT_METRIC_ALARM,
    "monitoring.amazonaws.com",
    "PutMetricAlarm",
    W,
    EC2,
    Shape::CwPutMetricAlarm
);

// DynamoDB
op!(
    DDB_LIST_TABLES,
    "dynamodb.amazonaws.com",
    "ListTables",
    R,
    EC2,
    Shape::Null
);
op!(
    DDB_DESCRIBE_TABLE,
    "dynamodb.amazonaws.com",
    "DescribeTable",
    R,
    EC2,
    Shape::DynamoTable
);
op!(
    DDB_DESCRIBE_TTL,
    "dynamodb.amazonaws.com",
    "DescribeTimeToLive",
    R,
    EC2,
    Shape::DynamoTable
);

// SSM
op!(
    SSM_UPDATE_INSTANCE_INFORMATION,
    "ssm.amazonaws.com",
    "UpdateInstanceInformation",
    W,
    EC2,
    Shape::SsmUpdateInstanceInformation
);
op!(
    SSM_LIST_INSTANCE_ASSOCIATIONS,
    "ssm.amazonaws.com",
    "ListInstanceAssociations",
    R,
    EC2,
    Shape::SsmInstanceId
);
op!(
    SSM_GET_PARAMETER,
    "ssm.amazonaws.com",
    "GetParameter",
    R,
    EC2,
    Shape::SsmGetParameter
);
op!(
    SSM_GET_PARAMETERS,
    "ssm.amazonaws.com",
    "GetParameters",
    R,
    EC2,
    Shape::SsmGetParameters
);
op!(
    SSM_DESCRIBE_INSTANCE_INFORMATION,
    "ssm.amazonaws.com",
    "DescribeInstanceInformation",
    R,
    EC2,
    Shape::SsmMaxResults
);

// Secrets Manager, ECR, CloudFormation, ELB, Auto Scaling, CloudTrail (reads), Config, Organizations
op!(
    SECRETS_GET_SECRET_VALUE,
    "secretsmanager.amazonaws.com",
    "GetSecretValue",
    R,
    EC2,
    Shape::SecretId
);
op!(
    SECRETS_DESCRIBE_SECRET,
    "secretsmanager.amazonaws.com",
    "DescribeSecret",
    R,
    EC2,
    Shape::SecretId
);
op!(
    ECR_GET_AUTHORIZATION_TOKEN,
    "ecr.amazonaws.com",
    "GetAuthorizationToken",
    R,
    EC2,
    Shape::Null
);
op!(
    CFN_DESCRIBE_STACKS,
    "cloudformation.amazonaws.com",
    "DescribeStacks",
    R,
    EC2,
    Shape::CfnStackName
);
op!(
    CFN_LIST_STACKS,
    "cloudformation.amazonaws.com",
    "ListStacks",
    R,
    EC2,
    Shape::Null
);
op!(
    ELB_DESCRIBE_LOAD_BALANCERS,
    "elasticloadbalancing.amazonaws.com",
    "DescribeLoadBalancers",
    R,
    EC2,
    Shape::Null
);
op!(
    ELB_DESCRIBE_TARGET_GROUPS,
    "elasticloadbalancing.amazonaws.com",
    "DescribeTargetGroups",
    R,
    EC2,
    Shape::Null
);
op!(
    ASG_DESCRIBE_GROUPS,
    "autoscaling.amazonaws.com",
    "DescribeAutoScalingGroups",
    R,
    EC2,
    Shape::Null
);
op!(
    CT_DESCRIBE_TRAILS,
    "cloudtrail.amazonaws.com",
    "DescribeTrails",
    R,
    EC2,
    Shape::TrailList
);
op!(
    CT_GET_TRAIL_STATUS,
    "cloudtrail.amazonaws.com",
    "GetTrailStatus",
    R,
    EC2,
    Shape::TrailName
);
op!(
    CT_LOOKUP_EVENTS,
    "cloudtrail.amazonaws.com",
    "LookupEvents",
    R,
    EC2,
    Shape::LookupEvents
);
op!(
    CONFIG_DESCRIBE_RULES,
    "config.amazonaws.com",
    "DescribeConfigRules",
    R,
    EC2,
    Shape::Null
);
op!(
    ORG_DESCRIBE_ORGANIZATION,
    "organizations.amazonaws.com",
    "DescribeOrganization",
    R,
    G,
    Shape::Null
);

// IAM Identity Center access portal
op!(
    SSO_LIST_ACCOUNTS,
    "sso.amazonaws.com",
    "ListAccounts",
    R,
    EC2,
    Shape::Null
);
op!(
    SSO_LIST_ACCOUNT_ROLES,
    "sso.amazonaws.com",
    "ListAccountRoles",
    R,
    EC2,
    Shape::SsoAccount
);
op!(
    SSO_GET_ROLE_CREDENTIALS,
    "sso.amazonaws.com",
    "GetRoleCredentials",
    R,
    EC2,
    Shape::SsoAccount
);

// Console sign-in (always a success in the background)
op!(
    SIGNIN_CONSOLE_LOGIN,
    "signin.amazonaws.com",
    "ConsoleLogin",
    W,
    G,
    Shape::ConsoleLogin
);

/// A behaviour profile: the weighted operation mix of a kind of principal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Profile {
    Human,
    Root,
    MachineUser,
    Broker,
    Ci,
    Ec2,
    Sso,
    Lambda,
    ConfigRecorder,
    AutoScaling,
    AwsService,
    Federated,
    Saml,
    WebIdentity,
    CrossAccount,
    IdentityCenter,
}

pub(crate) const ALL_PROFILES: [Profile; 16] = [
    Profile::Human,
    Profile::Root,
    Profile::MachineUser,
    Profile::Broker,
    Profile::Ci,
    Profile::Ec2,
    Profile::Sso,
    Profile::Lambda,
    Profile::ConfigRecorder,
    Profile::AutoScaling,
    Profile::AwsService,
    Profile::Federated,
    Profile::Saml,
    Profile::WebIdentity,
    Profile::CrossAccount,
    Profile::IdentityCenter,
];

type Mix = &'static [(&'static Op, f64)];

static HUMAN: Mix = &[
    (&EC2_DESCRIBE_INSTANCES, 10.0),
    (&EC2_DESCRIBE_SECURITY_GROUPS, 4.0),
    (&EC2_DESCRIBE_VPCS, 3.0),
    (&EC2_DESCRIBE_SUBNETS, 2.0),
    (&EC2_DESCRIBE_VOLUMES, 2.0),
    (&EC2_DESCRIBE_IMAGES, 1.0),
    (&EC2_DESCRIBE_REGIONS, 1.0),
    (&EC2_DESCRIBE_TAGS, 1.0),
    (&EC2_DESCRIBE_AZS, 1.0),
    (&EC2_DESCRIBE_ROUTE_TABLES, 1.0),
    (&EC2_DESCRIBE_INSTANCE_STATUS, 1.5),
    (&S3_LIST_BUCKETS, 4.0),
    (&S3_GET_BUCKET_LOCATION, 3.0),
    (&S3_GET_BUCKET_ACL, 1.0),
    (&S3_GET_BUCKET_POLICY, 1.0),
    (&S3_GET_BUCKET_VERSIONING, 1.0),
    (&S3_GET_BUCKET_ENCRYPTION, 1.0),
    (&S3_GET_OBJECT, 4.0),
    (&S3_PUT_OBJECT, 1.5),
    (&IAM_GET_USER, 2.0),
    (&IAM_LIST_ROLES, 2.0),
    (&IAM_GET_ROLE, 2.0),
    (&IAM_LIST_USERS, 1.0),
    (&IAM_LIST_POLICIES, 1.0),
    (&IAM_GET_POLICY, 1.0),
    (&IAM_LIST_ATTACHED_ROLE_POLICIES, 1.0),
    (&IAM_GET_ACCOUNT_SUMMARY, 0.5),
    (&IAM_LIST_MFA_DEVICES, 0.5),
    (&IAM_LIST_ACCESS_KEYS, 0.5),
    (&STS_GET_CALLER_IDENTITY, 5.0),
    (&STS_ASSUME_ROLE, 2.0),
    (&STS_GET_SESSION_TOKEN, 0.7),
    (&KMS_LIST_ALIASES, 1.0),
    (&KMS_DESCRIBE_KEY, 1.0),
    (&LAMBDA_LIST_FUNCTIONS, 2.0),
    (&LAMBDA_GET_FUNCTION, 1.0),
    (&LOGS_DESCRIBE_LOG_GROUPS, 2.0),
    (&LOGS_DESCRIBE_LOG_STREAMS, 2.0),
    (&CW_GET_METRIC_DATA, 2.0),
    (&CW_DESCRIBE_ALARMS, 2.0),
    (&DDB_LIST_TABLES, 1.0),
    (&DDB_DESCRIBE_TABLE, 1.0),
    (&SSM_GET_PARAMETER, 1.0),
    (&SSM_DESCRIBE_INSTANCE_INFORMATION, 1.0),
    (&CFN_DESCRIBE_STACKS, 2.0),
    (&ELB_DESCRIBE_LOAD_BALANCERS, 1.0),
    (&CT_DESCRIBE_TRAILS, 0.5),
    (&CT_LOOKUP_EVENTS, 1.0),
    (&SECRETS_DESCRIBE_SECRET, 0.5),
    (&EC2_CREATE_TAGS, 1.0),
    (&EC2_START_INSTANCES, 0.5),
    (&EC2_STOP_INSTANCES, 0.5),
    (&CW_PUT_METRIC_ALARM, 0.3),
    (&SIGNIN_CONSOLE_LOGIN, 1.2),
];

static ROOT: Mix = &[
    (&SIGNIN_CONSOLE_LOGIN, 2.0),
    (&IAM_GET_ACCOUNT_SUMMARY, 2.0),
    (&IAM_LIST_MFA_DEVICES, 1.0),
    (&IAM_GET_PASSWORD_POLICY, 1.0),
];

static MACHINE_USER: Mix = &[
    (&S3_GET_OBJECT, 3.0),
    (&S3_PUT_OBJECT, 1.0),
    (&S3_LIST_BUCKETS, 1.0),
    (&STS_GET_CALLER_IDENTITY, 1.0),
    (&DDB_DESCRIBE_TABLE, 2.0),
    (&CW_GET_METRIC_DATA, 3.0),
    (&CW_LIST_METRICS, 1.0),
];

static BROKER: Mix = &[
    (&STS_GET_FEDERATION_TOKEN, 10.0),
    (&STS_GET_CALLER_IDENTITY, 1.0),
];

static CI: Mix = &[
    (&STS_GET_CALLER_IDENTITY, 8.0),
    (&EC2_DESCRIBE_INSTANCES, 4.0),
    (&EC2_DESCRIBE_SECURITY_GROUPS, 3.0),
    (&EC2_DESCRIBE_VPCS, 3.0),
    (&EC2_DESCRIBE_SUBNETS, 3.0),
    (&EC2_DESCRIBE_IMAGES, 3.0),
    (&EC2_DESCRIBE_TAGS, 2.0),
    (&EC2_DESCRIBE_NETWORK_INTERFACES, 1.0),
    (&EC2_DESCRIBE_ROUTE_TABLES, 1.5),
    (&EC2_RUN_INSTANCES, 0.6),
    (&EC2_TERMINATE_INSTANCES, 0.5),
    (&EC2_CREATE_TAGS, 2.0),
    (&S3_GET_OBJECT, 1.5),
    (&S3_PUT_OBJECT, 2.0),
    (&S3_GET_BUCKET_ACL, 2.0),
    (&S3_GET_BUCKET_POLICY, 2.0),
    (&S3_GET_BUCKET_VERSIONING, 2.0),
    (&S3_GET_BUCKET_ENCRYPTION, 2.0),
    (&S3_GET_BUCKET_TAGGING, 2.0),
    (&S3_GET_BUCKET_PAB, 1.0),
    (&IAM_GET_ROLE, 3.0),
    (&IAM_GET_POLICY, 2.0),
    (&IAM_GET_POLICY_VERSION, 2.0),
    (&IAM_LIST_ATTACHED_ROLE_POLICIES, 2.0),
    (&IAM_LIST_ROLE_POLICIES, 2.0),
    (&LAMBDA_GET_FUNCTION, 2.0),
    (&LAMBDA_UPDATE_FUNCTION_CODE, 0.8),
    (&LOGS_DESCRIBE_LOG_GROUPS, 1.0),
    (&CFN_DESCRIBE_STACKS, 2.0),
    (&KMS_DESCRIBE_KEY, 1.0),
    (&DDB_DESCRIBE_TABLE, 1.0),
    (&DDB_DESCRIBE_TTL, 1.0),
    (&ECR_GET_AUTHORIZATION_TOKEN, 2.0),
    (&SSM_GET_PARAMETER, 2.0),
];

static EC2_ROLE: Mix = &[
    (&SSM_UPDATE_INSTANCE_INFORMATION, 8.0),
    (&SSM_LIST_INSTANCE_ASSOCIATIONS, 4.0),
    (&SSM_GET_PARAMETER, 3.0),
    (&SSM_GET_PARAMETERS, 1.0),
    (&KMS_DECRYPT, 4.0),
    (&KMS_GENERATE_DATA_KEY, 2.0),
    (&S3_GET_OBJECT, 2.5),
    (&S3_PUT_OBJECT, 1.0),
    (&LOGS_CREATE_LOG_STREAM, 2.0),
    (&STS_GET_CALLER_IDENTITY, 1.0),
    (&EC2_DESCRIBE_TAGS, 1.0),
    (&EC2_DESCRIBE_INSTANCES, 1.0),
    (&SECRETS_GET_SECRET_VALUE, 2.0),
    (&ECR_GET_AUTHORIZATION_TOKEN, 1.0),
];

static SSO: Mix = &[
    (&EC2_DESCRIBE_INSTANCES, 8.0),
    (&EC2_DESCRIBE_INSTANCE_STATUS, 2.0),
    (&EC2_DESCRIBE_SECURITY_GROUPS, 3.0),
    (&EC2_DESCRIBE_VPCS, 2.0),
    (&EC2_DESCRIBE_SUBNETS, 1.0),
    (&EC2_DESCRIBE_VOLUMES, 1.0),
    (&EC2_DESCRIBE_SNAPSHOTS, 1.0),
    (&EC2_DESCRIBE_AZS, 1.0),
    (&S3_LIST_BUCKETS, 3.0),
    (&S3_GET_BUCKET_LOCATION, 2.0),
    (&S3_GET_BUCKET_ACL, 1.0),
    (&S3_GET_BUCKET_POLICY, 1.0),
    (&S3_GET_BUCKET_PAB, 1.0),
    (&S3_GET_OBJECT, 2.0),
    (&IAM_LIST_ROLES, 1.0),
    (&IAM_GET_ROLE, 1.0),
    (&IAM_LIST_USERS, 1.0),
    (&IAM_GET_ACCOUNT_SUMMARY, 0.5),
    (&CW_GET_METRIC_DATA, 4.0),
    (&CW_DESCRIBE_ALARMS, 2.0),
    (&LOGS_DESCRIBE_LOG_GROUPS, 2.0),
    (&LOGS_DESCRIBE_LOG_STREAMS, 2.0),
    (&CFN_DESCRIBE_STACKS, 2.0),
    (&CFN_LIST_STACKS, 1.0),
    (&LAMBDA_LIST_FUNCTIONS, 2.0),
    (&LAMBDA_GET_FUNCTION_CONFIGURATION, 1.0),
    (&DDB_LIST_TABLES, 1.0),
    (&DDB_DESCRIBE_TABLE, 1.0),
    (&CT_LOOKUP_EVENTS, 1.5),
    (&CT_GET_TRAIL_STATUS, 0.5),
    (&CONFIG_DESCRIBE_RULES, 0.5),
    (&ORG_DESCRIBE_ORGANIZATION, 0.5),
    (&ELB_DESCRIBE_LOAD_BALANCERS, 1.0),
    (&ELB_DESCRIBE_TARGET_GROUPS, 1.0),
    (&ASG_DESCRIBE_GROUPS, 1.0),
    (&KMS_LIST_ALIASES, 0.5),
    (&STS_GET_CALLER_IDENTITY, 1.0),
    (&EC2_CREATE_TAGS, 0.5),
    (&EC2_STOP_INSTANCES, 0.3),
    (&EC2_START_INSTANCES, 0.3),
    (&EC2_CREATE_SNAPSHOT, 0.2),
    (&CW_PUT_METRIC_ALARM, 0.3),
];

static LAMBDA: Mix = &[
    (&KMS_DECRYPT, 6.0),
    (&KMS_ENCRYPT, 1.0),
    (&S3_GET_OBJECT, 1.5),
    (&S3_PUT_OBJECT, 0.8),
    (&LOGS_CREATE_LOG_STREAM, 2.0),
    (&SECRETS_GET_SECRET_VALUE, 2.0),
    (&SSM_GET_PARAMETER, 2.0),
    (&DDB_DESCRIBE_TABLE, 1.0),
    (&STS_GET_CALLER_IDENTITY, 0.5),
];

static CONFIG_RECORDER: Mix = &[
    (&EC2_DESCRIBE_INSTANCES, 3.0),
    (&EC2_DESCRIBE_SECURITY_GROUPS, 3.0),
    (&EC2_DESCRIBE_VPCS, 2.0),
    (&EC2_DESCRIBE_SUBNETS, 2.0),
    (&EC2_DESCRIBE_VOLUMES, 2.0),
    (&EC2_DESCRIBE_NETWORK_INTERFACES, 2.0),
    (&EC2_DESCRIBE_ROUTE_TABLES, 1.0),
    (&IAM_GET_ROLE, 2.0),
    (&IAM_LIST_ATTACHED_ROLE_POLICIES, 2.0),
    (&IAM_LIST_ROLE_POLICIES, 1.0),
    (&IAM_GET_POLICY, 1.0),
    (&IAM_GET_POLICY_VERSION, 1.0),
    (&IAM_GET_USER, 1.0),
    (&S3_GET_BUCKET_ACL, 2.0),
    (&S3_GET_BUCKET_POLICY, 2.0),
    (&S3_GET_BUCKET_VERSIONING, 2.0),
    (&S3_GET_BUCKET_ENCRYPTION, 1.0),
    (&S3_GET_BUCKET_TAGGING, 1.0),
    (&S3_GET_BUCKET_PAB, 1.0),
    (&KMS_DESCRIBE_KEY, 1.0),
    (&LAMBDA_GET_FUNCTION, 1.0),
    (&LOGS_DESCRIBE_LOG_GROUPS, 1.0),
    (&DDB_DESCRIBE_TABLE, 1.0),
];

static AUTOSCALING: Mix = &[
    (&EC2_DESCRIBE_INSTANCES, 4.0),
    (&EC2_DESCRIBE_INSTANCE_STATUS, 6.0),
    (&EC2_DESCRIBE_IMAGES, 0.5),
    (&EC2_DESCRIBE_AZS, 0.5),
];

static AWS_SERVICE: Mix = &[(&STS_ASSUME_ROLE, 20.0), (&KMS_ROTATE_KEY, 0.02)];

static FEDERATED: Mix = &[
    (&S3_GET_OBJECT, 6.0),
    (&S3_PUT_OBJECT, 3.0),
    (&STS_GET_CALLER_IDENTITY, 1.0),
];

static SAML: Mix = &[(&STS_ASSUME_ROLE_WITH_SAML, 1.0)];

static WEB_IDENTITY: Mix = &[(&STS_ASSUME_ROLE_WITH_WEB_IDENTITY, 1.0)];

static CROSS_ACCOUNT: Mix = &[
    (&STS_ASSUME_ROLE, 6.0),
    (&S3_GET_OBJECT, 3.0),
    (&KMS_DECRYPT, 1.0),
];

static IDENTITY_CENTER: Mix = &[
    (&SSO_LIST_ACCOUNTS, 3.0),
    (&SSO_LIST_ACCOUNT_ROLES, 3.0),
    (&SSO_GET_ROLE_CREDENTIALS, 3.0),
];

/// The operation mix of a profile.
pub(crate) fn mix(profile: Profile) -> Mix {
    match profile {
        Profile::Human => HUMAN,
        Profile::Root => ROOT,
        Profile::MachineUser => MACHINE_USER,
        Profile::Broker => BROKER,
        Profile::Ci => CI,
        Profile::Ec2 => EC2_ROLE,
        Profile::Sso => SSO,
        Profile::Lambda => LAMBDA,
        Profile::ConfigRecorder => CONFIG_RECORDER,
        Profile::AutoScaling => AUTOSCALING,
        Profile::AwsService => AWS_SERVICE,
        Profile::Federated => FEDERATED,
        Profile::Saml => SAML,
        Profile::WebIdentity => WEB_IDENTITY,
        Profile::CrossAccount => CROSS_ACCOUNT,
        Profile::IdentityCenter => IDENTITY_CENTER,
    }
}

/// A cumulative-weight table over a profile's operations, restricted to global+regional
/// (us-east-1) or regional-only operations.
#[derive(Debug, Clone)]
pub(crate) struct OpTable {
    pub ops: Vec<&'static Op>,
    pub cum: Vec<f64>,
}

impl OpTable {
    pub(crate) fn new(profile: Profile, home_region: bool) -> OpTable {
        let mut ops = Vec::new();
        let mut cum = Vec::new();
        let mut total = 0.0;
        for (op, w) in mix(profile) {
            if op.global && !home_region {
                continue;
            }
            total += w;
            ops.push(*op);
            cum.push(total);
        }
        OpTable { ops, cum }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_background_operation_is_a_policy_event() {
        for profile in ALL_PROFILES {
            for (op, w) in mix(profile) {
                assert!(*w > 0.0);
                assert!(
                    !crate::POLICY_EVENT_NAMES.contains(&op.name),
                    "{profile:?} uses policy event {}",
                    op.name
                );
            }
        }
    }

    #[test]
    fn every_profile_has_operations() {
        for profile in ALL_PROFILES {
            assert!(!OpTable::new(profile, true).ops.is_empty(), "{profile:?}");
        }
    }
}
