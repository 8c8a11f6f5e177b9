#!/bin/sh
# udhcpc event script of the installer environment: configures the lease (address, route,
# DNS) and records it for install.sh in /run/fb-lease.
case "$1" in
  deconfig)
    ip addr flush dev "$interface" 2>/dev/null
    ip link set "$interface" up ;;
  bound|renew)
    ip addr flush dev "$interface" 2>/dev/null
    ip addr add "$ip/${mask:-24}" dev "$interface"
    [ -n "$router" ] && for r in $router; do ip route add default via "$r" dev "$interface" 2>/dev/null && break; done
    : > /etc/resolv.conf
    for d in $dns; do echo "nameserver $d" >> /etc/resolv.conf; done
    echo "FB_LEASE_IF=$interface FB_LEASE_IP=$ip" > /run/fb-lease ;;
esac
exit 0
