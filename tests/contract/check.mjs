#!/usr/bin/env node
// Contract test: checks every HTTP exchange that the end-to-end tests
// recorded (tests/e2e/lib.py, MEMDB_CONTRACT_LOG) against the OpenAPI
// document, and that the tests exercised all of it.  Prints TAP.
//
//   node tests/contract/check.mjs LOG SPEC
//
// For each recorded response:
//   - its path and method must be an operation of the spec, and its status
//     one documented there, with a documented Content-Type, the required
//     headers (each header the spec defines must match its schema), and a
//     body valid against the JSON schema (bodies over 256 KiB are not kept);
//   - a path the spec lacks may only get 404, a method a path lacks only
//     405 with Allow naming the path's methods, and either may get the
//     protocol errors that every operation documents (400, 408, ...);
//   - an answer to a request that did not even parse must be an error
//     object (the exchange is otherwise skipped);
//   - an answer to HEAD has no body (an error too: the JSON error object
//     it stands for is not checked);
//   - GET /openapi.yaml must be this very document.
// Then coverage: every (path, method, status) the spec documents must have
// been seen at least once, and a 404 and a 405 as well (skipped when the
// end-to-end run was filtered).  The examples in the spec are checked
// against their schemas too.
//
// ajv, ajv-formats and yaml come from tools/node_modules (npm ci --prefix
// tools).
import { createRequire } from 'node:module';
import { readFileSync, existsSync } from 'node:fs';

const require = createRequire(new URL('../../tools/package.json',
                                      import.meta.url));
const YAML = require('yaml');
const Ajv2020 = require('ajv/dist/2020').default;
const addFormats = require('ajv-formats').default;

const [logPath, specPath] = process.argv.slice(2);
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch',
                 'trace'];
const MAX_DIAG = 25;

let n = 0;
const plan = 5;
console.log(`1..${plan}`);
function ok(cond, name, diags = [], skip = null) {
  n++;
  if (skip) {
    console.log(`ok ${n} - ${name} # SKIP ${skip}`);
    return;
  }
  console.log(`${cond ? 'ok' : 'not ok'} ${n} - ${name}`);
  for (const d of diags.slice(0, MAX_DIAG))
    console.log(`# ${String(d).replace(/\n/g, '\n# ')}`);
  if (diags.length > MAX_DIAG)
    console.log(`# ... and ${diags.length - MAX_DIAG} more`);
}
function bail(msg) {
  while (n < plan)
    ok(false, msg);
  process.exit(1);
}

// ---- the spec -------------------------------------------------------------
let spec, specText;
try {
  specText = readFileSync(specPath, 'utf8');
  spec = YAML.parse(specText);
} catch (e) {
  bail(`cannot read ${specPath}: ${e.message}`);
}

const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats(ajv);
ajv.addSchema(spec, 'memdb-openapi');

