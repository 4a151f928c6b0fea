#!/usr/bin/env bash
# Runs gd-incidents against LocalStack on this machine, from nothing: starts LocalStack (installing it the
# first time), deploys the CloudFormation template as stack `gd-incidents`, writes config/local.toml from
# the stack's outputs, builds the release binary and runs the daemon in the foreground (Ctrl-C stops it).
#
#   STACK      stack name (default gd-incidents)
#   LS_PORT    LocalStack port (default 4566)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
STACK=${STACK:-gd-incidents}
ENDPOINT=http://127.0.0.1:${LS_PORT:-4566}
CONFIG=config/local.toml

bash deploy/start-localstack.sh
# With the containment role, so that `incidents contain` acts on LocalStack's EC2 and IAM as on AWS.
outputs=$(GD_STACK_PARAMS="Containment=true" bash deploy/deploy-stack.sh "$STACK")
out() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$outputs" "$1"; }

cat > "$CONFIG" <<TOML
# Written by deploy/run-local.sh from the outputs of stack $STACK on LocalStack ($ENDPOINT).
# config/localstack.toml explains every key; config/aws.toml is the example for real AWS.
[aws]
region = "us-east-1"
endpoint_url = "$ENDPOINT"
attempt_timeout_secs = 5

[queue]
url = "$(out QueueUrl)"
dead_letter_url = "$(out DeadLetterQueueUrl)"
# HIGH and CRITICAL findings are also copied here, and paged from here first.
urgent_url = "$(out UrgentQueueUrl)"
wait_time_secs = 5

[incidents]
table = "$(out IncidentTableName)"
confidential_table = "$(out ConfidentialTableName)"

[paging]
oce_topic_arn = "$(out OceTopicArn)"
iso_topic_arn = "$(out IsoTopicArn)"

[server]
listen = "127.0.0.1:9090"

[guardduty]
# LocalStack does not emulate GuardDuty: no reconciliation sweeps here.
reconcile_interval_secs = 0

[policy]
# The procedure's High list (3.3): backdoors, malware and data theft are at least HIGH.
high_list = true

[work_hours]
# A digest of the LOW and MEDIUM incidents nobody acknowledged, to the OCE topic in work hours.
digest = true

[containment]
# The role containment actions run under, which the daemon assumes (incidents contain).
role_arn = "$(out ContainmentRoleArn)"
quarantine_bucket = "$(out QuarantineBucketName)"
TOML
echo "wrote $CONFIG" >&2

# Optimised, without the whole-program LTO of a production build (25 minutes on 2 cores): a few minutes.
CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 cargo build --release --locked
# Where cargo put it: CARGO_TARGET_DIR, when set, moves target/.
BIN="${CARGO_TARGET_DIR:-target}/release/gd-incidents"
export AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-test} AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-test}
cat >&2 <<MSG

gd-incidents is starting against LocalStack (config: $CONFIG). In another terminal, try:

  export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test   # LocalStack's credentials
  # 1. watch what the on-call engineer and the security officer receive
  $BIN pages --follow --config $CONFIG
  # 2. a HIGH GuardDuty finding, delivered as AWS delivers it (EventBridge -> rule -> queue)
  $BIN sample --severity HIGH --config $CONFIG
  # 3. the incident it became, and what a responder does next
  $BIN incidents list --config $CONFIG
  $BIN incidents show <incident id> --config $CONFIG

Ctrl-C stops the daemon.

MSG
exec "$BIN" run --config "$CONFIG"
