"""A client that requests an HTTP stream, reads its first bytes, then stops reading.

Usage: unread_stream_client.py PORT PATH

It announces a 1460-byte segment size (an Ethernet link's), as a client across a network
does: over loopback Linux would otherwise use 64 KB segments and size the server's send
buffer at about 4 MB from the start, enough to hold a whole test video unread.

Prints `stopped BYTES` once it has stopped reading, then waits for a line on stdin, reads
whatever is left until the server closes, and prints one JSON line: the status line, the
bytes received, whether the chunked body was terminated (a complete transfer) and the
error that ended it, if any.
"""
import json
import socket
import sys

port, path = int(sys.argv[1]), sys.argv[2]
sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, 1460)
sock.connect(('127.0.0.1', port))
sock.sendall(f'GET {path} HTTP/1.1\r\nHost: avatar\r\n\r\n'.encode())

received = b''
while b'\r\n\r\n' not in received or len(received) < 4096:
    chunk = sock.recv(4096)
    if not chunk:
        break
    received += chunk
print(f'stopped {len(received)}', flush=True)

sys.stdin.readline()
error = None
try:
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            break
        received += chunk
except OSError as e:
    error = type(e).__name__
head, _, body = received.partition(b'\r\n\r\n')
print(json.dumps({
    'status': head.split(b'\r\n', 1)[0].decode(errors='replace'),
    'bytes': len(received),
    'terminated': body.endswith(b'\r\n0\r\n\r\n'),
    'error': error,
}), flush=True)
