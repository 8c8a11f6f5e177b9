#!/usr/bin/python3
"""summary.py PXERIG_DIR MODE RESULT CAPTURE T0 T_END CONSOLE HTTP_PORT [--json OUT]

Per-mode timeline of a fleetboot e2e boot, from the tcpdump capture taken on the LAN bridge
(parsed by pxe-rig's phases.py) and the VM's console log (ts.py timestamps). Times are seconds
since QEMU started. Prints the detailed DHCP/TFTP/HTTP tables, then one line:

  MODE RESULT total=.. | fw_dhcp=a-b | pre_loader_wait=.. | loader=<tftp files> | ipxe_dhcp=.. |
  script=<boot.ipxe fetch> | payload=<kernel+initrd> | kernel=.. | os_dhcp=.. | callback=linux@x,done@y
"""
import json
import os
import re
import sys

PAYLOAD_MIN = 500000


def main():
    a = sys.argv[1:]
    if len(a) < 8:
        raise SystemExit(__doc__)
    rig, mode, result, cap, t0, tend, console, port = a[:8]
    jout = a[a.index("--json") + 1] if "--json" in a else None
    sys.path.insert(0, rig)
    import phases  # noqa: E402  (pxe-rig's stdlib-only pcap reader)
    phases.HTTP_PORTS.clear()
    phases.HTTP_PORTS.add(int(port))
    t0 = float(t0)
    tend = float(tend) - t0
    ev = phases.analyse(cap, t0) if os.path.exists(cap) and os.path.getsize(cap) > 24 else {"dhcp": [], "tftp": [], "http": []}
    out = {"mode": mode, "result": result, "total": "%.2f" % tend}
    d = ev["dhcp"]
    # classify exchanges by what the CLIENT sent (replies echo the vendor class, not the user class)
    def xids(pred):
        out = []
        for x in d:
            if x["type"] in ("DISCOVER", "REQUEST") and pred(x) and x["xid"] not in out:
                out.append(x["xid"])
        return out
    fw = xids(lambda x: x.get("vendor", "").startswith("PXEClient") and not x.get("userclass", "").startswith("iPXE"))
    ipxe = xids(lambda x: x.get("userclass", "").startswith("iPXE"))
    osx = xids(lambda x: not x.get("vendor", "").startswith("PXEClient"))

    def span(xid):
        same = [x for x in d if x["xid"] == xid]
        acks = [x for x in same if x["type"] == "ACK"]
        return "%.2f-%s" % (same[0]["t"], ("%.2f" % acks[0]["t"]) if acks else "noACK")

    # firmware DHCP: plain PXE firmware (OVMF) if there is one, else the iPXE ROM's first exchange
    first = (fw or ipxe or [None])[0]
    if first:
        out["fw_dhcp"] = span(first) + ("" if fw else " (iPXE ROM)")
    small = [x for x in ev["tftp"] if x["bytes"] < PAYLOAD_MIN]
    if small:
        out["tftp"] = ",".join("%s:%dB@%.2f-%.2f%s" % (x["file"], x["bytes"], x["start"], x["end"], "" if x["status"] == "data" else "(" + x["status"] + ")") for x in small)
    later = [x for x in ipxe if x != first]
    if later:  # a chainloaded iPXE (snponly/undionly) configured itself again
        out["ipxe_dhcp"] = ",".join(span(x) for x in later)
    reqs = [(r["t"], r["line"], c) for c in ev["http"] for r in c["requests"]]
    scr = [r for r in reqs if "/boot.ipxe" in r[1]]
    if scr:
        out["script"] = "http@" + ",".join("%.2f" % r[0] for r in scr)
        # the iPXE that fetched the script: its DHCP ACK -> the script request. ~0 normally; iPXE
        # spends ~16 s here waiting for IPv6 autoconf when no router advertisement arrives
        acks = [x["t"] for x in d if x["xid"] in ipxe and x["type"] == "ACK" and x["t"] <= scr[0][0]]
        if acks:
            out["ipxe_ack_to_script"] = "%.2f" % (scr[0][0] - max(acks))
    big = [c for c in ev["http"] if c["resp_bytes"] >= PAYLOAD_MIN]
    bigt = [x for x in ev["tftp"] if x["bytes"] >= PAYLOAD_MIN]
    if big or bigt:
        # start at the first asset request (the connection may have carried boot.ipxe first)
        st = min([min([r["t"] for r in c["requests"] if "/assets/" in r["line"]] or [c["syn"]]) for c in big] + [x["start"] for x in bigt])
        en = max([c.get("last_data", c["end"]) for c in big] + [x["end"] for x in bigt])
        by = sum(c["resp_bytes"] for c in big) + sum(x["bytes"] for x in bigt)
        out["payload"] = "%s %.1fMB %.2f-%.2f (%.1f MB/s)" % ("http" if big else "tftp", by / 1e6, st, en, by / 1e6 / max(en - st, 1e-3))
    if os.path.exists(console):
        with open(console, errors="replace") as f:
            for line in f:
                m = re.match(r"\[\s*([0-9.]+)\]", line)
                if m and "Linux version" in line and "kernel" not in out:
                    out["kernel"] = "%.2f" % float(m.group(1))
    if osx:
        out["os_dhcp"] = span(osx[0])
    cbs = []
    for t, line, _ in reqs:
        m = re.search(r"/progress\?stage=([A-Za-z0-9_.:-]+)", line)
        if m:
            cbs.append("%s@%.2f" % (m.group(1), t))
    out["callback"] = ",".join(cbs) or "none"
    keys = ["fw_dhcp", "tftp", "ipxe_dhcp", "ipxe_ack_to_script", "script", "payload", "kernel", "os_dhcp", "callback"]
    line = "%s %s total=%ss | " % (mode, result, out["total"]) + " | ".join("%s=%s" % (k, out[k]) for k in keys if k in out)
    print("DHCP (t = s since QEMU start):")
    for x in d:
        print("  %8.3f %-8s xid=%s mac=%s %s%s%s%s" % (x["t"], x["type"], x["xid"], x["mac"],
              ("vendor=%s " % x["vendor"]) if "vendor" in x else "", ("userclass=%s " % x["userclass"]) if "userclass" in x else "",
              ("yiaddr=%s " % x["yiaddr"]) if x["type"] in ("OFFER", "ACK") else "",
              ("bootfile=%s" % x["bootfile"]) if "bootfile" in x and x["type"] in ("OFFER", "ACK") else ""))
    print("TFTP:")
    for x in ev["tftp"]:
        print("  %8.3f -> %8.3f %9d B  %-20s req=%s oack=%s %s" % (x["start"], x["end"], x["bytes"], x["file"], x["req_opts"], x["oack"], x["status"]))
    print("HTTP:")
    for c in ev["http"]:
        print("  %8.3f -> %8.3f %9d B  %s" % (c["syn"], c.get("last_data", c["end"]), c["resp_bytes"],
              "; ".join(re.sub(r"/i/[^/]+/", "/i/<token>/", r["line"]) for r in c["requests"])[:150]))
    print("TIMELINE: " + line)
    if jout:
        with open(jout, "w") as f:
            json.dump({"line": line, "fields": out}, f, indent=1)


if __name__ == "__main__":
    main()
