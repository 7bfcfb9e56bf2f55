"""A WebRTC peer written with aiortc (another implementation than the server's): it offers
to receive video and audio, negotiates through the WHEP-style route, opens the control data
channel, asks the avatar to speak, and reports what it decoded as one JSON line.

usage: aiortc_peer.py URL CODEC SECONDS TEXT [API_KEY] [OPTIONS_JSON]

OPTIONS_JSON (all optional):
  "drop": [[FROM_S, TO_S, SHARE], ...]  the server's media reaches the peer through a UDP relay
      that drops SHARE of the video RTP packets (and their retransmissions) between FROM_S and
      TO_S seconds after the start; the report gains "relayed": [[second, video bytes], ...]
  "send": [[AT_S, MESSAGE], ...]        more control messages, sent AT_S seconds after the start
  "speakAt": S                          when to send the speak message (default 1 s)
"""
import asyncio
import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import random
import re

import numpy as np
from aiortc import RTCPeerConnection, RTCRtpSender, RTCSessionDescription


class LossyRelay:
    """Carries the peer's packets to the server and back, dropping a share of the video RTP
    packets from the server while a drop window is open (DTLS, STUN and RTCP pass)."""

    def __init__(self, server, video_types, drop, t0):
        self.server, self.video_types, self.drop, self.t0 = server, video_types, drop, t0
        self.peer = None
        self.front = self.back = None
        self.relayed = {}

    async def start(self):
        loop = asyncio.get_event_loop()
        relay = self

        class Front(asyncio.DatagramProtocol):
            def datagram_received(self, data, addr):
                relay.peer = addr
                relay.back.sendto(data)

        class Back(asyncio.DatagramProtocol):
            def datagram_received(self, data, addr):
                relay.from_server(data)

        self.front, _ = await loop.create_datagram_endpoint(Front, local_addr=(self.server[0], 0))
        self.back, _ = await loop.create_datagram_endpoint(Back, local_addr=(self.server[0], 0), remote_addr=self.server)
        return self.front.get_extra_info("sockname")

    def from_server(self, data):
        if self.peer is None:
            return
        now = time.monotonic() - self.t0
        video = len(data) > 12 and 128 <= data[0] < 192 and (data[1] & 0x7F) in self.video_types
        if video:
            share = max([w[2] for w in self.drop if w[0] <= now < w[1]] or [0])
            if random.random() < share:
                return
            second = int(now)
            self.relayed[second] = self.relayed.get(second, 0) + len(data)
        self.front.sendto(data, self.peer)


def through_relay(sdp, relay_addr):
    """The answer with its ICE candidates replaced by one host candidate: the relay."""
    lines = sdp.split("\r\n")
    out, done = [], set()
    for line in lines:
        if line.startswith("a=candidate:"):
            parts = line.split(" ")
            key = parts[0]
            if key in done:
                continue
            done.add(key)
            parts[4], parts[5] = relay_addr[0], str(relay_addr[1])
            line = " ".join(parts[:8])
        out.append(line)
    return "\r\n".join(out)


def first_candidate(sdp):
    for m in re.finditer(r"^a=candidate:\S+ \d+ udp \d+ (\d+\.\d+\.\d+\.\d+) (\d+) typ host", sdp, re.M | re.I):
        return (m.group(1), int(m.group(2)))
    raise RuntimeError("the answer has no IPv4 UDP host candidate")


def video_payload_types(sdp):
    m = re.search(r"^m=video \d+ \S+ ([\d ]+)", sdp, re.M)
    return {int(t) for t in m.group(1).split()} if m else set()


