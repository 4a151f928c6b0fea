// What IAM authorises for one recorded AWS call (a line of the call log, src/adapters/call_log.rs): the
// actions and resource ARNs, as the Service Authorization Reference defines them.

const ONE_FOR_BATCH = {
  SendMessageBatch: 'SendMessage',
  DeleteMessageBatch: 'DeleteMessage',
  ChangeMessageVisibilityBatch: 'ChangeMessageVisibility',
};

const TRANSACT = { Put: 'PutItem', Update: 'UpdateItem', ConditionCheck: 'ConditionCheckItem', Delete: 'DeleteItem', Get: 'GetItem' };

function json(body) {
  try {
    return JSON.parse(body ?? '');
  } catch {
    return {};
  }
}

function form(body) {
  return Object.fromEntries(new URLSearchParams(body ?? ''));
}

/**
 * The partition key a DynamoDB request acts on (the context key dynamodb:LeadingKeys): its Key's or Item's
 * `pk`, or the value a Query's key condition gives `pk`.
 */
function leadingKey(request) {
  const pk = request.Key?.pk?.S ?? request.Item?.pk?.S;
  if (pk) return pk;
  const condition = request.KeyConditionExpression ?? '';
  const name = /\bpk\s*=\s*(:\w+)/.exec(condition)?.[1];
  return name ? request.ExpressionAttributeValues?.[name]?.S : undefined;
}

/** The ARN of the queue of a queue URL (`.../<account>/<name>`). */
export function queueArn(url, region) {
  const parts = new URL(url).pathname.split('/').filter(Boolean);
  return `arn:aws:sqs:${region}:${parts[0]}:${parts[1]}`;
}

/**
 * The requests IAM authorises for `call` ({service, operation, uri, body}): a list of {action, resource}.
 * An empty list: a call that needs no permission (sts:GetCallerIdentity).
 */
export function requests(call, { account, region, tags = new Map() }) {
  const seen = { tags };
  const op = call.operation;
  const table = (name) => `arn:aws:dynamodb:${region}:${account}:table/${name}`;
  switch (call.service) {
    case 'DynamoDB': {
      const b = json(call.body);
      if (op === 'TransactWriteItems' || op === 'TransactGetItems') {
        return (b.TransactItems ?? []).flatMap((item) => Object.entries(item).map(([kind, x]) => ({
          action: `dynamodb:${TRANSACT[kind] ?? kind}`, resource: table(x.TableName), leadingKey: leadingKey(x),
        })));
      }
      if (op === 'BatchGetItem' || op === 'BatchWriteItem') {
        return Object.keys(b.RequestItems ?? {}).map((t) => ({ action: `dynamodb:${op}`, resource: table(t) }));
      }
      const resource = b.IndexName ? `${table(b.TableName)}/index/${b.IndexName}` : table(b.TableName);
      return [{ action: `dynamodb:${op}`, resource, leadingKey: b.IndexName ? undefined : leadingKey(b) }];
    }
    case 'SQS': {
      const b = json(call.body);
      const action = `sqs:${ONE_FOR_BATCH[op] ?? op}`;
      if (op === 'ListQueues') return [{ action, resource: '*' }];
      if (op === 'GetQueueUrl' || op === 'CreateQueue') {
        const owner = b.QueueOwnerAWSAccountId ?? account;
        return [{ action, resource: `arn:aws:sqs:${region}:${owner}:${b.QueueName}` }];
      }
      return [{ action, resource: queueArn(b.QueueUrl, region) }];
    }
    case 'SNS': {
      const b = form(call.body);
      const action = `sns:${op}`;
      if (op === 'Unsubscribe') return [{ action, resource: b.SubscriptionArn.split(':').slice(0, 6).join(':') }];
      if (op === 'ListTopics' || op === 'ListSubscriptions') return [{ action, resource: '*' }];
      return [{ action, resource: b.TopicArn }];
    }
    case 'STS':
      return op === 'GetCallerIdentity' ? [] : [{ action: `sts:${op}`, resource: '*' }];
    case 'GuardDuty': {
      const path = new URL(call.uri).pathname.split('/').filter(Boolean);
      const action = `guardduty:${op}`;
      if (path[0] === 'detector' && path[1]) {
        return [{ action, resource: `arn:aws:guardduty:${region}:${account}:detector/${path[1]}` }];
      }
      return [{ action, resource: '*' }];
    }
    case 'EventBridge': {
      const b = json(call.body);
      if (op === 'ListRuleNamesByTarget') return [{ action: `events:${op}`, resource: `arn:aws:events:${region}:${account}:rule/*` }];
      const buses = new Set((b.Entries ?? []).map((e) => e.EventBusName ?? 'default'));
      return [...buses].map((bus) => ({
        action: `events:${op}`,
        resource: bus.startsWith('arn:') ? bus : `arn:aws:events:${region}:${account}:event-bus/${bus}`,
      }));
    }
    case 'EC2':
      return ec2Requests(op, form(call.body), { account, region });
    case 'IAM': {
      const b = form(call.body);
      const resource = b.RoleName ? `role/${b.RoleName}` : `user/${b.UserName}`;
      return [{ action: `iam:${op}`, resource: `arn:aws:iam::${account}:${resource}` }];
    }
    case 'S3':
      return s3Requests(op, call, seen);
    case 'WAFV2': {
      const b = json(call.body);
      const scope = b.Scope === 'CLOUDFRONT' ? 'global' : 'regional';
      return [{ action: `wafv2:${op}`, resource: `arn:aws:wafv2:${region}:${account}:${scope}/ipset/${b.Name}/${b.Id}` }];
    }
    default:
      return [{ action: `${call.service.toLowerCase()}:${op}`, resource: '*' }];
  }
}

