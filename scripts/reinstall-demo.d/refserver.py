# reference server for scripts/reinstall-demo (SERVER=reference, and the upstream relay of
# SERVER=fleetboot): runs in the ROOT network namespace but creates its listening sockets inside
# the server namespace (setns around socket creation), so it can reach the Debian mirror while
# the VM's LAN stays isolated. Python 3 stdlib only.
#   --mode install : /boot/*, /i/<token>/{answer,files/*} from --root, /i/<token>/progress,
#                    /mirror/debian/* cached under --cache (cold = empty dir), syslog on UDP
#   --mode relay   : plain pass-through of /* to --upstream (fleetboot's cache upstream)
import argparse, ctypes, http.server, os, socket, sys, threading, time, urllib.parse, urllib.request, shutil

lock = threading.Lock()
CLONE_NEWNET = 0x40000000

def in_netns(path, fn):
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    own = os.open("/proc/self/ns/net", os.O_RDONLY)
    tgt = os.open(path, os.O_RDONLY)
    try:
        if libc.setns(tgt, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns " + path)
        return fn()
    finally:
        if libc.setns(own, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns back")
        os.close(own); os.close(tgt)

def log(fh, msg):
    with lock:
        fh.write("%.3f %s\n" % (time.time(), msg)); fh.flush()

class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass

    def send_plain(self, code, body=b""):
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD": self.wfile.write(body)

    def do_HEAD(self): self.do_GET()

    def do_GET(self):
        a = self.server.args
        t0 = time.time()
        u = urllib.parse.urlsplit(self.path)
        path = urllib.parse.unquote(u.path)
        if ".." in path.split("/"):
            return self.send_plain(400)
        if a.mode == "relay":
            return self.proxy(a.upstream.rstrip("/") + self.path, None, t0)
        parts = path.split("/")
        if len(parts) == 4 and parts[1] == "i" and parts[3] == "progress":
            q = urllib.parse.parse_qs(u.query)
            stage = q.get("stage", ["?"])[0]; msg = q.get("message", [""])[0]
            with lock, open(a.callbacks, "a") as f:
                f.write("%.3f %s %s %s\n" % (time.time(), self.client_address[0], stage, msg))
            log(self.server.logfh, "PROGRESS %s %s" % (stage, msg))
            return self.send_plain(200, b"ok\n")
        if path.startswith("/mirror/debian/"):
            rest = path[len("/mirror/debian/"):]
            return self.proxy(a.upstream.rstrip("/") + "/" + urllib.parse.quote(rest), os.path.join(a.cache, rest), t0)
        f = os.path.join(a.root, path.lstrip("/"))
        if not os.path.isfile(f):
            log(self.server.logfh, "GET %s 404" % path)
            return self.send_plain(404)
        return self.send_file(f, path, t0, "FILE")

    def send_file(self, f, path, t0, kind):
        size = os.path.getsize(f)
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(size))
        self.end_headers()
        if self.command != "HEAD":
            with open(f, "rb") as fh:
                try: shutil.copyfileobj(fh, self.wfile, 1 << 20)
                except (BrokenPipeError, ConnectionResetError): pass
        log(self.server.logfh, "%s %s 200 bytes=%d secs=%.3f" % (kind, path, size, time.time() - t0))

    def proxy(self, url, cachefile, t0):
        if cachefile and os.path.isfile(cachefile):
            return self.send_file(cachefile, self.path, t0, "HIT")
        hdrs = {"User-Agent": "fleetboot-reinstall-demo"}
        if cachefile is None:  # relay: the cache's conditional/range requests go through as-is
            for h in ("If-Modified-Since", "If-None-Match", "Range", "If-Range"):
                if self.headers.get(h): hdrs[h] = self.headers[h]
        try:
            resp = urllib.request.urlopen(urllib.request.Request(url, headers=hdrs), timeout=60)
        except urllib.error.HTTPError as e:
            log(self.server.logfh, "MISS %s %d" % (self.path, e.code))
            if e.code == 304:
                self.send_response(304)
                for h in ("ETag", "Last-Modified", "Date"):
                    if e.headers.get(h): self.send_header(h, e.headers[h])
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            return self.send_plain(e.code)
        except Exception as e:
            log(self.server.logfh, "MISS %s 502 %s" % (self.path, e))
            return self.send_plain(502)
        length = resp.headers.get("Content-Length")
        self.send_response(resp.status)
        self.send_header("Content-Type", resp.headers.get("Content-Type", "application/octet-stream"))
        for h in ("ETag", "Last-Modified", "Content-Range", "Accept-Ranges"):
            if resp.headers.get(h): self.send_header(h, resp.headers[h])
        if length: self.send_header("Content-Length", length)
        else: self.send_header("Connection", "close"); self.close_connection = True
        self.end_headers()
        tmp = None
        if cachefile:
            os.makedirs(os.path.dirname(cachefile), exist_ok=True)
            tmp = open("%s.part%d" % (cachefile, threading.get_ident()), "wb")
        n = 0; ok = True
        try:
            while True:
                b = resp.read(1 << 16)
                if not b: break
                n += len(b)
                if tmp: tmp.write(b)
                if self.command != "HEAD":
                    try: self.wfile.write(b)
                    except (BrokenPipeError, ConnectionResetError): ok = False; self.command = "HEAD"
        except Exception as e:
            ok = False; log(self.server.logfh, "ABORT %s %s" % (self.path, e))
        if tmp:
            tmp.close()
            if ok or (length and n == int(length)): os.replace(tmp.name, cachefile)
            else: os.unlink(tmp.name)
        log(self.server.logfh, "MISS %s %d bytes=%d secs=%.3f" % (self.path, resp.status, n, time.time() - t0))

def syslog_loop(sock, out):
    with open(out, "a") as f:
        while True:
            data, addr = sock.recvfrom(65535)
            f.write("%.3f %s %s\n" % (time.time(), addr[0], data.decode("utf-8", "replace").rstrip("\n")))
            f.flush()

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", choices=["install", "relay"], default="install")
    ap.add_argument("--netns", required=True)
    ap.add_argument("--bind", default="10.99.0.1")
    ap.add_argument("--port", type=int, default=8080)
    ap.add_argument("--root", default=".")
    ap.add_argument("--cache", default="cache")
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--callbacks", default="/dev/null")
    ap.add_argument("--syslog-port", type=int, default=0)
    ap.add_argument("--syslog-out", default="/dev/null")
    a = ap.parse_args()
    http.server.ThreadingHTTPServer.daemon_threads = True
    srv = in_netns(a.netns, lambda: http.server.ThreadingHTTPServer((a.bind, a.port), H))
    srv.args = a
    srv.logfh = open(a.log, "a")
    if a.syslog_port:
        def mk():
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind((a.bind, a.syslog_port)); return s
        us = in_netns(a.netns, mk)
        threading.Thread(target=syslog_loop, args=(us, a.syslog_out), daemon=True).start()
    log(srv.logfh, "LISTEN %s:%d mode=%s upstream=%s" % (a.bind, a.port, a.mode, a.upstream))
    srv.serve_forever()

if __name__ == "__main__":
    main()
