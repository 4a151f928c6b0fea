// The permission check LocalStack cannot fool, for one role: `node tests/iam/check.mjs SPEC.json` evaluates
// the spec (see evaluate.mjs) and prints {role, decisions, errors} as JSON. tests/support/iam.rs runs it.

import fs from 'node:fs';
import { evaluate } from './evaluate.mjs';

const spec = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
process.stdout.write(`${JSON.stringify(await evaluate(spec), null, 1)}\n`);