async def main(url, codec, seconds, text, key, options):
    pc = RTCPeerConnection()
    video = pc.addTransceiver("video", direction="recvonly")
    pc.addTransceiver("audio", direction="recvonly")
    video.setCodecPreferences([c for c in RTCRtpSender.getCapabilities("video").codecs if c.mimeType.upper() == "VIDEO/" + codec])
    channel = pc.createDataChannel("control")
    report = {"videoFrames": 0, "width": 0, "height": 0, "audioFrames": 0, "events": [], "mouth": [], "audio": [], "face": [], "sizes": []}
    t0 = time.monotonic()

    async def read_video(track):
        while True:
            try:
                frame = await track.recv()
            except Exception:
                return
            report["videoFrames"] += 1
            report["width"], report["height"] = frame.width, frame.height
            size = "%dx%d" % (frame.width, frame.height)
            if size not in report["sizes"]:
                report["sizes"].append(size)
            y = frame.to_ndarray(format="gray")
            h, w = y.shape
            # The mouth of the built-in avatar: the lower middle of the picture.
            mouth = y[int(h * 0.55):int(h * 0.85), int(w * 0.3):int(w * 0.7)]
            report["mouth"].append([round(time.monotonic() - t0, 3), round(float(mouth.astype(np.float32).std()), 3)])
            # Mean colour of the middle of the picture (the face): Y, U, V.
            yuv = frame.to_ndarray(format="yuv420p")
            face = [y[h // 4:h * 3 // 4, w // 4:w * 3 // 4], yuv[h:h + h // 4, :].reshape(h // 2, w // 2)[h // 8:h * 3 // 8, w // 8:w * 3 // 8], yuv[h + h // 4:, :].reshape(h // 2, w // 2)[h // 8:h * 3 // 8, w // 8:w * 3 // 8]]
            report["face"].append([round(time.monotonic() - t0, 3)] + [round(float(p.mean()), 1) for p in face])

    async def read_audio(track):
        while True:
            try:
                frame = await track.recv()
            except Exception:
                return
            report["audioFrames"] += 1
            pcm = frame.to_ndarray().astype(np.float32)
            report["audio"].append([round(time.monotonic() - t0, 3), round(float(np.sqrt((pcm ** 2).mean())), 1)])

    @pc.on("track")
    def on_track(track):
        asyncio.ensure_future(read_video(track) if track.kind == "video" else read_audio(track))

    @channel.on("message")
    def on_message(message):
        if isinstance(message, str):
            event = json.loads(message)
            event["at"] = round(time.monotonic() - t0, 3)
            report["events"].append(event)

    @channel.on("open")
    def on_open():
        async def send_at(at, message):
            await asyncio.sleep(max(0, at - (time.monotonic() - t0)))
            channel.send(json.dumps(message))
        if text:
            asyncio.ensure_future(send_at(options.get("speakAt", 1.0), {"type": "speak", "text": text, "id": "u1"}))
        for at, message in options.get("send", []):
            asyncio.ensure_future(send_at(at, message))

    await pc.setLocalDescription(await pc.createOffer())
    headers = {"content-type": "application/sdp"}
    if key:
        headers["authorization"] = "Bearer " + key
    request = urllib.request.Request(url, data=pc.localDescription.sdp.encode(), headers=headers, method="POST")
    answer = await asyncio.get_event_loop().run_in_executor(None, lambda: urllib.request.urlopen(request, timeout=20))
    report["status"] = answer.status
    report["location"] = answer.headers.get("location")
    answer_sdp = answer.read().decode()
    relay = None
    if options.get("drop"):
        relay = LossyRelay(first_candidate(answer_sdp), video_payload_types(answer_sdp), options["drop"], t0)
        answer_sdp = through_relay(answer_sdp, await relay.start())
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer_sdp, type="answer"))
    await asyncio.sleep(seconds)
    if relay:
        report["relayed"] = sorted(relay.relayed.items())
    report["deleteStatus"] = await asyncio.get_event_loop().run_in_executor(None, lambda: delete(url, report["location"], key))
    report["deleteAgainStatus"] = await asyncio.get_event_loop().run_in_executor(None, lambda: delete(url, report["location"], key))
    await pc.close()
    print(json.dumps(report))


def delete(url, location, key):
    target = urllib.parse.urljoin(url, location)
    request = urllib.request.Request(target, headers={"authorization": "Bearer " + key} if key else {}, method="DELETE")
    try:
        return urllib.request.urlopen(request, timeout=10).status
    except urllib.error.HTTPError as e:
        return e.code


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2].upper(), float(sys.argv[3]), sys.argv[4], sys.argv[5] if len(sys.argv) > 5 else "", json.loads(sys.argv[6]) if len(sys.argv) > 6 else {}))
