#!/usr/bin/env bash
# Deploys deploy/cloudformation/gd-incidents.yaml (or $GD_TEMPLATE) as stack STACK_NAME (default gd-incidents) and prints the
# stack's outputs, and nothing else, on stdout as one flat JSON object:
#   {"DeadLetterQueueUrl": "...", "IncidentTableName": "...", "QueueUrl": "...", ...}
# The daemon's config takes QueueUrl as [queue] url and UrgentQueueUrl as [queue] urgent_url (the priority lane
# for HIGH and CRITICAL findings), IncidentTableName, OceTopicArn and IsoTopicArn.
# Progress and errors go to stderr. Idempotent (a second run with nothing changed is a no-op printing the same
# outputs) and safe to run concurrently for different stack names (runs for the same name and endpoint wait
# for each other).
#
# Usage: deploy/deploy-stack.sh [STACK_NAME]
#
# Environment:
#   GD_TEMPLATE      another template of deploy/cloudformation (default gd-incidents.yaml), e.g.
#                    gd-incidents-forward.yaml in another region (AWS_DEFAULT_REGION).
#   GD_STACK_PARAMS  extra parameters, space-separated Key=Value (e.g. "MaxReceiveCount=2
#                    TableDeletionProtection=false"). Parameters not given keep the value the stack already
#                    has (a new stack gets the template defaults).
#   GD_REAL_AWS=1    deploy to real AWS with `aws` from PATH, the usual credential chain and region, and no
#                    endpoint override (AWS_ENDPOINT_URL is ignored in this mode).
#   AWS_ENDPOINT_URL otherwise: the endpoint to deploy to (default: LocalStack at http://127.0.0.1:$LS_PORT).
#   LS_PORT          LocalStack port (default 4566).
#   GD_DEPLOY_POLL_SECONDS  seconds between polls of a running deployment (default 1; 10 on real AWS).
#   LS_HOME          where start-localstack.sh installed LocalStack and the aws CLI
#                    (default ~/.cache/localstack-host; the CLI is $LS_HOME/venv/bin/aws).
# Against an endpoint, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY default to "test" and AWS_DEFAULT_REGION to
# $AWS_REGION or us-east-1, when they are not set.
set -euo pipefail

STACK=${1:-gd-incidents}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TEMPLATE="$HERE/cloudformation/${GD_TEMPLATE:-gd-incidents.yaml}"

log() { printf '[deploy-stack %s] %s\n' "$STACK" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[ -f "$TEMPLATE" ] || die "template not found: $TEMPLATE"
command -v python3 >/dev/null || die "python3 is required"

# --- target -------------------------------------------------------------------------------------------------
if [ "${GD_REAL_AWS:-}" = 1 ]; then
  # The CLI honours AWS_ENDPOINT_URL(_<SERVICE>) by itself: drop them, real AWS means real endpoints.
  unset AWS_ENDPOINT_URL AWS_ENDPOINT_URL_CLOUDFORMATION
  command -v aws >/dev/null || die "GD_REAL_AWS=1 needs the aws CLI on PATH"
  AWS=(aws)
  if [ -z "${AWS_DEFAULT_REGION:-}" ] && [ -n "${AWS_REGION:-}" ]; then export AWS_DEFAULT_REGION=$AWS_REGION; fi
  TARGET="real AWS (region ${AWS_DEFAULT_REGION:-from the CLI config})"
else
  ENDPOINT=${AWS_ENDPOINT_URL:-http://127.0.0.1:${LS_PORT:-4566}}
  LS_HOME=${LS_HOME:-$HOME/.cache/localstack-host}
  if [ -x "$LS_HOME/venv/bin/aws" ]; then
    AWS_BIN="$LS_HOME/venv/bin/aws"
  elif command -v aws >/dev/null; then
    AWS_BIN=$(command -v aws)
    log "no aws CLI in $LS_HOME/venv/bin (run deploy/start-localstack.sh); using $AWS_BIN"
  else
    die "no aws CLI: expected $LS_HOME/venv/bin/aws (deploy/start-localstack.sh installs it) or aws on PATH"
  fi
  export AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-test}
  export AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-test}
  export AWS_DEFAULT_REGION=${AWS_DEFAULT_REGION:-${AWS_REGION:-us-east-1}}
  AWS=("$AWS_BIN" --endpoint-url "$ENDPOINT")
  TARGET="$ENDPOINT (region $AWS_DEFAULT_REGION)"