/** Bucket and key of an S3 request: virtual-hosted (`bucket.s3.<region>.amazonaws.com/key`) or by path. */
function s3Object(uri) {
  const url = new URL(uri);
  const hosted = /^(.+)\.s3[.-]/.exec(url.hostname);
  const path = url.pathname.slice(1);
  const [bucket, key] = hosted ? [hosted[1], path] : [path.split('/')[0], path.split('/').slice(1).join('/')];
  return { bucket, key: decodeURIComponent(key), versioned: url.searchParams.has('versionId') };
}

/**
 * What IAM authorises for an S3 call. A copy reads its source (`x-amz-copy-source`) with the tags that
 * object has, as far as this process's earlier calls tell (s3:ExistingObjectTag/<key>): the tags it put.
 */
function s3Requests(op, call, seen) {
  const { bucket, key, versioned } = s3Object(call.uri);
  const object = `arn:aws:s3:::${bucket}/${key}`;
  const version = (plain, ofVersion) => `s3:${versioned ? ofVersion : plain}`;
  switch (op) {
    case 'GetObjectTagging':
      return [{ action: version('GetObjectTagging', 'GetObjectVersionTagging'), resource: object }];
    case 'PutObjectTagging': {
      const tags = {};
      for (const m of (call.body ?? '').matchAll(/<Tag>\s*<Key>([^<]*)<\/Key>\s*<Value>([^<]*)<\/Value>\s*<\/Tag>/g)) {
        tags[m[1]] = m[2];
      }
      seen.tags.set(object.replace(/\?.*$/, ''), tags);
      return [{ action: version('PutObjectTagging', 'PutObjectVersionTagging'), resource: object }];
    }
    case 'HeadObject':
      return [{ action: version('GetObject', 'GetObjectVersion'), resource: object }];
    case 'CopyObject': {
      const source = new URL(`s3://${call.copy_source}`);
      const from = `arn:aws:s3:::${source.host}/${decodeURIComponent(source.pathname.slice(1))}`;
      const tags = seen.tags.get(from) ?? {};
      const context = Object.fromEntries(Object.entries(tags).map(([k, v]) => [`s3:ExistingObjectTag/${k}`, v]));
      const read = source.searchParams.has('versionId') ? 's3:GetObjectVersion' : 's3:GetObject';
      return [
        { action: read, resource: from, context },
        { action: 's3:PutObject', resource: object },
        { action: 's3:PutObjectTagging', resource: object },
      ];
    }
    default:
      throw new Error(`S3 ${op} is not mapped`);
  }
}

/**
 * What IAM authorises for an EC2 call (query protocol: a form body), per the Service Authorization
 * Reference: each resource type the action names is a request of its own; tags given at creation are also
 * an ec2:CreateTags request on the new resource, with the tag keys as aws:TagKeys.
 */