const esc = (s) => s.replace(/~/g, '~0').replace(/\//g, '~1');
// Follows a local $ref ("#/components/...") to [object, JSON pointer].
function deref(obj, ptr) {
  while (obj && obj.$ref) {
    ptr = obj.$ref.slice(1);
    obj = ptr.split('/').slice(1)
      .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
      .reduce((o, k) => o[k], spec);
  }
  return [obj, ptr];
}
const validators = new Map();
function validator(ptr) {
  if (!validators.has(ptr))
    validators.set(ptr, ajv.compile({ $ref: `memdb-openapi#${ptr}` }));
  return validators.get(ptr);
}
const fmtErrors = (errs) => (errs || []).slice(0, 3)
  .map((e) => `${e.instancePath || '/'} ${e.message}`).join('; ');

// operations: "METHOD path" -> { statuses: Map(code -> [response, ptr]) }
const ops = new Map();
const pathMethods = new Map();
let compileErrors = [];
for (const [path, item] of Object.entries(spec.paths || {})) {
  const methods = [];
  for (const m of METHODS) {
    const op = item[m];
    if (!op)
      continue;
    methods.push(m.toUpperCase());
    const statuses = new Map();
    for (const [code, r] of Object.entries(op.responses || {})) {
      const base = `/paths/${esc(path)}/${m}/responses/${code}`;
      const [resp, ptr] = deref(r, base);
      statuses.set(code, [resp, ptr]);
      for (const [ct, media] of Object.entries(resp.content || {})) {
        if (!media.schema)
          continue;
        try {
          validator(`${ptr}/content/${esc(ct)}/schema`);
        } catch (e) {
          compileErrors.push(`${m.toUpperCase()} ${path} ${code} ${ct}: ` +
                             e.message);
        }
      }
    }
    ops.set(`${m.toUpperCase()} ${path}`, { path, method: m, statuses });
  }
  pathMethods.set(path, methods);
}
// The protocol errors: the error statuses every operation documents.
const protocol = [...ops.values()]
  .map((o) => new Set([...o.statuses.keys()].filter((c) => c >= '400')))
  .reduce((a, b) => new Set([...a].filter((c) => b.has(c))));
const errorPtr = '/components/schemas/Error';
ok(ops.size > 0 && compileErrors.length === 0,
   `the spec has ${ops.size} operations and its schemas compile ` +
   `(protocol errors: ${[...protocol].join(' ')})`, compileErrors);

// ---- the examples ---------------------------------------------------------
const exampleErrors = [];
let nExamples = 0;
function checkExample(value, schemaPtr, where) {
  nExamples++;
  const v = validator(schemaPtr);
  if (!v(value))
    exampleErrors.push(`${where}: ${fmtErrors(v.errors)}`);
}
for (const { path, method, statuses } of ops.values()) {
  for (const [code, [resp, ptr]] of statuses) {
    for (const [ct, media] of Object.entries(resp.content || {})) {
      const sp = `${ptr}/content/${esc(ct)}/schema`;
      const where = `${method.toUpperCase()} ${path} ${code}`;
      if (!media.schema)
        continue;
      if ('example' in media)
        checkExample(media.example, sp, where);
      for (const [name, ex] of Object.entries(media.examples || {}))
        checkExample(deref(ex, '')[0].value, sp, `${where} (${name})`);
    }
  }
}
ok(exampleErrors.length === 0,
   `${nExamples} response examples match their schemas`, exampleErrors);

// ---- the recorded exchanges ----------------------------------------------
if (!existsSync(logPath))
  bail(`no exchanges recorded: ${logPath} is missing (run tests/e2e/run.sh ` +
       `with MEMDB_CONTRACT_LOG set first)`);
const lines = readFileSync(logPath, 'utf8').split('\n').filter(Boolean);
let run = 'partial';
const seen = new Set();
let seen404 = false, seen405 = false, skipped = 0, truncated = 0, checked = 0;
const problems = new Map();          // message -> count
function problem(ex, msg) {
  const key = `${ex.method} ${ex.path} -> ${ex.status}: ${msg}`;
  problems.set(key, (problems.get(key) || 0) + 1);
}

function checkBody(ex, schemaPtr, ct) {
  if (ex.truncated !== undefined) {
    truncated++;
    return;
  }
  if (ex.body === undefined) {
    problem(ex, 'the body is not UTF-8');
    return;
  }
  let value = ex.body;
  if (ct === 'application/json') {
    try {
      value = JSON.parse(ex.body);
    } catch (e) {
      problem(ex, `the body is not JSON: ${JSON.stringify(ex.body.slice(0, 80))}`);
      return;
    }
  }
  const v = validator(schemaPtr);
  if (!v(value))
    problem(ex, `the body does not match ${schemaPtr}: ${fmtErrors(v.errors)}` +
            ` in ${JSON.stringify(ex.body.slice(0, 160))}`);
}

// An error object of status code (404, 405, protocol errors, unparsed);
// to HEAD, its header fields alone.
function checkErrorBody(ex) {
  const ct = (ex.headers['content-type'] || '').split(';')[0].trim();
  if (ct !== 'application/json') {
    problem(ex, `Content-Type ${ct || '(none)'} for an error`);
    return;
  }
  if (ex.method === 'HEAD') {
    if (ex.body)
      problem(ex, 'a body in an answer to HEAD');
    return;
  }
  checkBody(ex, errorPtr, ct);
  try {
    if (JSON.parse(ex.body).status !== ex.status)
      problem(ex, 'the error object has another status');
  } catch (e) { /* reported by checkBody */ }
}

function headerValue(schema, v) {
  if (schema && schema.type === 'integer' && /^[0-9]+$/.test(v))
    return Number(v);
  return v;
}

// The spec's path a request path is an instance of: itself, or a path
// with {parameters}, each one whole segment.
const templates = [...pathMethods.keys()].filter((p) => p.includes('{'))
  .map((p) => [p, new RegExp('^' + p.replace(/[.*+?^$()|[\]\\]/g, '\\$&')
    .replace(/\{[^}]+\}/g, '[^/]+') + '$')]);