fi
export AWS_PAGER=""  # CLI v2 would otherwise page JSON output
# Seconds between polls of a running deployment: LocalStack is fast, real AWS rate-limits DescribeStacks.
POLL=${GD_DEPLOY_POLL_SECONDS:-$([ "${GD_REAL_AWS:-}" = 1 ] && echo 10 || echo 1)}

# The longest name in the template is the IAM role "<stack>-<region>-daemon", limited to 64 characters.
region=${AWS_DEFAULT_REGION:-$("${AWS[@]}" configure get region 2>/dev/null || true)}
max_len=$((64 - ${#region} - 8)); [ -n "$region" ] || max_len=42
[[ $STACK =~ ^[A-Za-z][A-Za-z0-9-]*$ ]] && [ ${#STACK} -le $max_len ] ||
  die "stack name must be letters, digits and hyphens, start with a letter and have at most $max_len characters (IAM role <stack>-${region:-<region>}-daemon must fit 64)"

# --- one deployment per stack at a time -----------------------------------------------------------------------
# CloudFormation refuses a second update while one is in progress; serialise runs for the same stack and target
# so that concurrent callers all succeed. Different stacks use different locks and run in parallel.
if command -v flock >/dev/null; then
  LOCK_DIR="${TMPDIR:-/tmp}/gd-incidents-deploy-locks"
  mkdir -p "$LOCK_DIR"
  lock_key=$(printf '%s|%s|%s' "$TARGET" "${AWS_PROFILE:-}" "$STACK" | sha256sum | cut -c1-24)
  exec 8>"$LOCK_DIR/$lock_key.lock"
  flock -w 1800 8 || die "timed out waiting for another deployment of $STACK"
fi

# --- helpers --------------------------------------------------------------------------------------------------
stack_status() {  # prints the stack status, or NONE when the stack does not exist
  local out
  if out=$("${AWS[@]}" cloudformation describe-stacks --stack-name "$STACK" \
             --query 'Stacks[0].StackStatus' --output text 2>&1); then
    printf '%s\n' "$out"
  elif [[ $out == *"does not exist"* ]]; then
    echo NONE
  else
    log "describe-stacks failed: $out"
    return 1
  fi
}

# Prints, on stderr, the failure events of the stack since $1 (epoch seconds), or its latest failures.
print_failed_events() {
  local since=$1 events
  events=$("${AWS[@]}" cloudformation describe-stack-events --stack-name "$STACK" --output json \
             --query 'StackEvents[].{t:Timestamp,id:LogicalResourceId,type:ResourceType,status:ResourceStatus,reason:ResourceStatusReason}' \
             2>/dev/null) || { log "(no stack events: the stack was not created)"; return 0; }
  SINCE=$since python3 -c '
import json, os, sys
from datetime import datetime, timezone
since = float(os.environ["SINCE"]) - 120  # margin for clock skew between this host and the endpoint
def ts(e):
    try:
        d = datetime.fromisoformat(str(e["t"]).replace("Z", "+00:00"))
        return (d if d.tzinfo else d.replace(tzinfo=timezone.utc)).timestamp()
    except ValueError:
        return float("inf")
events = json.load(sys.stdin) or []
failed = [e for e in events if "FAILED" in (e.get("status") or "")]
recent = [e for e in failed if ts(e) >= since] or failed[:20]
recent = [e for e in recent if e.get("reason")] or recent  # drop the reasonless cascade entries
for e in reversed(recent):
    line = "  {t}  {id} ({type})  {status}: {reason}".format(**{**e, "reason": e.get("reason") or ""})
    print(line, file=sys.stderr)
if not recent:
    print("  (no failed resource events)", file=sys.stderr)
' <<<"$events"
}

wait_settled() {  # waits while another party has an operation in progress on the stack
  local status
  for _ in $(seq 1 360); do
    status=$(stack_status) || return 1
    [[ $status == *_IN_PROGRESS && $status != REVIEW_IN_PROGRESS ]] || { printf '%s\n' "$status"; return 0; }
    log "stack is $status; waiting for it to settle"
    sleep 5
  done
  log "stack still in progress after 30 min"
  return 1
}

# --- deploy ---------------------------------------------------------------------------------------------------
START=$(date +%s)
log "deploying to $TARGET"
status=$(wait_settled) || die "cannot read the state of stack $STACK"

# A stack whose creation failed and rolled back cannot be updated: remove the empty shell and start over.
# (Retained resources, the table and the key, survive and are reported by the new attempt if they collide.)
if [ "$status" = ROLLBACK_COMPLETE ]; then
  log "stack is ROLLBACK_COMPLETE from an earlier failed creation; deleting it before deploying again"
  "${AWS[@]}" cloudformation delete-stack --stack-name "$STACK" >&2
  "${AWS[@]}" cloudformation wait stack-delete-complete --stack-name "$STACK" >&2 ||
    die "could not delete the failed stack $STACK"
fi

params=()
if [ -n "${GD_STACK_PARAMS:-}" ]; then
  read -r -a params <<<"$GD_STACK_PARAMS"
  log "parameter overrides: ${params[*]}"
fi

deploy_args=(cloudformation deploy --stack-name "$STACK" --template-file "$TEMPLATE"
             --capabilities CAPABILITY_NAMED_IAM --no-fail-on-empty-changeset --no-execute-changeset)
[ ${#params[@]} -eq 0 ] || deploy_args+=(--parameter-overrides "${params[@]}")

# `cloudformation deploy` builds the change set (parameter merging, empty-change detection); this script
# executes it and polls the stack itself, because the CLI polls a running stack only every 30 s: on
# LocalStack a stack is created in ~4 s, and tests create one stack each.
# The CLI's own messages go to stderr: stdout carries only the outputs.
if ! deploy_out=$("${AWS[@]}" "${deploy_args[@]}" 2>&1); then
  printf '%s\n' "$deploy_out" >&2
  log "deployment FAILED (change set); stack status: $(stack_status 2>/dev/null || echo unknown)"
  print_failed_events "$START"
  exit 1
fi
printf '%s\n' "$deploy_out" | sed -e '/^[[:space:]]*$/d' -e '/describe-change-set/d' -e 's/ Run the following command to review changes://' >&2
changeset=$(grep -Eo 'arn:[^[:space:]]+:changeSet/[^[:space:]]+' <<<"$deploy_out" | tail -n 1 || true)

if [ -n "$changeset" ]; then
  "${AWS[@]}" cloudformation execute-change-set --change-set-name "$changeset" --stack-name "$STACK" >&2
  log "executing the change set"
  deadline=$(($(date +%s) + 3600))
  last="" absent=0
  while :; do
    status=$(stack_status) || die "cannot read the state of stack $STACK"
    [ "$status" = "$last" ] || [[ $status != *_IN_PROGRESS ]] || log "stack is $status"
    last=$status
    if [ "$status" = NONE ]; then  # a new stack may take a moment to be listed
      absent=$((absent + 1)); [ $absent -le 30 ] || die "stack $STACK vanished after executing its change set"
    elif [[ $status != *_IN_PROGRESS ]]; then
      break
    fi
    [ "$(date +%s)" -lt "$deadline" ] || die "stack $STACK still $status after an hour"
    sleep "$POLL"
  done
elif [[ $deploy_out == *"No changes to deploy"* ]]; then
  log "no changes: the stack is up to date"
else
  die "cannot find the change set in the CLI's output (see above)"
fi

status=$(stack_status) || die "cannot read the state of stack $STACK"
case $status in
  CREATE_COMPLETE | UPDATE_COMPLETE | IMPORT_COMPLETE) ;;
  *) log "deployment FAILED: stack ended in $status. Failed resources:"; print_failed_events "$START"; exit 1 ;;
esac
log "done: stack is $status after $(($(date +%s) - START)) s"

# --- outputs --------------------------------------------------------------------------------------------------
"${AWS[@]}" cloudformation describe-stacks --stack-name "$STACK" --output json \
    --query 'Stacks[0].Outputs[].{k:OutputKey,v:OutputValue}' |
  python3 -c '
import json, sys
outputs = {o["k"]: o["v"] for o in json.load(sys.stdin) or []}
required = ["QueueUrl", "DeadLetterQueueUrl", "IncidentTableName", "OceTopicArn", "IsoTopicArn"] if sys.argv[1] == "gd-incidents.yaml" else []
missing = [k for k in required if not outputs.get(k)]
if missing:
    sys.exit("stack outputs lack " + ", ".join(missing))
print(json.dumps(outputs, sort_keys=True))
' "$(basename "$TEMPLATE")"
