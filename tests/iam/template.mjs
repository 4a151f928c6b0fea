// A CloudFormation template read offline: its YAML short forms (!Ref, !Sub, ...) parsed, and every value
// resolved as CloudFormation would for one stack (name, account, region, parameters, imports), so that the
// IAM policies of its roles can be evaluated without deploying them.

import fs from 'node:fs';
import yaml from 'js-yaml';

const SHORT = [
  ['Ref', 'scalar'], ['Condition', 'scalar'], ['GetAZs', 'scalar'], ['Base64', 'scalar'],
  ['Sub', 'scalar'], ['Sub', 'sequence'], ['GetAtt', 'scalar'], ['GetAtt', 'sequence'],
  ['ImportValue', 'scalar'], ['ImportValue', 'mapping'],
  ['If', 'sequence'], ['Equals', 'sequence'], ['Not', 'sequence'], ['And', 'sequence'], ['Or', 'sequence'],
  ['Join', 'sequence'], ['Select', 'sequence'], ['Split', 'sequence'], ['FindInMap', 'sequence'],
  ['Cidr', 'sequence'], ['Base64', 'mapping'],
];

const SCHEMA = yaml.DEFAULT_SCHEMA.extend(
  SHORT.map(([name, kind]) => new yaml.Type(`!${name}`, {
    kind,
    construct: (data) => {
      if (name === 'Ref' || name === 'Condition') return { [name]: data };
      if (name === 'GetAtt' && typeof data === 'string') return { 'Fn::GetAtt': data.split('.') };
      return { [`Fn::${name}`]: data };
    },
  })),
);

/** Reads a template file. */
export function load(path) {
  return yaml.load(fs.readFileSync(path, 'utf8'), { schema: SCHEMA });
}

const NO_VALUE = Symbol('NoValue');

/** A template resolved for one stack: `resolve(value)` gives what CloudFormation would. */
export class Stack {
  /** `physical`: what CloudFormation generated, where the test knows it: `AWS::StackId`'s uuid. */
  constructor(template, { name, account, region, parameters = {}, imports = {}, physical = {} }) {
    this.t = template;
    this.physical = physical;
    this.name = name;
    this.account = account;
    this.region = region;
    this.imports = imports;
    this.params = {};
    for (const [key, p] of Object.entries(template.Parameters ?? {})) {
      const raw = key in parameters ? parameters[key] : p.Default;
      this.params[key] = p.Type?.startsWith('CommaDelimitedList') || p.Type?.startsWith('List<')
        ? String(raw ?? '').split(',').filter((s, i, all) => all.length > 1 || s !== '')
        : raw;
    }
    this.conditions = {};
  }

  condition(name) {
    if (!(name in this.conditions)) this.conditions[name] = Boolean(this.resolve(this.t.Conditions[name]));
    return this.conditions[name];
  }

  resource(logical) {
    const r = this.t.Resources?.[logical];
    if (!r) throw new Error(`no resource ${logical}`);
    return r;
  }

  prop(logical, key, fallback) {
    const v = this.resource(logical).Properties?.[key];
    return v === undefined ? fallback : this.resolve(v);
  }

  arn(service, rest, region = this.region) {
    return `arn:aws:${service}:${region}:${this.account}:${rest}`;
  }

  ref(logical) {
    const pseudo = {
      'AWS::AccountId': this.account, 'AWS::Region': this.region, 'AWS::Partition': 'aws',
      'AWS::StackName': this.name, 'AWS::URLSuffix': 'amazonaws.com', 'AWS::NoValue': NO_VALUE,
      'AWS::StackId': this.arn('cloudformation', `stack/${this.name}/${this.physical['AWS::StackId'] ?? '0a1b2c3d-0000-0000-0000-000000000000'}`),
    };
    if (logical in pseudo) return pseudo[logical];
    if (logical in this.params) return this.params[logical];
    const r = this.resource(logical);
    switch (r.Type) {
      case 'AWS::SQS::Queue':
        return `https://sqs.${this.region}.amazonaws.com/${this.account}/${this.getAtt(logical, 'QueueName')}`;
      case 'AWS::SNS::Topic': return this.getAtt(logical, 'TopicArn');
      case 'AWS::DynamoDB::Table': return this.prop(logical, 'TableName', `${this.name}-${logical}`);
      case 'AWS::KMS::Key': return `key-${logical}`;
      case 'AWS::IAM::Role': return this.prop(logical, 'RoleName', `${this.name}-${logical}`);
      case 'AWS::SecretsManager::Secret': return this.arn('secretsmanager', `secret:${this.prop(logical, 'Name', logical)}-AbCdEf`);
      case 'AWS::Logs::LogGroup': return this.prop(logical, 'LogGroupName', logical);
      case 'AWS::S3::Bucket': return this.prop(logical, 'BucketName', `${this.name}-${logical}`.toLowerCase());
      default: return logical;
    }
  }

