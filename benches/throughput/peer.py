"""The throughput bench's peer: a GuardDuty consumer written the way AWS's "GuardDuty to Slack" sample
consumers are, to compare the daemon with what a team would otherwise run (benches/README.md).

FIVE poller threads, each looping: ReceiveMessage (10, 1 s long poll); for each message one conditional
PutItem (`attribute_not_exists(pk)`) of the incident's attributes plus the raw event, the same item as the
bench's ceiling loop (benches/throughput/ceiling.rs, `ceiling_item`), a ConditionalCheckFailed counting as
done; then DeleteMessage for that message (the samples delete one by one). It uses the low-level boto3
clients, the leanest way to make these calls from Python.

It stops once it has processed --expected messages and every thread has had --empty-receives empty
receives in a row, prints one JSON line (processed, seconds from the first receive to the last delete, and
call counts) and then waits for a line (or end of file) on stdin before it exits, so that the bench can read
its CPU time and peak RSS from /proc while it is still there. Exit status 0 only if it processed them in
time (errors, retried by SQS, are counted). Standard library and boto3 only.
"""

import argparse
import datetime
import json
import sys
import threading
import time
import uuid

import boto3
from botocore.exceptions import BotoCoreError, ClientError

THREADS = 5


def number(v):
    """A DynamoDB number as the bench's Rust writes an f64: 2.0 -> "2", 9.5 -> "9.5"."""
    v = float(v)
    return str(int(v)) if v.is_integer() else repr(v)


def item_of(body, pk_format, sk, record_type):
    """The ceiling's item for a finding event: its incident attributes plus the raw event."""
    d = json.loads(body)["detail"]
    now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    account, region, finding = d["accountId"], d["region"], d["id"]

    def s(v):
        return {"S": v}

    return {
        "pk": s(pk_format.format(account=account, region=region, id=finding)),
        "sk": s(sk),
        "record_type": s(record_type),
        "incident_id": s(str(uuid.uuid4())),
        "account_id": s(account),
        "region": s(region),
        "finding_id": s(finding),
        "finding_type": s(d["type"]),
        "severity": s("LOW"),
        "status": s("open"),
        "title": s(d.get("title") or ""),
        "description": s(d.get("description") or ""),
        "created_at": s(now),
        "updated_at": s(now),
        "evidence": s(body),
        "version": {"N": "1"},
        "finding_severity": {"N": number(d.get("severity") or 0)},
    }


class Shared:
    """Counters of all pollers, under one lock."""

    def __init__(self):
        self.lock = threading.Lock()
        self.processed = 0
        self.receives = 0
        self.empty_receives = 0
        self.puts = 0
        self.conditional_failures = 0
        self.deletes = 0
        self.errors = 0
        self.malformed = 0
        self.first_receive = None
        self.last_delete = None
        self.timed_out = False


def poller(args, sqs, ddb, shared, deadline):
    """One consumer loop: receive 10, put each, delete each; ends when all is done and the queue stays empty."""
    empties = 0
    while True:
        if time.monotonic() > deadline:
            with shared.lock:
                shared.timed_out = True
            return
        with shared.lock:
            if shared.first_receive is None:
                shared.first_receive = time.monotonic()
            shared.receives += 1
        try:
            out = sqs.receive_message(QueueUrl=args.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=args.wait)
        except (ClientError, BotoCoreError) as e:
            print(f"peer: receive: {e}", file=sys.stderr)
            with shared.lock:
                shared.errors += 1
            time.sleep(0.5)
            continue
        messages = out.get("Messages", [])
        if not messages:
            empties += 1
            with shared.lock:
                shared.empty_receives += 1
                done = shared.processed >= args.expected
            if done and empties >= args.empty_receives:
                return
            continue
        empties = 0
        for m in messages:
            counted = True
            try:
                item = item_of(m["Body"], args.pk_format, args.sk, args.record_type)
            except (KeyError, TypeError, ValueError) as e:
                print(f"peer: not a finding event ({e!r}); deleting it", file=sys.stderr)
                counted = False
                with shared.lock:
                    shared.malformed += 1
            if counted:
                try:
                    ddb.put_item(TableName=args.table, Item=item, ConditionExpression="attribute_not_exists(pk)")
                    with shared.lock:
                        shared.puts += 1
                except ClientError as e:
                    if e.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                        print(f"peer: PutItem: {e}", file=sys.stderr)
                        with shared.lock:
                            shared.errors += 1
                        continue  # not deleted: it comes back after the visibility timeout
                    with shared.lock:
                        shared.puts += 1
                        shared.conditional_failures += 1
                except BotoCoreError as e:
                    print(f"peer: PutItem: {e}", file=sys.stderr)
                    with shared.lock:
                        shared.errors += 1
                    continue
            try:
                sqs.delete_message(QueueUrl=args.queue_url, ReceiptHandle=m["ReceiptHandle"])
            except (ClientError, BotoCoreError) as e:
                print(f"peer: DeleteMessage: {e}", file=sys.stderr)
                with shared.lock:
                    shared.errors += 1
                continue
            with shared.lock:
                shared.deletes += 1
                shared.processed += int(counted)
                shared.last_delete = time.monotonic()


def main():
    """Parses the arguments, runs the pollers, prints the result and waits for stdin before exiting."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--endpoint", required=True)
    p.add_argument("--region", default="us-east-1")
    p.add_argument("--queue-url", required=True)
    p.add_argument("--table", required=True)
    p.add_argument("--expected", type=int, required=True, help="messages to process before stopping")
    p.add_argument("--pk-format", required=True, help="the incident's pk, with {account}, {region} and {id}")
    p.add_argument("--sk", required=True, help="the incident item's sort key")
    p.add_argument("--record-type", required=True, help="the incident item's record_type")
    p.add_argument("--wait", type=int, default=1, help="long poll, seconds")
    p.add_argument("--empty-receives", type=int, default=3, help="empty receives in a row that end a thread")
    p.add_argument("--timeout", type=float, default=600.0, help="give up after this many seconds")
    args = p.parse_args()

    session = boto3.session.Session(region_name=args.region)
    sqs = session.client("sqs", endpoint_url=args.endpoint)
    ddb = session.client("dynamodb", endpoint_url=args.endpoint)
    shared = Shared()
    deadline = time.monotonic() + args.timeout
    threads = [
        threading.Thread(target=poller, args=(args, sqs, ddb, shared, deadline), name=f"poller-{i}", daemon=True)
        for i in range(THREADS)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    seconds = None
    if shared.first_receive is not None and shared.last_delete is not None:
        seconds = shared.last_delete - shared.first_receive
    ok = not shared.timed_out and shared.processed >= args.expected
    result = {
        "ok": ok,
        "processed": shared.processed,
        "seconds": seconds,
        "threads": THREADS,
        "receives": shared.receives,
        "empty_receives": shared.empty_receives,
        "puts": shared.puts,
        "conditional_failures": shared.conditional_failures,
        "deletes": shared.deletes,
        "errors": shared.errors,
        "malformed": shared.malformed,
        "timed_out": shared.timed_out,
    }
    print(json.dumps(result), flush=True)
    sys.stdin.readline()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
