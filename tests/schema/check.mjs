// check.mjs — validates runbook YAML files against the JSON Schema, the way an
// editor (yaml-language-server) would see them. Used by
// tests/e2e/schema_agreement.sh to cross-check `runbook validate`.
//
//   node check.mjs SCHEMA FILE...
//
// Prints one line per file: "ok FILE" or "reject FILE: <why>". A file the YAML
// parser cannot read is a reject too. Always exits 0 (the caller decides what
// a reject means) unless the schema itself cannot be loaded (exit 2).
import { readFileSync } from 'node:fs';
import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import { parseDocument } from 'yaml';

const [schemaPath, ...files] = process.argv.slice(2);
if (!schemaPath) {
    console.error('usage: node check.mjs SCHEMA FILE...');
    process.exit(2);
}

let validate;
try {
    const schema = JSON.parse(readFileSync(schemaPath, 'utf8'));
    const ajv = new Ajv({ allErrors: false, strict: true, strictRequired: false });
    addFormats(ajv);
    validate = ajv.compile(schema);
} catch (e) {
    console.error(`check.mjs: cannot load schema ${schemaPath}: ${e.message}`);
    process.exit(2);
}

const oneLine = (s) => String(s).replace(/\s+/g, ' ').trim();

function check(file) {
    let text;
    try {
        text = readFileSync(file, 'utf8');
    } catch (e) {
        return `cannot read: ${e.code || e.message}`;
    }
    // YAML 1.2 core schema, as yaml-language-server reads it. Duplicate keys
    // and alias bombs are errors.
    const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
    if (doc.errors.length > 0) {
        const e = doc.errors[0];
        // prettyErrors appends " at line L, column C:" and a code frame.
        const msg = String(e.message).split('\n')[0].replace(/:$/, '');
        return `YAML: ${oneLine(msg)}`;
    }
    let value;
    try {
        value = doc.toJS({ maxAliasCount: 100 });
    } catch (e) {
        return `YAML: ${oneLine(e.message)}`;
    }
    if (value === undefined) value = null;
    if (validate(value)) return null;
    const e = validate.errors[0];
    const extra = e.params && e.params.additionalProperty !== undefined
        ? ` "${e.params.additionalProperty}"`
        : e.params && e.params.allowedValues !== undefined
            ? ` ${JSON.stringify(e.params.allowedValues)}`
            : '';
    return `${e.instancePath || '/'} ${e.message}${extra}`;
}

for (const file of files) {
    const why = check(file);
    console.log(why === null ? `ok ${file}` : `reject ${file}: ${why}`);
}
process.exit(0);
