#!/usr/bin/python3
"""qmon.py SOCKET (--key KEY | --type TEXT | --cmd HMP)...

Types on the VM's keyboard through QEMU's human monitor (-monitor unix:SOCKET,server,nowait):
`sendkey` injects PS/2 key presses, which SeaBIOS and iPXE read like a real keyboard. Used by
bios-undionly to reach the iPXE ROM's shell (Ctrl-B) and type a chainload command.
"""
import socket
import sys
import time

SHIFTED = {'!': '1', '@': '2', '#': '3', '$': '4', '%': '5', '^': '6', '&': '7', '*': '8', '(': '9', ')': '0',
           '_': 'minus', '+': 'equal', '{': 'bracket_left', '}': 'bracket_right', ':': 'semicolon', '"': 'apostrophe',
           '<': 'comma', '>': 'dot', '?': 'slash', '|': 'backslash', '~': 'grave_accent'}
PLAIN = {' ': 'spc', '-': 'minus', '=': 'equal', '[': 'bracket_left', ']': 'bracket_right', ';': 'semicolon',
         "'": 'apostrophe', ',': 'comma', '.': 'dot', '/': 'slash', '\\': 'backslash', '`': 'grave_accent', '\n': 'ret'}


def keyname(ch):
    if ch.isalpha() and ch.isascii():
        return ('shift-' + ch.lower()) if ch.isupper() else ch
    if ch.isdigit():
        return ch
    if ch in PLAIN:
        return PLAIN[ch]
    if ch in SHIFTED:
        return 'shift-' + SHIFTED[ch]
    raise SystemExit('qmon.py: cannot type %r' % ch)


def main():
    a = sys.argv[1:]
    if len(a) < 3:
        raise SystemExit(__doc__)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(a[0])
    s.settimeout(0.1)

    def drain():
        try:
            while s.recv(65536):
                pass
        except (socket.timeout, BlockingIOError):
            pass

    def hmp(cmd):
        s.sendall((cmd + '\n').encode())
        time.sleep(0.01)

    drain()
    i = 1
    while i < len(a):
        op, val = a[i], a[i + 1]
        i += 2
        if op == '--key':
            hmp('sendkey ' + val)
        elif op == '--type':
            for ch in val.replace('\\n', '\n'):
                hmp('sendkey ' + keyname(ch))
        elif op == '--cmd':
            hmp(val)
        else:
            raise SystemExit(__doc__)
    drain()
    s.close()


if __name__ == '__main__':
    main()