  getAtt(logical, attribute) {
    const r = this.resource(logical);
    switch (`${r.Type}.${attribute}`) {
      case 'AWS::SQS::Queue.QueueName': return this.prop(logical, 'QueueName', `${this.name}-${logical}`);
      case 'AWS::SQS::Queue.Arn': return this.arn('sqs', this.getAtt(logical, 'QueueName'));
      case 'AWS::SQS::Queue.QueueUrl': return this.ref(logical);
      case 'AWS::SNS::Topic.TopicArn': return this.arn('sns', this.prop(logical, 'TopicName', `${this.name}-${logical}`));
      case 'AWS::SNS::Topic.TopicName': return this.prop(logical, 'TopicName', `${this.name}-${logical}`);
      case 'AWS::DynamoDB::Table.Arn': return this.arn('dynamodb', `table/${this.ref(logical)}`);
      case 'AWS::KMS::Key.Arn': return this.arn('kms', `key/${this.ref(logical)}`);
      case 'AWS::KMS::Key.KeyId': return this.ref(logical);
      case 'AWS::IAM::Role.Arn': return `arn:aws:iam::${this.account}:role/${this.ref(logical)}`;
      case 'AWS::Logs::LogGroup.Arn': return this.arn('logs', `log-group:${this.ref(logical)}:*`);
      case 'AWS::Events::Rule.Arn': return this.arn('events', `rule/${this.prop(logical, 'Name', logical)}`);
      case 'AWS::S3::Bucket.Arn': return `arn:aws:s3:::${this.ref(logical)}`;
      default: return `${logical}.${attribute}`;
    }
  }

