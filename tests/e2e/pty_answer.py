#!/usr/bin/env python3
"""pty_answer.py — runs a command on a real pseudo-terminal and answers its
questions, for the e2e tests of what `runbook run` asks at a terminal.

usage: pty_answer.py TRANSCRIPT TEXT=ANSWER... -- COMMAND [ARG...]

Each TEXT=ANSWER pair is taken in order: once TEXT has appeared in the
command's output (after the previous pair's), ANSWER and a newline are
typed. An ANSWER of "-" types nothing: the pair only waits for TEXT (a
question left to time out). Everything the command wrote goes to
TRANSCRIPT; the exit status is the command's (128+N for signal N). Gives
up after 60 s of silence, so a hang fails the test instead of blocking it.
"""
import os
import pty
import select
import sys
import time


def main():
    args = sys.argv[1:]
    transcript = args.pop(0)
    sep = args.index("--")
    pairs = [a.split("=", 1) for a in args[:sep]]
    cmd = args[sep + 1:]
    pid, fd = pty.fork()
    if pid == 0:
        os.execvp(cmd[0], cmd)
    out = b""
    seen = 0  # where the next pair's TEXT is looked for
    held = None  # (FILE, X): an answer typed once FILE exists
    quiet_since = time.monotonic()
    while True:
        if held and os.path.exists(held[0]):
            os.write(fd, held[1].encode() + b"\n")
            held = None
        while not held and pairs and pairs[0][0].encode() in out[seen:]:
            text, answer = pairs.pop(0)
            seen = out.index(text.encode(), seen) + len(text)
            if answer.startswith("wait:"):
                held = tuple(answer[5:].rsplit(":", 1))
                quiet_since = time.monotonic()
            elif answer != "-":
                os.write(fd, answer.encode() + b"\n")
        r, _, _ = select.select([fd], [], [], 0.05 if held else 60)
        if not r:
            if held and time.monotonic() - quiet_since < 120:
                continue
            os.kill(pid, 9)
            break
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    _, status = os.waitpid(pid, 0)
    with open(transcript, "wb") as f:
        f.write(out)
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


if __name__ == "__main__":
    sys.exit(main())
