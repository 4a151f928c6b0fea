// The permission check over the whole test suite: every AWS call that a daemon or a portal made on a test
// stack during the suite (recorded by tests/support/process.rs into DIR: <id>.jsonl, with <id>.json naming
// the stack and the process), evaluated against the daemon's role or the portal's task role of the
// templates. Calls on resources outside the test's stack (a test's own extra topics, a table a test names
// wrongly on purpose) are left out: no role of the templates is meant to reach them.
//
//   node tests/iam/suite.mjs DIR        (deploy/test.sh runs it after the tests)
//
// Prints one line per process and every denied request; exits 1 if any call was denied or not understood.

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { evaluate } from './evaluate.mjs';

const dir = process.argv[2];
const templates = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../deploy/cloudformation');
const ACCOUNT = '000000000000';
const REGION = 'us-east-1';

const runs = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.json')) : [];
let failed = 0;
let calls = 0;
let containing = 0;
for (const file of runs.sort()) {
  const about = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8'));
  const log = path.join(dir, file.replace(/\.json$/, '.jsonl'));
  if (!fs.existsSync(log)) continue;
  const core = {
    template: path.join(templates, 'gd-incidents.yaml'),
    name: about.stack,
    // As an operator deploys for that config: archiving allowed (some tests' daemons archive), and the
    // routes' and clients' topics the daemon may publish to.
    parameters: { ArchiveOnClose: 'true', StakeholderTopicArns: (about.stakeholder_topics ?? []).join(',') },
  };
  const stacks = about.process === 'portal'
    ? [core, {
      template: path.join(templates, 'gd-incidents-portal.yaml'),
      name: `${about.stack}-portal`,
      parameters: { CoreStackName: about.stack, StakeholderTopicArns: core.parameters.StakeholderTopicArns },
    }]
    : [core];
  const role = about.process === 'portal' ? { stack: 1, logical: 'TaskRole' } : { stack: 0, logical: 'DaemonRole' };
  const checks = [{ role, calls: log, ownOnly: true, stacks }];
  // A daemon's containment calls, made under the containment role (on any instance or user: ownOnly off).
  const contained = log.replace(/\.jsonl$/, '.containment');
  if (fs.existsSync(contained)) {
    // With the config's IP sets and quarantine bucket.
    const withRole = [{
      ...core,
      parameters: { ...core.parameters, Containment: 'true', WafIpSetArns: (about.waf_ip_sets ?? []).join(',') },
      // The bucket is named after the first part of the stack's id: gd-incidents-quarantine-<account>-<part>.
      physical: about.quarantine_bucket
        ? { 'AWS::StackId': `${about.quarantine_bucket.split('-').pop()}-0000-0000-0000-000000000000` }
        : {},
    }];
    checks.push({ role: { stack: 0, logical: 'ContainmentRole' }, calls: contained, ownOnly: false, stacks: withRole });
    containing += 1;
  }
  // Its containment calls in member accounts, under the member template's role there.
  const base = path.basename(log, '.jsonl');
  for (const f of fs.readdirSync(dir).filter((n) => n.startsWith(`${base}.member-`))) {
    const account = f.slice(`${base}.member-`.length);
    const member = {
      template: path.join(templates, 'gd-incidents-member.yaml'),
      name: 'gd-incidents-member',
      parameters: { ContainmentRoleArn: `arn:aws:iam::${ACCOUNT}:role/${about.stack}-${REGION}-containment` },
    };
    checks.push({ role: { stack: 0, logical: 'MemberRole' }, calls: path.join(dir, f), ownOnly: false, stacks: [member], account });
  }
  for (const check of checks) {
    // eslint-disable-next-line no-await-in-loop
    const result = await evaluate({ account: ACCOUNT, region: REGION, ...check });
    const denied = result.decisions.filter((d) => d.decision !== 'Allowed');
    calls += result.decisions.length;
    if (denied.length || result.errors.length) {
      failed += 1;
      process.stdout.write(`DENIED ${check.role.logical} of stack ${about.stack} (${path.basename(check.calls)}):\n`);
      for (const d of denied) process.stdout.write(`  ${d.action} on ${d.resource} (${d.call}): ${d.decision}\n`);
      for (const e of result.errors) process.stdout.write(`  not understood: ${JSON.stringify(e)}\n`);
    }
  }
}
process.stdout.write(`permission check: ${runs.length} daemon and portal processes (${containing} with containment calls), ${calls} distinct requests, ${failed} with denials\n`);
process.exit(failed ? 1 : 0);