function ec2Requests(op, b, { account, region }) {
  const action = `ec2:${op}`;
  const arn = (type, id) => (type === 'snapshot'
    ? `arn:aws:ec2:${region}::snapshot/${id}`
    : `arn:aws:ec2:${region}:${account}:${type}/${id}`);
  const list = (prefix) => Object.entries(b).filter(([k]) => new RegExp(`^${prefix}\\.\\d+$`).test(k)).map(([, v]) => v);
  const tagKeys = (prefix) => Object.entries(b).filter(([k]) => new RegExp(`^${prefix}\\.\\d+\\.Key$`).test(k)).map(([, v]) => v);
  const TYPES = { 'i-': 'instance', 'sg-': 'security-group', 'snap-': 'snapshot', 'vol-': 'volume', 'eni-': 'network-interface' };
  const byId = (id) => arn(Object.entries(TYPES).find(([p]) => id.startsWith(p))?.[1] ?? 'unknown', id);
  const created = (type, keys) => (keys.length ? [{ action: 'ec2:CreateTags', resource: arn(type, '*'), tagKeys: keys }] : []);
  switch (op) {
    case 'CreateSecurityGroup': {
      const keys = tagKeys('TagSpecification\\.1\\.Tag');
      return [{ action, resource: arn('vpc', b.VpcId) }, { action, resource: arn('security-group', '*') }, ...created('security-group', keys)];
    }
    case 'CreateNetworkAclEntry':
    case 'DeleteNetworkAclEntry':
      return [{ action, resource: arn('network-acl', b.NetworkAclId) }];
    case 'RevokeSecurityGroupEgress':
    case 'AuthorizeSecurityGroupIngress':
      return [{ action, resource: arn('security-group', b.GroupId) }];
    case 'ModifyInstanceAttribute':
      return [{ action, resource: arn('instance', b.InstanceId) }, ...list('GroupId').map((g) => ({ action, resource: arn('security-group', g) }))];
    case 'ModifyNetworkInterfaceAttribute':
      return [
        { action, resource: arn('network-interface', b.NetworkInterfaceId) },
        ...list('SecurityGroupId').map((g) => ({ action, resource: arn('security-group', g) })),
      ];
    case 'CreateTags': {
      const keys = tagKeys('Tag');
      return list('ResourceId').map((id) => ({ action, resource: byId(id), tagKeys: keys }));
    }
    case 'CreateSnapshot': {
      const keys = tagKeys('TagSpecification\\.1\\.Tag');
      return [{ action, resource: arn('volume', b.VolumeId) }, { action, resource: arn('snapshot', '*') }, ...created('snapshot', keys)];
    }
    default:
      // The Describe calls define no resource type; anything else must be mapped here before it is used.
      if (op.startsWith('Describe')) return [{ action, resource: '*' }];
      throw new Error(`EC2 ${op} is not mapped`);
  }
}

const DYNAMODB_WRITES = new Set(['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:BatchWriteItem']);

/**
 * The KMS requests a call makes on the caller's behalf: SQS and SNS use the key of an encrypted queue or
 * topic with the caller's permissions (send and publish: GenerateDataKey; receive: Decrypt), and DynamoDB the
 * key of a table encrypted with a customer managed key (every read and write: Decrypt; writes also
 * GenerateDataKey), as the service that calls KMS (kms:ViaService).
 */
export function keyRequests(request, encryptedBy, region) {
  const service = request.resource.split(':')[2];
  const onTable = service === 'dynamodb' ? request.resource.replace(/\/index\/.*$/, '') : request.resource;
  const key = encryptedBy[onTable];
  if (!key) return [];
  if (service === 'dynamodb') {
    if (request.action === 'dynamodb:DescribeTable') return [];
    const uses = DYNAMODB_WRITES.has(request.action) ? ['kms:Decrypt', 'kms:GenerateDataKey'] : ['kms:Decrypt'];
    return uses.map((action) => ({ action, resource: key, via: request.action, viaService: `dynamodb.${region}.amazonaws.com` }));
  }
  const uses = {
    'sqs:SendMessage': ['kms:GenerateDataKey', 'kms:Decrypt'],
    'sqs:ReceiveMessage': ['kms:Decrypt'],
    'sns:Publish': ['kms:GenerateDataKey', 'kms:Decrypt'],
  }[request.action] ?? [];
  return uses.map((action) => ({ action, resource: key, via: request.action, viaService: `${service}.${region}.amazonaws.com` }));
}
