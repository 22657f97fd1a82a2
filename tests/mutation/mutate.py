#!/usr/bin/env python3
"""mutate.py — mutation testing for runbook: plants each bug of
tests/mutation/mutants.txt, one at a time, in a scratch copy of the source,
builds it and runs the normal suite (ctest); a mutant the suite fails on is
caught, one it passes is a bug no test notices.

Owns: the mutant list's format (tests/mutation/README.md) and the scratch
copy. Must never: write into the source tree it was started from (every
mutant is planted in the scratch copy only), call a mutant caught when the
suite also fails without it, or call one caught when it did not build.

Usage:
  mutate.py check              the list is well-formed: every substitution's
                               text is in its file exactly once, every patch
                               applies (ctest mutation.list runs this)
  mutate.py list               names and what a user would lose
  mutate.py run [NAME…]        plant, build, run the suite; print the score
Env: JOBS (default 2), MUTATION_KEEP=1 keeps the scratch folder,
MUTATION_ALL=1 runs each mutant's suite to the end and names every test
that caught it (by default the suite stops at its first failure).
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.abspath(os.path.join(HERE, "..", ".."))
LIST = os.path.join(HERE, "mutants.txt")


class Mutant:
    def __init__(self, name, line, base):
        self.name, self.line, self.base = name, line, base
        self.file = self.lose = self.patch = None
        self.find, self.repl = [], []

    def files(self):
        """The source files the mutant changes (relative to the top)."""
        if not self.patch:
            return [self.file]
        out = []
        with open(os.path.join(self.base, self.patch), encoding="utf-8") as f:
            for l in f:
                if l.startswith("+++ "):
                    p = l[4:].split("\t")[0].strip()
                    out.append(p[2:] if p.startswith("b/") else p)
        return out


def parse(path=LIST):
    """The mutants of the list, and the problems of its shape."""
    mutants, errors, cur = [], [], None
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    for no, raw in enumerate(lines, 1):
        shown = os.path.relpath(os.path.abspath(path), SRC)
        where = "%s:%d" % (path if shown.startswith("..") else shown, no)
        m = re.fullmatch(r"\[([^\]]*)\]\s*", raw)
        if m:
            cur = Mutant(m.group(1), where, os.path.dirname(os.path.abspath(path)))
            if re.fullmatch(r"[a-z0-9][a-z0-9-]*", m.group(1)):
                mutants.append(cur)
            else:
                # its lines still belong to it, not to the mutant before
                errors.append("%s: [%s]: a name is lower case letters, digits and dashes"
                              % (where, m.group(1)))
            continue
        if raw.startswith("-") and (raw == "-" or raw.startswith("- ")):
            target = "find"
        elif raw.startswith("+") and (raw == "+" or raw.startswith("+ ")):
            target = "repl"
        else:
            target = None
        if target:
            if cur is None:
                errors.append("%s: a substitution line before any [name]" % where)
                continue
            getattr(cur, target).append(raw[2:])
            continue
        s = raw.strip()
        if not s or s.startswith("#"):
            continue
        m = re.fullmatch(r"(file|lose|patch):\s*(.*\S)", s)
        if not m:
            errors.append("%s: not a [name], a key (file:, lose:, patch:) or a -/+ line: %s"
                          % (where, s))
            continue
        if cur is None:
            errors.append("%s: %s: before any [name]" % (where, m.group(1)))
            continue
        if getattr(cur, m.group(1)) is not None:
            errors.append("%s: %s: given twice for %s" % (where, m.group(1), cur.name))
        setattr(cur, m.group(1), m.group(2))
    seen = set()
    for mu in mutants:
        if mu.name in seen:
            errors.append("%s: the name %s is used twice" % (mu.line, mu.name))
        seen.add(mu.name)
        if not mu.file:
            errors.append("%s: %s: no file:" % (mu.line, mu.name))
        if not mu.lose:
            errors.append("%s: %s: no lose: (what a user would lose)" % (mu.line, mu.name))
        if mu.patch and (mu.find or mu.repl):
            errors.append("%s: %s: both patch: and -/+ lines" % (mu.line, mu.name))
        if not mu.patch and not mu.find:
            errors.append("%s: %s: neither patch: nor - lines" % (mu.line, mu.name))
        if mu.find and mu.find == mu.repl:
            errors.append("%s: %s: the + lines are the - lines: it changes nothing"
                          % (mu.line, mu.name))
    return mutants, errors


def check_one(mu, top):
    """None when mu applies to the tree at top, else why not."""
    if mu.patch:
        pf = os.path.join(mu.base, mu.patch)
        if not os.path.isfile(pf):
            return "patch %s does not exist" % mu.patch
        if mu.file not in mu.files():
            return "patch %s does not change its file: %s" % (mu.patch, mu.file)
        r = subprocess.run(["patch", "-p1", "--dry-run", "--batch", "-f", "-d", top, "-i", pf],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if r.returncode != 0:
            return "patch %s does not apply cleanly: %s" % (
                mu.patch, " / ".join(r.stdout.strip().split("\n")[-2:])[:300])
        if re.search(r"(?i)fuzz", r.stdout):
            return "patch %s applies only with fuzz: refresh it" % mu.patch
        return None
    path = os.path.join(top, mu.file)
    if not os.path.isfile(path):
        return "file %s does not exist" % mu.file
    with open(path, encoding="utf-8") as f:
        n = f.read().count("\n".join(mu.find))
    if n != 1:
        return "the - text is in %s %d times, not once" % (mu.file, n)
    return None


def apply(mu, top):
    if mu.patch:
        subprocess.run(["patch", "-p1", "--batch", "-f", "-s", "-d", top, "-i",
                        os.path.join(mu.base, mu.patch)], check=True, stdout=subprocess.DEVNULL)
        return
    path = os.path.join(top, mu.file)
    with open(path, encoding="utf-8") as f:
        text = f.read()
    with open(path, "w", encoding="utf-8") as f:
        f.write(text.replace("\n".join(mu.find), "\n".join(mu.repl), 1))


def cmd_check(args):
    """check [--list FILE] [--top DIR]: another list or tree (the self-test)."""
    opts = {"--list": LIST, "--top": SRC}
    while len(args) >= 2 and args[0] in opts:
        opts[args[0]] = args[1]
        args = args[2:]
    if args:
        print("usage: mutate.py check [--list FILE] [--top DIR]", file=sys.stderr)
        return 2
    mutants, errors = parse(opts["--list"])
    for mu in mutants:
        why = None if not (mu.file and (mu.find or mu.patch)) else check_one(mu, opts["--top"])
        if why:
            errors.append("%s: %s: %s" % (mu.line, mu.name, why))
    for e in errors:
        print("FAIL " + e)
    print("%d mutants, %d problems" % (len(mutants), len(errors)))
    return 1 if errors else 0


def copy_tree(dst):
    """The source as the developer has it (tracked and new files, not the
    ignored builds), plus the schema checker's node modules when present,
    so that the copy needs no network."""
    try:
        out = subprocess.run(["git", "-C", SRC, "ls-files", "-z", "--cached", "--others",
                              "--exclude-standard"], check=True, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL).stdout
        files = [p for p in out.decode().split("\0") if p]
    except (OSError, subprocess.CalledProcessError):
        files = None
    if files is None:
        shutil.copytree(SRC, dst, symlinks=True, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("build", "build-*", ".git", "node_modules"))
    else:
        for p in files:
            s = os.path.join(SRC, p)
            if not os.path.lexists(s):
                continue  # deleted in the working tree
            os.makedirs(os.path.dirname(os.path.join(dst, p)), exist_ok=True)
            shutil.copy2(s, os.path.join(dst, p), follow_symlinks=False)
    nm = os.path.join(SRC, "tests", "schema", "node_modules")
    if os.path.isdir(nm):
        shutil.copytree(nm, os.path.join(dst, "tests", "schema", "node_modules"), symlinks=True)


def sh(cmd, log, cwd=None):
    with open(log, "a") as f:
        f.write("$ %s\n" % " ".join(cmd))
        f.flush()
        return subprocess.run(cmd, cwd=cwd, stdout=f, stderr=subprocess.STDOUT).returncode


def build(top, jobs, log):
    b = os.path.join(top, "build")
    return sh(["cmake", "-S", top, "-B", b], log) == 0 and \
        sh(["cmake", "--build", b, "-j", str(jobs)], log) == 0


def suite(top, jobs, log, fast):
    """The names of the tests that failed (empty: all passed)."""
    b = os.path.join(top, "build")
    failed_log = os.path.join(b, "Testing", "Temporary", "LastTestsFailed.log")
    if os.path.exists(failed_log):
        os.remove(failed_log)
    # mutation.list reads the list against the copy it runs in, where the
    # planted mutant's text is gone: it would "catch" every mutant. The
    # valgrind.* tests are the unit tests again, twenty times slower.
    cmd = ["ctest", "-j", str(jobs), "--output-on-failure", "-E", r"^(mutation|valgrind)\."] + \
        (["--stop-on-failure"] if fast else [])
    if fast:
        # ctest starts the slowest tests first by their recorded cost; a
        # suite that stops at its first failure finds it sooner in the
        # declared order, where the quick unit and spec tests come first.
        cost = os.path.join(b, "Testing", "Temporary", "CTestCostData.txt")
        if os.path.exists(cost):
            os.remove(cost)
    rc = sh(cmd, log, cwd=b)
    names = []
    if os.path.exists(failed_log):
        with open(failed_log) as f:
            names = [l.strip().split(":", 1)[-1] for l in f if l.strip()]
    if rc != 0 and not names:
        names = ["(ctest exit %d)" % rc]
    return names


def cmd_run(only):
    mutants, errors = parse()
    if errors:
        for e in errors:
            print("FAIL " + e)
        return 2
    if only:
        unknown = set(only) - {m.name for m in mutants}
        if unknown:
            print("mutate.py: no mutant named %s" % ", ".join(sorted(unknown)), file=sys.stderr)
            return 2
        mutants = [m for m in mutants if m.name in only]
    jobs = int(os.environ.get("JOBS", "2"))
    fast = os.environ.get("MUTATION_ALL") != "1"
    scratch = tempfile.mkdtemp(prefix="runbook-mutation.")
    keep = [False]  # set where the scratch copy is worth reading afterwards
    try:
        return run_in(mutants, jobs, fast, scratch, keep)
    except KeyboardInterrupt:
        print("\nmutation: interrupted; the scratch copy is removed", file=sys.stderr)
        keep[0] = False
        return 130
    finally:
        if not keep[0]:
            shutil.rmtree(scratch, ignore_errors=True)


def run_in(mutants, jobs, fast, scratch, keep):
    top = os.path.join(scratch, "src")
    log = os.path.join(scratch, "mutation.log")
    t0 = time.time()
    print("mutation: %d mutants; scratch copy and log in %s" % (len(mutants), scratch), flush=True)
    copy_tree(top)
    for mu in mutants:
        why = check_one(mu, top)
        if why:
            print("mutation: %s: %s (tests/mutation/README.md)" % (mu.name, why))
            return 2
    if not build(top, jobs, log):
        keep[0] = True
        print("mutation: the unmutated copy does not build; see %s" % log)
        return 2
    failed = suite(top, jobs, log, False)
    if failed:
        keep[0] = True
        print("mutation: the suite fails without any mutant (%s): nothing can be judged; see %s"
              % (", ".join(failed), log))
        return 2
    print("mutation: baseline builds and passes (%.0fs)" % (time.time() - t0), flush=True)
    caught, survived, broken = [], [], []
    for mu in mutants:
        t1 = time.time()
        pristine = {p: open(os.path.join(top, p), "rb").read() for p in mu.files()}
        with open(log, "a") as f:
            f.write("\n==== mutant %s\n" % mu.name)
        apply(mu, top)
        try:
            if not build(top, jobs, log):
                broken.append(mu)
                verdict = "NO BUILD"
            else:
                failed = suite(top, jobs, log, fast)
                if failed:
                    caught.append(mu)
                    verdict = "caught   by " + " ".join(failed)
                else:
                    survived.append(mu)
                    verdict = "SURVIVED — " + mu.lose
        finally:
            for p, data in pristine.items():
                with open(os.path.join(top, p), "wb") as f:
                    f.write(data)
        print("%-28s %s (%.0fs)" % (mu.name, verdict, time.time() - t1), flush=True)
    # leave the copy built as it was, so that a kept scratch folder is usable
    build(top, jobs, log)
    n = len(mutants)
    print("mutation score: %d/%d caught, %d survived, %d did not build; %.0f s"
          % (len(caught), n, len(survived), len(broken), time.time() - t0))
    if os.environ.get("MUTATION_KEEP") == "1" or survived or broken:
        keep[0] = True
        print("mutation: kept %s (its log says what each suite printed)" % scratch)
    return 0 if not survived and not broken else 1


def main(argv):
    if len(argv) >= 2 and argv[1] in ("-h", "--help"):
        print(__doc__.strip())
        return 0
    if len(argv) >= 2 and argv[1] == "check":
        return cmd_check(argv[2:])
    if len(argv) == 2 and argv[1] == "list":
        mutants, errors = parse()
        for mu in mutants:
            print("%-28s %s" % (mu.name, mu.lose))
        return 1 if errors else 0
    if len(argv) >= 2 and argv[1] == "run":
        return cmd_run(argv[2:])
    print("usage: mutate.py check | list | run [NAME…] (--help)", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
