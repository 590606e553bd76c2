#!/usr/bin/env python3
"""tests/netsec/plain_client.py URL N... -- a plain client of a nactor node,
in Python with msgpack and raw sockets (no nng): speaks nng's SP-over-TCP
framing and the node protocol of docs/wire.md to an insecure node, looks
up the actor "adder" by name (WHEREIS; the answer comes back on the
node's own connection to the URL this client advertises and listens on),
then sends it one DATA frame per N with body [N].

Exit 0 when everything was sent, 1 on a protocol error."""
import os, socket, struct, sys, time
import msgpack

PAIR1 = 0x11
SP_HDR = b"\x00SP\x00" + struct.pack(">H", PAIR1) + b"\x00\x00"

def sp_open(sock):
    sock.sendall(SP_HDR)
    peer = recv_exact(sock, 8)
    if peer[:4] != b"\x00SP\x00":
        raise RuntimeError("not an SP peer")

def recv_exact(sock, n):
    b = b""
    while len(b) < n:
        c = sock.recv(n - len(b))
        if not c:
            raise RuntimeError("connection closed")
        b += c
    return b

def send_msg(sock, body):
    # pair1 header: hop count 0 (the receiver adds one)
    payload = struct.pack(">I", 0) + body
    sock.sendall(struct.pack(">Q", len(payload)) + payload)

def recv_msg(sock):
    n = struct.unpack(">Q", recv_exact(sock, 8))[0]
    return recv_exact(sock, n)[4:]  # drop the pair1 header

def frame(kind, obj=None):
    b = bytes([0xA8, 1, kind, 0])
    if obj is not None:
        b += msgpack.packb(obj, use_bin_type=True)
    return b

def payload(f, kind):
    if len(f) < 4 or f[0] != 0xA8 or f[2] != kind:
        raise RuntimeError("expected frame kind %d, got %r" % (kind, f[:4]))
    return msgpack.unpackb(f[4:], raw=False) if len(f) > 4 else None

def envelope(target, typ, body):
    # 48-byte header (docs/wire-format.md): magic, version, flags, type,
    # target, sender, corr, opid, deadline; then the msgpack body
    hdr = struct.pack("<BBHIQQQQQ", 0xA7, 1, 0, typ, target, 0, 0, 0, 0)
    env = hdr + msgpack.packb(body)
    return struct.pack("<I", len(env)) + env

def main():
    url, ns = sys.argv[1], [int(x) for x in sys.argv[2:]]
    host, port = url[len("tcp://"):].rsplit(":", 1)
    # listen for the node's connection back (answers come on it)
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(1)
    myurl = "tcp://127.0.0.1:%d" % ls.getsockname()[1]
    c = socket.create_connection((host, int(port)), timeout=10)
    sp_open(c)
    send_msg(c, frame(1, [1, 1, "pyclient", 2, os.urandom(32), myurl]))  # HELLO
    ch = payload(recv_msg(c), 2)  # CHALLENGE [proto, name, caps, nonce, mac]
    if ch[2] & 1:
        raise RuntimeError("node requires a secret; this client runs insecure")
    send_msg(c, frame(3, [b""]))  # AUTH [bin 0]
    payload(recv_msg(c), 4)       # OK
    # the node dials back: answer its handshake as a listener
    ls.settimeout(10)
    b, _ = ls.accept()
    b.settimeout(10)
    sp_open(b)
    hello = payload(recv_msg(b), 1)
    send_msg(b, frame(2, [1, "pyclient", 2, os.urandom(32), b""]))
    payload(recv_msg(b), 3)       # AUTH
    send_msg(b, frame(4))         # OK
    send_msg(c, frame(17, [1, "adder"]))  # WHEREIS
    while True:
        f = recv_msg(b)
        if f[2] == 18:            # WHEREIS_R [id, aid]
            wid, aid = payload(f, 18)
            break
        # PING or CREDIT frames may come first: ignore them
    if wid != 1 or aid == 0:
        raise RuntimeError("adder not found")
    data = bytes([0xA8, 1, 16, 0]) + b"".join(envelope(aid, 3, [n]) for n in ns)
    send_msg(c, data)
    # a body of the wrong shape: the actor reports it, the node keeps going
    send_msg(c, bytes([0xA8, 1, 16, 0]) + envelope(aid, 3, ["not a number"]))
    print("sent to %s (actor %#x): %s" % (hello[2], aid, ns))
    time.sleep(0.5)
    return 0

if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as e:
        print("plain_client: %s" % e, file=sys.stderr)
        sys.exit(1)
