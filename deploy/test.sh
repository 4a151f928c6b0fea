#!/usr/bin/env bash
# Runs the whole test suite from nothing: installs and starts what the tests need (LocalStack, with
# DynamoDB Local and a JDK), then builds once and runs every test. Each integration test deploys its own
# stack on the one LocalStack, so tests run in parallel without sharing state. Last, every AWS call the
# tests' daemons and portals made is checked against their IAM roles in the templates.
#
#   LS_PORT   LocalStack port (default 4566)
#   extra arguments go to `cargo test`: `deploy/test.sh --test daemon` runs that test alone,
#   `deploy/test.sh -- --nocapture` runs everything and shows the tests' output
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash deploy/start-localstack.sh
# Every target, unless the arguments choose some (before a `--`, which starts the test binaries' own).
select=--all-targets
for arg in "$@"; do
  case $arg in
    --) break ;;
    --lib | --bins | --bin | --bin=* | --tests | --test | --test=* | --benches | --bench | --bench=* | --all-targets | --doc) select= ;;
  esac
done
# The daemons' and portals' AWS calls, recorded by the tests (tests/support/process.rs), then checked
# against their roles in the templates: LocalStack enforces no IAM (tests/iam/suite.mjs).
rm -rf target/call-logs
cargo test --locked $select "$@"
if [ -d target/call-logs ]; then
  [ -d tests/iam/node_modules/@cloud-copilot/iam-simulate ] ||
    (cd tests/iam && npm ci --no-audit --no-fund --loglevel=error)
  node tests/iam/suite.mjs target/call-logs
fi
