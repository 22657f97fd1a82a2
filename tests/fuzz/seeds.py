#!/usr/bin/env python3
"""Extracts seed inputs for one fuzz target from the tree (tests/fuzz/README.md).

    seeds.py NAME SRC OUTDIR

Writes one file per distinct input (named by its SHA-1) into OUTDIR, from
runbooks/, tests/fixtures/, tests/spec/ and the here-documents of tests/e2e.
Nothing here is checked in: run.sh makes the seeds afresh every run.
"""
import glob
import hashlib
import json
import os
import re
import sys

name, src, out = sys.argv[1], sys.argv[2], sys.argv[3]


def files(*patterns):
    for p in patterns:
        yield from sorted(glob.glob(os.path.join(src, p), recursive=True))


def read(path):
    with open(path, 'rb') as f:
        return f.read()


def heredocs(path):
    """The bodies of the here-documents of a shell script."""
    text = read(path).decode('utf-8', 'replace')
    for m in re.finditer(r"<<-?\s*['\"]?(\w+)['\"]?[^\n]*\n(.*?)\n\s*\1\s*\n", text, re.S):
        yield m.group(2).encode()


def shell_strings(path):
    """Single-quoted shell words of a script (curl -d '…' payloads and the like)."""
    text = read(path).decode('utf-8', 'replace')
    for m in re.finditer(r"'([^'\n]{2,})'", text):
        yield m.group(1).encode()


def yaml_docs():
    for p in files('runbooks/**/*.yaml', 'runbooks/**/*.yml', 'tests/fixtures/**/*.yaml',
                   'tests/spec/**/*.yaml', 'tests/world/**/*.yaml'):
        yield read(p)
    for p in files('tests/e2e/*.sh', 'tests/world/*.sh'):
        for body in heredocs(p):
            if re.search(rb'^(name|steps|version):', body, re.M):
                yield body


def templates():
    for doc in yaml_docs():
        text = doc.decode('utf-8', 'replace')
        for m in re.finditer(r'"((?:[^"\\\n]|\\.)*\{\{(?:[^"\\\n]|\\.)*)"', text):
            yield m.group(1).encode()
        for m in re.finditer(r"'([^'\n]*\{\{[^'\n]*)'", text):
            yield m.group(1).encode()
        for m in re.finditer(r'^\s*(?:-\s+|[\w.-]+:\s+)([^"\'\n][^\n]*\{\{[^\n]*)$', text, re.M):
            yield m.group(1).encode()


def exprs():
    for t in templates():
        for m in re.finditer(rb'\{\{(.*?)\}\}', t):
            yield m.group(1).strip()
    for doc in yaml_docs():
        for m in re.finditer(rb'^\s*-?\s*(?:when|expect|until|unless|confirm):\s*(.+)$', doc, re.M):
            v = m.group(1).strip()
            if v[:1] in (b'"', b"'") and v[-1:] == v[:1]:
                v = v[1:-1]
            if v and v[:1] not in (b'|', b'>', b'{', b'['):
                yield v


def json_payloads(pattern):
    """JSON documents in the fixtures and the tests' payloads."""
    for p in files(pattern):
        yield read(p)
    for p in files('tests/e2e/*.sh', 'tests/e2e/*.py', 'tests/world/*.sh'):
        for s in list(heredocs(p)) + list(shell_strings(p)):
            s = s.strip()
            if s[:1] in (b'{', b'['):
                try:
                    json.loads(s)
                except ValueError:
                    continue
                yield s


def generic_requests():
    """TIMESTAMP \\n SIGNATURE \\n BODY (fuzz_generic.c): signed by the target
    ('S' first), unsigned, and with a signature that does not match."""
    for body in json_payloads('tests/fixtures/alertmanager/*.json'):
        yield b'S1700000000\n\n' + body
        yield b'\n\n' + body
    yield b'S1700000000\n\n'
    yield b'S1699999000\n\n{}'
    yield b'1700000000\nsha256=' + b'0' * 64 + b'\n{"a":1}'


def config_docs():
    for p in files('tests/e2e/*.sh', 'tests/world/*.sh', 'docs/*.md'):
        text = read(p)
        bodies = list(heredocs(p)) if p.endswith('.sh') else \
            [m.group(1) for m in re.finditer(rb'```ya?ml\n(.*?)```', text, re.S)]
        for body in bodies:
            if re.search(rb'^(listen|runbooks|journal|auth|tokens|webhooks?|inventory):', body, re.M):
                yield body
    for p in files('packaging/**/*.yaml', 'packaging/**/*.yml'):
        yield read(p)


def shell_values():
    for t in templates():
        yield t
    for s in (b'', b"'", b"''", b'\\', b'$(id)', b'`id`', b'a b', b'-n', b'%s%%', b'\n',
              b'\xff\xfe', b'"$HOME"', b"'\\''", b'*', b'~', b'!', b'#x'):
        yield s


def journal_events():
    """Event payloads as the journal stores them (tests/fixtures/journal)."""
    for p in files('tests/fixtures/journal/*.sql'):
        for m in re.finditer(rb"'(\{(?:[^']|'')*\})'", read(p)):
            yield m.group(1).replace(b"''", b"'")


SOURCES = {
    'load': yaml_docs,
    'expr': exprs,
    'template': templates,
    'shell_quote': shell_values,
    'alertmanager': lambda: json_payloads('tests/fixtures/alertmanager/*.json'),
    'generic': generic_requests,
    'config': config_docs,
    'journal': journal_events,
}

if name not in SOURCES:
    sys.exit(f'seeds.py: no seeds for target {name!r}')
seen = set()
for s in SOURCES[name]():
    if len(s) > 65536:
        continue
    h = hashlib.sha1(s).hexdigest()
    if h in seen:
        continue
    seen.add(h)
    with open(os.path.join(out, h), 'wb') as f:
        f.write(s)
