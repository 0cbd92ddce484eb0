#!/usr/bin/env python3
# ARP prober, run inside the lab's client namespace: the check that does not rest on chime-ha's
# own definition of "VIP on a host". Every `every_ms` it broadcasts an ARP request for each VIP
# (raw AF_PACKET socket on `iface`) and collects the replies to that round. One line per VIP and
# round, when the round closes:
#   <wall-clock ms of the request> <vip index> <distinct MACs that answered> <mac,mac,...>
# Two MACs in one round: two hosts answer for one VIP at the same time.
import socket, struct, sys, time, select

iface, every_ms, *vips = sys.argv[1:]
every = int(every_ms) / 1000.0
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0806))
s.bind((iface, 0))
mac = s.getsockname()[4]
with open(f"/sys/class/net/{iface}/address") as f:
    mac = bytes.fromhex(f.read().strip().replace(":", ""))
# Our IPv4 address on iface (sender protocol address of the requests).
import fcntl
ip = fcntl.ioctl(socket.socket(socket.AF_INET, socket.SOCK_DGRAM), 0x8915, struct.pack("256s", iface.encode()[:15]))[20:24]
targets = [socket.inet_aton(v) for v in vips]

def request(tpa):
    eth = b"\xff" * 6 + mac + b"\x08\x06"
    arp = struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + mac + ip + b"\x00" * 6 + tpa
    return eth + arp

round_t = None
answers = [set() for _ in vips]
def close_round():
    if round_t is None:
        return
    for i, macs in enumerate(answers):
        sys.stdout.write(f"{round_t} {i} {len(macs)} {','.join(sorted(macs))}\n")
    sys.stdout.flush()

next_at = time.monotonic()
while True:
    now = time.monotonic()
    if now >= next_at:
        close_round()
        round_t = int(time.time() * 1000)
        answers = [set() for _ in vips]
        for tpa in targets:
            s.send(request(tpa))
        next_at += every
        if next_at < now:
            next_at = now + every
    r, _, _ = select.select([s], [], [], max(0.0, next_at - time.monotonic()))
    if not r:
        continue
    frame = s.recv(128)
    if len(frame) < 42 or frame[12:14] != b"\x08\x06":
        continue
    op = struct.unpack("!H", frame[20:22])[0]
    sha, spa, tpa = frame[22:28], frame[28:32], frame[38:42]
    if op != 2 or tpa != ip:
        continue
    for i, t in enumerate(targets):
        if spa == t:
            answers[i].add(sha.hex(":"))