  sub(text, vars = {}) {
    return text.replace(/\$\{([^}!][^}]*)\}/g, (_, name) => {
      if (name in vars) return String(vars[name]);
      if (name.includes('.') && !name.startsWith('AWS::')) {
        const [logical, ...attr] = name.split('.');
        return String(this.getAtt(logical, attr.join('.')));
      }
      return String(this.ref(name));
    });
  }

  /** The value CloudFormation makes of `v`. */
  resolve(v) {
    if (Array.isArray(v)) return v.map((x) => this.resolve(x)).filter((x) => x !== NO_VALUE);
    if (v === null || typeof v !== 'object') return v;
    const keys = Object.keys(v);
    if (keys.length === 1) {
      const [k] = keys;
      const a = v[k];
      switch (k) {
        case 'Ref': return this.ref(a);
        case 'Condition': return this.condition(a);
        case 'Fn::GetAtt': return this.getAtt(...(Array.isArray(a) ? a : a.split('.')));
        case 'Fn::Sub': {
          if (typeof a === 'string') return this.sub(a);
          const vars = Object.fromEntries(Object.entries(a[1]).map(([n, x]) => [n, this.resolve(x)]));
          return this.sub(a[0], vars);
        }
        case 'Fn::If': return this.resolve(this.condition(a[0]) ? a[1] : a[2]);
        case 'Fn::Equals': return JSON.stringify(this.resolve(a[0])) === JSON.stringify(this.resolve(a[1]));
        case 'Fn::Not': return !this.resolve(a[0]);
        case 'Fn::And': return a.every((x) => this.resolve(x));
        case 'Fn::Or': return a.some((x) => this.resolve(x));
        case 'Fn::Join': return this.resolve(a[1]).join(a[0]);
        case 'Fn::Select': return this.resolve(a[1])[Number(this.resolve(a[0]))];
        case 'Fn::Split': return String(this.resolve(a[1])).split(a[0]);
        case 'Fn::ImportValue': {
          const name = this.resolve(a);
          if (!(name in this.imports)) throw new Error(`import ${name} is not exported by the stacks given`);
          return this.imports[name];
        }
        default: break;
      }
    }
    const out = {};
    for (const [k, x] of Object.entries(v)) {
      const r = this.resolve(x);
      if (r !== NO_VALUE) out[k] = r;
    }
    return out;
  }

  /** The stack's exports: name -> value. */
  exports() {
    const out = {};
    for (const o of Object.values(this.t.Outputs ?? {})) {
      if (o.Export) out[this.resolve(o.Export.Name)] = this.resolve(o.Value);
    }
    return out;
  }

  /**
   * The policies of `logical` and the ARN of who holds them: a role's inline and attached managed policies,
   * or a managed policy alone (held by a person's role, named after the policy), or several managed policies
   * ("ResponderPolicy+IsoPolicy": held by one role, named after the last).
   */
  rolePolicies(logical) {
    if (logical.includes('+')) {
      const held = logical.split('+').map((l) => this.rolePolicies(l));
      return { arn: held[held.length - 1].arn, policies: held.flatMap((h) => h.policies) };
    }
    const role = this.resource(logical);
    if (role.Type === 'AWS::IAM::ManagedPolicy') {
      const name = this.resolve(role.Properties.ManagedPolicyName ?? logical);
      const policy = this.resolve(role.Properties.PolicyDocument);
      return { arn: `arn:aws:iam::${this.account}:role/${name}-holder`, policies: [{ name, policy }] };
    }
    if (role.Type !== 'AWS::IAM::Role') throw new Error(`${logical} is not a role or a managed policy`);
    const policies = (this.resolve(role.Properties.Policies ?? [])).map((p) => ({ name: p.PolicyName, policy: p.PolicyDocument }));
    for (const [id, r] of Object.entries(this.t.Resources)) {
      if (r.Type !== 'AWS::IAM::ManagedPolicy') continue;
      const roles = this.resolve(r.Properties.Roles ?? []);
      if (roles.includes(this.ref(logical))) policies.push({ name: id, policy: this.resolve(r.Properties.PolicyDocument) });
    }
    return { arn: this.getAtt(logical, 'Arn'), policies };
  }

  /** The resource policies of the stack (key policies, queue and topic policies), by resource ARN. */
  resourcePolicies() {
    const out = {};
    for (const [id, r] of Object.entries(this.t.Resources)) {
      const p = r.Properties ?? {};
      if (r.Type === 'AWS::KMS::Key') out[this.getAtt(id, 'Arn')] = this.resolve(p.KeyPolicy);
      if (r.Type === 'AWS::SQS::QueuePolicy') {
        for (const url of this.resolve(p.Queues)) {
          const [account, name] = new URL(url).pathname.split('/').filter(Boolean);
          out[`arn:aws:sqs:${this.region}:${account}:${name}`] = this.resolve(p.PolicyDocument);
        }
      }
      if (r.Type === 'AWS::SNS::TopicPolicy') {
        for (const arn of this.resolve(p.Topics)) out[arn] = this.resolve(p.PolicyDocument);
      }
    }
    return out;
  }

  /** The KMS key ARN that encrypts each queue, topic and table of the stack (SSE-KMS), by resource ARN. */
  encryptedBy() {
    const out = {};
    for (const [id, r] of Object.entries(this.t.Resources)) {
      if (r.Type === 'AWS::DynamoDB::Table') {
        const key = r.Properties?.SSESpecification?.KMSMasterKeyId;
        if (key) out[this.getAtt(id, 'Arn')] = this.resolve(key);
        continue;
      }
      const key = r.Properties?.KmsMasterKeyId;
      if (!key) continue;
      const arn = r.Type === 'AWS::SQS::Queue' ? this.getAtt(id, 'Arn') : this.getAtt(id, 'TopicArn');
      out[arn] = this.resolve(key);
    }
    return out;
  }
}
