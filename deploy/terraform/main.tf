# trailwarden worker plumbing: notification queue + DLQ, the trail bucket's notification,
# and the least-privilege worker role (IRSA when oidc_provider is set, else ECS tasks).
terraform {
  required_providers {
    aws = { source = "hashicorp/aws", version = ">= 5.0" }
  }
}

variable "trail_bucket" { type = string }
variable "archive_bucket" { type = string }
variable "archive_prefix" {
  type    = string
  default = "cloudtrail/"
}
variable "trail_kms_key_arn" {
  type    = string
  default = ""
}
variable "oidc_provider" {
  type        = string
  default     = ""
  description = "oidc.eks.REGION.amazonaws.com/id/XXXX for IRSA; empty for ECS"
}
variable "service_account" {
  type    = string
  default = "system:serviceaccount:security:trailwarden"
}

data "aws_caller_identity" "me" {}

resource "aws_sqs_queue" "dlq" {
  name                      = "trail-events-dlq"
  message_retention_seconds = 1209600
  sqs_managed_sse_enabled   = true
}

resource "aws_sqs_queue" "events" {
  name                       = "trail-events"
  visibility_timeout_seconds = 300
  receive_wait_time_seconds  = 20
  message_retention_seconds  = 1209600
  sqs_managed_sse_enabled    = true
  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dlq.arn
    maxReceiveCount     = 10 # above the worker's max_receive_count
  })
}

resource "aws_sqs_queue_policy" "events" {
  queue_url = aws_sqs_queue.events.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "S3Notifications"
      Effect    = "Allow"
      Principal = { Service = "s3.amazonaws.com" }
      Action    = "sqs:SendMessage"
      Resource  = aws_sqs_queue.events.arn
      Condition = {
        ArnLike      = { "aws:SourceArn" = "arn:aws:s3:::${var.trail_bucket}" }
        StringEquals = { "aws:SourceAccount" = data.aws_caller_identity.me.account_id }
      }
    }]
  })
}

resource "aws_s3_bucket_notification" "trail" {
  bucket = var.trail_bucket
  queue {
    queue_arn     = aws_sqs_queue.events.arn
    events        = ["s3:ObjectCreated:*"]
    filter_prefix = "AWSLogs/"
  }
  depends_on = [aws_sqs_queue_policy.events]
}

data "aws_iam_policy_document" "assume" {
  dynamic "statement" {
    for_each = var.oidc_provider == "" ? [] : [1]
    content {
      actions = ["sts:AssumeRoleWithWebIdentity"]
      principals {
        type        = "Federated"
        identifiers = ["arn:aws:iam::${data.aws_caller_identity.me.account_id}:oidc-provider/${var.oidc_provider}"]
      }
      condition {
        test     = "StringEquals"
        variable = "${var.oidc_provider}:sub"
        values   = [var.service_account]
      }
      condition {
        test     = "StringEquals"
        variable = "${var.oidc_provider}:aud"
        values   = ["sts.amazonaws.com"]
      }
    }
  }
  dynamic "statement" {
    for_each = var.oidc_provider == "" ? [1] : []
    content {
      actions = ["sts:AssumeRole"]
      principals {
        type        = "Service"
        identifiers = ["ecs-tasks.amazonaws.com"]
      }
    }
  }
}

data "aws_iam_policy_document" "worker" {
  statement {
    actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes"]
    resources = [aws_sqs_queue.events.arn]
  }
  statement {
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.dlq.arn]
  }
  statement {
    actions   = ["s3:GetObject"]
    resources = ["arn:aws:s3:::${var.trail_bucket}/AWSLogs/*"]
  }
  statement {
    actions   = ["s3:ListBucket"]
    resources = ["arn:aws:s3:::${var.trail_bucket}"]
  }
  statement {
    actions   = ["s3:PutObject"]
    resources = ["arn:aws:s3:::${var.archive_bucket}/${var.archive_prefix}*"]
  }
  # the anomaly snapshot (detection.state = "s3://<archive bucket>/<prefix>state/"); without
  # ListBucket a first start's missing snapshot reads as 403, not 404
  statement {
    actions   = ["s3:GetObject"]
    resources = ["arn:aws:s3:::${var.archive_bucket}/${var.archive_prefix}state/*"]
  }
  statement {
    actions   = ["s3:ListBucket"]
    resources = ["arn:aws:s3:::${var.archive_bucket}"]
  }
  dynamic "statement" {
    for_each = var.trail_kms_key_arn == "" ? [] : [1]
    content {
      actions   = ["kms:Decrypt"]
      resources = [var.trail_kms_key_arn]
    }
  }
}

resource "aws_iam_role" "worker" {
  name               = "trailwarden-worker"
  assume_role_policy = data.aws_iam_policy_document.assume.json
}

resource "aws_iam_role_policy" "worker" {
  name   = "trailwarden-worker"
  role   = aws_iam_role.worker.id
  policy = data.aws_iam_policy_document.worker.json
}

output "queue_url" { value = aws_sqs_queue.events.id }
output "dead_letter_queue_url" { value = aws_sqs_queue.dlq.id }
output "worker_role_arn" { value = aws_iam_role.worker.arn }
