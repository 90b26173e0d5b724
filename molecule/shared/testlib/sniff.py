"""Watches a host's TCP traffic to a port range from inside it (AF_PACKET, standard library only).

Copied to a test host and run there in the background:
    python3 sniff.py IFACE PORT_MIN PORT_MAX SECONDS OUT.json
It writes, per connection to the range (source address and port, destination port): the bytes
of payload seen, the first HEAD bytes in hex (a TLS record starts 16 03), and whether QEMU's
migration stream magic "QEVM" is among them, where a stream in clear text carries it. (Searched
only there: hundreds of MiB of ciphertext hold any given 4 bytes now and then.)
"""

import json
import socket
import struct
import sys
import time

ETH_P_ALL = 0x0003
CLEAR_MARKERS = {"QEVM": b"QEVM"}
HEAD = 96


def main():
    iface, low, high, seconds, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.ntohs(ETH_P_ALL))
    sock.bind((iface, 0))
    sock.settimeout(0.5)
    flows = {}
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            frame = sock.recv(65535)
        except socket.timeout:
            continue
        except KeyboardInterrupt:
            # The test is done with the move: SIGINT ends the watch early.
            break
        if len(frame) < 34 or frame[12:14] != b"\x08\x00":
            continue
        ip = frame[14:]
        header = (ip[0] & 0x0F) * 4
        if ip[9] != 6:
            continue
        tcp = ip[header:]
        sport, dport = struct.unpack("!HH", tcp[:4])
        if not low <= dport <= high:
            continue
        payload = tcp[(tcp[12] >> 4) * 4:]
        total = struct.unpack("!H", ip[2:4])[0]
        payload = payload[:max(0, total - header - (tcp[12] >> 4) * 4)]
        key = "%s:%d->%d" % (socket.inet_ntoa(ip[12:16]), sport, dport)
        flow = flows.setdefault(key, {"bytes": 0, "head": "", "clear": []})
        if payload:
            if len(flow["head"]) < 2 * HEAD:
                flow["head"] = (flow["head"] + payload.hex())[:2 * HEAD]
            flow["bytes"] += len(payload)
            head = bytes.fromhex(flow["head"])
            for name, marker in CLEAR_MARKERS.items():
                if marker in head and name not in flow["clear"]:
                    flow["clear"].append(name)
    with open(out, "w") as handle:
        json.dump(flows, handle)


if __name__ == "__main__":
    main()
