#!/usr/bin/python3
# ts.py T0 : prefix each stdin line with seconds since epoch T0, flushed per line (console logs)
import sys, time
t0 = float(sys.argv[1]) if len(sys.argv) > 1 else time.time()
buf = b""
inp = sys.stdin.buffer
while True:
    d = inp.read1(4096)
    if not d:
        break
    buf += d
    while b"\n" in buf:
        line, buf = buf.split(b"\n", 1)
        sys.stdout.write("[%8.3f] %s\n" % (time.time() - t0, line.decode("utf-8", "replace").rstrip("\r")))
        sys.stdout.flush()
if buf:
    sys.stdout.write("[%8.3f] %s\n" % (time.time() - t0, buf.decode("utf-8", "replace")))