function templatePath(path) {
  if (pathMethods.has(path))
    return path;
  const t = templates.find(([, re]) => re.test(path));
  return t ? t[0] : path;
}

for (const line of lines) {
  let ex;
  try {
    ex = JSON.parse(line);
  } catch (e) {
    problems.set(`a line of ${logPath} is not JSON`, 1);
    continue;
  }
  if (ex.run) {
    run = ex.run;
    continue;
  }
  checked++;
  if (ex.method === 'HEAD' && ex.body)
    problem(ex, 'a body in an answer to HEAD');
  if (ex.method === null) {           // the request did not even parse
    skipped++;
    checkErrorBody(ex);
    continue;
  }
  const status = String(ex.status);
  ex.path = templatePath(ex.path);
  const op = ops.get(`${ex.method} ${ex.path}`);
  if (!op) {
    const methods = pathMethods.get(ex.path);
    if (protocol.has(status)) {
      checkErrorBody(ex);
    } else if (!methods) {
      if (status === '404')
        seen404 = true;
      else
        problem(ex, 'a path the spec lacks');
      checkErrorBody(ex);
    } else {
      if (status === '405') {
        seen405 = true;
        if (ex.headers.allow !== methods.join(', '))
          problem(ex, `Allow: ${ex.headers.allow}, not ${methods.join(', ')}`);
      } else {
        problem(ex, `${ex.method} is not an operation of ${ex.path}`);
      }
      checkErrorBody(ex);
    }
    continue;
  }
  const entry = op.statuses.get(status);
  if (!entry) {
    problem(ex, 'status not documented for this operation');
    continue;
  }
  seen.add(`${ex.method} ${ex.path} ${status}`);
  const [resp, ptr] = entry;
  for (const [name, h] of Object.entries(resp.headers || {})) {
    const [hdr, hptr] = deref(h, `${ptr}/headers/${esc(name)}`);
    const v = ex.headers[name.toLowerCase()];
    if (v === undefined) {
      if (hdr.required)
        problem(ex, `no ${name} header`);
      continue;
    }
    if (hdr.schema) {
      const val = validator(`${hptr}/schema`);
      if (!val(headerValue(hdr.schema, v)))
        problem(ex, `header ${name}: ${v}: ${fmtErrors(val.errors)}`);
    }
  }
  const content = resp.content || {};
  const ct = (ex.headers['content-type'] || '').split(';')[0].trim();
  if (Object.keys(content).length === 0) {
    if (ex.body)
      problem(ex, 'a body where the spec has none');
    continue;
  }
  if (!(ct in content)) {
    problem(ex, `Content-Type ${ct || '(none)'} is not one of ` +
            Object.keys(content).join(', '));
    continue;
  }
  if (content[ct].schema)
    checkBody(ex, `${ptr}/content/${esc(ct)}/schema`, ct);
  if (ex.path === '/openapi.yaml' && status === '200'
      && ex.body !== undefined && ex.body !== specText)
    problem(ex, `the document served is not ${specPath}`);
}

const diags = [...problems].map(([k, c]) => (c > 1 ? `${k} (${c} times)` : k));
ok(problems.size === 0 && checked > 0,
   `${checked} recorded responses match the spec (${skipped} to requests ` +
   `that did not parse, ${truncated} bodies too long to keep)`,
   checked > 0 ? diags : [`no exchanges in ${logPath}`]);

// ---- coverage -------------------------------------------------------------
const missing = [];
let documented = 0, nMissing = 0;
for (const { path, method, statuses } of ops.values()) {
  const codes = [];
  for (const code of statuses.keys()) {
    documented++;
    if (!seen.has(`${method.toUpperCase()} ${path} ${code}`))
      codes.push(code);
  }
  nMissing += codes.length;
  if (codes.length)
    missing.push(`never seen: ${method.toUpperCase()} ${path} ${codes.join(' ')}`);
}
const partial = run !== 'full' ? 'the end-to-end run was filtered' : null;
ok(nMissing === 0,
   `every documented status of every operation was seen ` +
   `(${documented - nMissing} of ${documented})`, missing, partial);
ok(seen404 && seen405, 'an unknown path (404) and a wrong method (405) were seen',
   [seen404 ? '' : 'no 404 seen', seen405 ? '' : 'no 405 seen'].filter(Boolean),
   partial);
