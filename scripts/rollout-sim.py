#!/usr/bin/python3
"""Plays the installers of a rollout's hosts against a running fleetboot, for trying rollouts
without hardware (docs/rollouts.md, "Try it without hardware").

Give the hosts `power: { driver: manual }` in the inventory and their role a cmdline with
{{ urls.progress }} (the token URL this script reports to): fleetboot's power step then only
records what a person would do, and this script does the rest through fleetboot's real HTTP
entry points, like firmware and an installer would: for every host the rollout has powered
(state "booting") it fetches /boot.ipxe?mac=<its MAC> (the installer is served: the run's token
is in the script), then reports progress to /i/<token>/progress: partitioning, done, up.

  scripts/rollout-sim.py --url http://127.0.0.1:8080 --token fb_... --rollout 3 \
      [--fail HOST,...] [--hang HOST,...] [--step SECONDS]

--fail: the installer reports "failed" (as a machine without a disk would). --hang: it stops
after partitioning (the install deadline fires). Exits when the rollout is final and no host it
played is still under way. Talks only to --url.
"""
import argparse
import json
import re
import sys
import threading
import time
import urllib.error
import urllib.request


def get(url, token=None, timeout=10, patience=60):
    """GET; connection errors (fleetboot restarting) are retried for `patience` seconds, as an
    installer's callbacks would be."""
    req = urllib.request.Request(url, headers={'Authorization': 'Bearer ' + token} if token else {})
    end = time.time() + patience
    while True:
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return r.read().decode()
        except urllib.error.HTTPError:
            raise
        except OSError:
            if time.time() > end:
                raise
            time.sleep(1)


def play(a, host, fail, hang, log):
    try:
        detail = json.loads(get('%s/api/v1/hosts/%s' % (a.url, host), a.token))
        mac = detail['host']['macs'][0]
        script = get('%s/boot.ipxe?mac=%s' % (a.url, mac))
        m = re.search(r'/i/([A-Za-z0-9_-]+)/', script)
        if not m:
            log('%s: no token URL in boot.ipxe: give the role a cmdline with {{ urls.progress }} (got %r)' % (host, script[:200]))
            return
        tok = m.group(1)
        cb = lambda stage: get('%s/i/%s/progress?stage=%s' % (a.url, tok, stage))
        log('%s: installer booted (mac %s)' % (host, mac))
        time.sleep(a.step)
        cb('partitioning')
        time.sleep(a.step)
        if hang:
            log('%s: hangs after partitioning' % host)
            return
        if fail:
            cb('failed')
            log('%s: installer reported failed' % host)
            return
        cb('done')
        time.sleep(a.step)
        cb('up')
        log('%s: up' % host)
    except Exception as e:  # one host's trouble is reported, the others go on
        log('%s: %s' % (host, e))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--url', required=True)
    ap.add_argument('--token', required=True)
    ap.add_argument('--rollout', required=True, type=int)
    ap.add_argument('--fail', default='')
    ap.add_argument('--hang', default='')
    ap.add_argument('--step', type=float, default=2.0)
    a = ap.parse_args()
    a.url = a.url.rstrip('/')
    fail, hang = set(filter(None, a.fail.split(','))), set(filter(None, a.hang.split(',')))
    lock = threading.Lock()

    def log(msg):
        with lock:
            print('%s %s' % (time.strftime('%H:%M:%S'), msg), flush=True)

    played = {}
    while True:
        try:
            r = json.loads(get('%s/api/v1/rollouts/%d' % (a.url, a.rollout), a.token))
        except OSError as e:  # the daemon is restarting: try again
            log('fleetboot: %s' % e)
            time.sleep(1)
            continue
        for w in r['waves']:
            for h in w['hosts']:
                key = (h['host'], h['attempt'])
                if h['state'] == 'booting' and key not in played:
                    t = threading.Thread(target=play, args=(a, h['host'], h['host'] in fail, h['host'] in hang, log), daemon=True)
                    played[key] = t
                    t.start()
        final = r['state'] in ('completed', 'stopped-budget', 'stopped-canary', 'aborted')
        if final and not any(t.is_alive() for t in played.values()):
            under_way = [h['host'] for w in r['waves'] for h in w['hosts'] if h['state'] in ('power', 'booting', 'installing', 'up-wait', 'health', 'retry')]
            if not under_way:
                log('rollout %d %s: %s' % (a.rollout, r['state'], r.get('reason')))
                return 0
        time.sleep(0.5)


if __name__ == '__main__':
    sys.exit(main())
