# A memcached client for test-compat-memcached: 20 sets, 20 gets, an incr,
# a delete and a multi-get over one connection; prints each command and
# its reply. Usage: python3 memcached-client.py PORT
import socket
import sys

s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
f = s.makefile("rwb")


def cmd(c, last):
    f.write(c.encode())
    f.flush()
    out = []
    while True:
        line = f.readline().decode().rstrip("\r\n")
        out.append(line)
        if line in last or line.endswith("ERROR") or not line:
            break
    print(c.strip().replace("\r\n", " | "), "->", " / ".join(out))


for i in range(20):
    v = str(i * 7)
    cmd(f"set key{i} 0 0 {len(v)}\r\n{v}\r\n", {"STORED"})
for i in range(20):
    cmd(f"get key{i}\r\n", {"END"})
cmd("incr key3 5\r\n", {"26"})
cmd("delete key4\r\n", {"DELETED", "NOT_FOUND"})
cmd("get key4 key5\r\n", {"END"})
f.write(b"quit\r\n")
f.flush()
