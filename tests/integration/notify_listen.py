# notify_listen.py SOCKET OUT — the service manager's side of sd_notify, for
# scenario 57: binds a unix datagram socket at SOCKET (a path, or @name in
# the abstract namespace) and appends each datagram it receives to OUT,
# followed by a line "--". Runs until killed.
import os
import socket
import sys

name, out = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("\0" + name[1:] if name.startswith("@") else name)
with open(out + ".ready", "w"):
    pass
while True:
    data = s.recv(4096)
    with open(out, "ab") as f:
        f.write(data + b"\n--\n")
