#!/usr/bin/env bash
# Runs the whole test suite from nothing: installs and starts what the tests need (LocalStack, with
# DynamoDB Local and a JDK), then builds once and runs every test. Each integration test deploys its own
# stack on the one LocalStack, so tests run in parallel without sharing state.
#
#   LS_PORT   LocalStack port (default 4566)
#   extra arguments go to `cargo test` (e.g. `deploy/test.sh --test daemon`)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash deploy/start-localstack.sh
cargo test --locked --all-targets "$@"
